"""Hyperprior image models: scale (Balle et al. 2018) and mean-scale (Minnen et al. 2018).

The transforms are the papers' (and CompressAI's ``bmshj2018-hyperprior``/``mbt2018-mean``):
four 5x5 stride-2 convs with GDN for the analysis ``g_a``, four transposed convs with IGDN for
the synthesis ``g_s``, and a hyper-analysis/hyper-synthesis pair around a factorized prior for
``z``. Two departures, both for coding on any machine:

- the hyper-synthesis uses ReLU (not LeakyReLU) and predicts scale *positions* on the coder's
  log grid (see :class:`~neurocodec.codecs.latent_codecs.GaussianConditionalLatentCodec`); it
  runs as an exact fixed-point net when coding, so every probability table is exact;
- one model serves every quality (variable rate): per-quality, per-channel gains scale ``y``
  before quantization and are undone before ``g_s`` (gain units, Cui et al. 2021), a
  per-quality offset of the scale positions calibrates the prior, and ``g_s`` scales and
  shifts its IGDN outputs per quality (:class:`QualitySynthesis`).

Exact: the symbols, the tables, ``y_hat``. Approximate: the float32 synthesis ``g_s`` (as in
CompressAI); on this machine it gives bit-identical pixels across thread counts and batch
composition (tested), which oneDNN's direct convolutions do but do not promise.
"""

from __future__ import annotations

import numpy as np
import torch
from compressai.layers import GDN
from torch import Tensor, nn

from neurocodec.codecs.latent_codecs import HyperpriorLatentCodec
from neurocodec.codecs.variable_rate import LatentCorrection, VariableRateHyperprior, conv, deconv
from neurocodec.entropy import Decoder

# Rate-distortion trade-off per quality (loss = lambda * 255^2 * MSE + bpp): CompressAI's MSE
# ladder (its qualities 1..7, about 0.12 to 1.25 bpp on Kodak for its mbt2018-mean) as our
# qualities 3..9, below it two more halvings, since our shorter-trained models spend more bits
# at the same lambda (CompressAI's 0.0018 gives our mbt2018-mean 0.29 bpp).
LAMBDAS = (0.00045, 0.0009, 0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932)
HYPER_DOWNSAMPLE = 4
STRIDE = 16 * HYPER_DOWNSAMPLE  # images are padded to a multiple of this


class Abs(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.abs()


class HyperpriorModel(VariableRateHyperprior):
    """Variable-rate codec model: analysis ``g_a``, float synthesis ``g_s`` and a hyperprior for
    ``M``-channel latents at 1/16 resolution; ``x`` in [0, 1], NCHW, sides multiple of 64.
    :func:`scale_hyperprior` and :func:`mean_scale_hyperprior` build the papers' models."""

    def __init__(self, g_a: nn.Module, g_s: nn.Module, hyper: HyperpriorLatentCodec, M: int):
        super().__init__(LAMBDAS, M, 0.5 * torch.log(torch.tensor(LAMBDAS) / LAMBDAS[len(LAMBDAS) // 2]))
        self.g_a, self.g_s, self.hyper = g_a, g_s, hyper
        self.register_buffer("inverse_gain", torch.ones(len(LAMBDAS), M))  # decoding multiplies, no exp

    def encode_latents(self, x: Tensor, quality: Tensor) -> Tensor:
        """Scaled latents ``y`` (before quantization); ``quality`` holds 0-based indexes per image."""
        return self.g_a(x) * self._gain(quality)

    def decode_latents(self, y_hat: Tensor, quality: Tensor) -> Tensor:
        """Float synthesis of scaled latents (training and encoder-side refinement)."""
        return self.g_s(y_hat / self._gain(quality), quality)

    @torch.no_grad()
    def update(self) -> None:
        """Freeze every decoder-side number: tables, the fixed-point h_s, offsets, inverse gains."""
        super().update()
        self.inverse_gain.copy_(torch.exp(-self.log_gain).half().float())  # as shipped (fp16)

    def restore_float(self) -> None:
        """Float h_s from the shipped fixed-point one (exported weights omit it)."""
        self.hyper.restore_float()

    @torch.no_grad()
    def decompress(self, decoder: Decoder, quality: int, height: int, width: int) -> np.ndarray:
        """uint8 NHWC pixels of a padded ``height`` x ``width`` image read from ``decoder``."""
        M = self.log_gain.shape[1]
        y_hat_fx = self.hyper.decompress(decoder, (1, M, height // 16, width // 16), self._offset_fx(quality))
        return self.synthesize(y_hat_fx, quality)

    @torch.no_grad()
    def synthesize(self, y_hat_fx: Tensor, quality: int) -> np.ndarray:
        """uint8 NHWC pixels from fixed-point ``y_hat`` (``hyper.frac_bits``): float32 ``g_s``."""
        y_hat = (y_hat_fx * 2.0**-self.hyper.frac_bits).float() * self.inverse_gain[quality][None, :, None, None]
        x_hat = self.g_s(y_hat.contiguous(memory_format=torch.channels_last), quality)
        pixels = torch.round(x_hat.clamp(0, 1) * 255).to(torch.uint8)
        return pixels.permute(0, 2, 3, 1).contiguous().numpy()


def gdn_analysis(N: int, M: int) -> nn.Sequential:
    """Four 5x5 stride-2 convs with GDN between them: 16x down."""
    return nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


class QualitySynthesis(nn.Sequential):
    """A synthesis whose IGDN outputs are scaled and shifted per quality and channel
    (conditional convolutions, Choi et al. 2019): one decoder that can still tune itself to each
    rate. Starts as the identity (scale 1, shift 0), so weights without it decode unchanged."""

    def __init__(self, *layers: nn.Module, num_qualities: int):
        super().__init__(*layers)
        widths = [m.beta.shape[0] for m in layers if isinstance(m, GDN)]
        (width,) = set(widths)  # every IGDN is as wide
        self.quality_scale = nn.Parameter(torch.ones(num_qualities, len(widths), width))
        self.quality_shift = nn.Parameter(torch.zeros(num_qualities, len(widths), width))

    def forward(self, y: Tensor, quality: Tensor | int) -> Tensor:
        scale, shift = self.quality_scale[quality], self.quality_shift[quality]
        if scale.dim() == 2:  # one quality for the whole batch
            scale, shift = scale[None], shift[None]
        k = 0
        for layer in self:
            y = layer(y)
            if isinstance(layer, GDN):
                y = torch.addcmul(shift[:, k, :, None, None], y, scale[:, k, :, None, None])  # one pass
                k += 1
        return y


def gdn_synthesis(N: int, M: int) -> QualitySynthesis:
    """Four 5x5 stride-2 transposed convs with IGDN between them, modulated per quality: 16x up."""
    return QualitySynthesis(deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
                            deconv(N, N), GDN(N, inverse=True), deconv(N, 3), num_qualities=len(LAMBDAS))


def hyperprior(h_a: nn.Module, h_s: nn.Sequential, z_channels: int, M: int, means: bool) -> HyperpriorLatentCodec:
    """The hyperprior for M-channel latents; h_s starts at scales about 1 (positions ~ 19 on the
    0.11 * 1.13**t grid)."""
    with torch.no_grad():
        h_s[-1].bias[:M].fill_(19.0)
    return HyperpriorLatentCodec(h_a, h_s, z_channels, HYPER_DOWNSAMPLE, means=means)


def scale_hyperprior(N: int = 128, M: int = 192) -> HyperpriorModel:
    """Balle et al. 2018: h_a sees ``|y|``, h_s predicts scales, means are 0."""
    h_a = nn.Sequential(Abs(), conv(M, N, 3, 1), nn.ReLU(), conv(N, N), nn.ReLU(), conv(N, N))
    h_s = nn.Sequential(deconv(N, N), nn.ReLU(), deconv(N, N), nn.ReLU(), conv(N, M, 3, 1))
    return HyperpriorModel(gdn_analysis(N, M), gdn_synthesis(N, M), hyperprior(h_a, h_s, N, M, False), M)


def mean_scale_hyperprior(N: int = 128, M: int = 192) -> HyperpriorModel:
    """Minnen et al. 2018 (without the autoregressive context): h_s predicts scales and means.
    The encoder ends in a :class:`~neurocodec.codecs.variable_rate.LatentCorrection` of 128 hidden
    channels (encoder side only; the identity for weights that have none)."""
    h_a = nn.Sequential(conv(M, N, 3, 1), nn.LeakyReLU(), conv(N, N), nn.LeakyReLU(), conv(N, N))
    h_s = nn.Sequential(deconv(N, M), nn.ReLU(), deconv(M, M * 3 // 2), nn.ReLU(), conv(M * 3 // 2, 2 * M, 3, 1))
    model = HyperpriorModel(gdn_analysis(N, M), gdn_synthesis(N, M), hyperprior(h_a, h_s, N, M, True), M)
    model.correction = LatentCorrection(M, len(LAMBDAS), hidden=128)
    return model
