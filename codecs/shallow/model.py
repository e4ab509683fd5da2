"""Shallow-decoder networks (Yang & Mandt, ICCV 2023): a heavy encoder, a linear synthesis.

:class:`JpegLikeModel` is the "JPEG-like" codec: its synthesis is one transposed conv with
kernel and stride 16, so every latent vector becomes one 16x16 RGB patch (an affine map). It
starts as JPEG does, which is what lets it learn on a CPU in minutes:

- analysis = YCbCr + orthonormal 16x16 block DCT as a stride-16 conv, plus a residual CNN whose
  last layer starts at zero (so training begins at the DCT and refines from there);
- synthesis = the exact inverse (inverse DCT, then YCbCr -> RGB), learned from there;
- variable rate: per-quality, per-channel gains (learned quantization step sizes, as in JPEG's
  quantization tables or Cui et al.'s gain units) scale the latents before quantization and
  are undone before the synthesis; one model serves every quality;
- a mean-scale hyperprior codes the latents, with a learned per-quality, per-channel offset of
  its scale positions (the hyper-synthesis need not infer the quality from z).

Decoding is exact: :meth:`JpegLikeModel.decode_exact` runs the hyper-synthesis, the inverse
gains and the synthesis in fixed point (see :mod:`neurocodec.codecs.latent_codecs`).

:func:`two_layer_model` is the "two-layer" codec: the same variable-rate mean-scale hyperprior
machinery as ``mbt2018-mean`` (:class:`~neurocodec.codecs.hyperprior.model.HyperpriorModel`;
exact tables, float32 synthesis) with :class:`TwoLayerSynthesis` as the decoder.
"""

from __future__ import annotations

import numpy as np
import torch
from compressai.layers import GDN
from torch import Tensor, nn

from neurocodec.codecs.hyperprior.model import HyperpriorModel, mean_scale_hyperprior
from neurocodec.codecs.latent_codecs import FixedPointNet, HyperpriorLatentCodec, requantize, to_fixed
from neurocodec.codecs.variable_rate import VariableRateHyperprior, conv, deconv
from neurocodec.entropy import Decoder

PATCH = 16
LATENT = 3 * PATCH * PATCH  # a complete (invertible) transform of each 16x16 RGB patch
HYPER_DOWNSAMPLE = 4
STRIDE = PATCH * HYPER_DOWNSAMPLE  # images are padded to a multiple of this
# Rate-distortion trade-off per quality (loss = lambda * 255^2 * MSE + bpp), low to high rate.
LAMBDAS = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.048, 0.09)
# Initial uniform quantization step per quality, in units of [0, 1] pixel values.
INITIAL_STEPS = tuple(0.18 * (0.025 / 0.18) ** (i / (len(LAMBDAS) - 1)) for i in range(len(LAMBDAS)))

GAIN_BITS = 16  # fixed-point inverse gains
LATENT_BITS = 12  # dequantized latents entering the exact synthesis
PIXEL_BITS = 16  # synthesis output (in [0, 1] units) before rounding to 8-bit pixels

_YCBCR = np.array([[0.299, 0.587, 0.114],
                   [-0.168735892, -0.331264108, 0.5],
                   [0.5, -0.418687589, -0.081312411]])


def dct_matrix(n: int = PATCH) -> np.ndarray:
    """Orthonormal DCT-II matrix ``D[k, i]`` (rows are basis vectors)."""
    k, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    d[0] /= np.sqrt(2)
    return d


def jpeg_like_transforms() -> tuple[torch.Tensor, torch.Tensor]:
    """Weights of the forward transform (YCbCr, then 2-D block DCT per channel) as a
    ``Conv2d(3, LATENT, 16, 16)`` and of its exact inverse as a ``ConvTranspose2d(LATENT, 3, 16, 16)``."""
    d = dct_matrix()
    basis = np.einsum("ui,vj->uvij", d, d).reshape(PATCH * PATCH, PATCH, PATCH)  # orthonormal
    forward = np.einsum("cr,bij->cbrij", _YCBCR, basis).reshape(LATENT, 3, PATCH, PATCH)
    inverse = np.einsum("rc,bij->cbrij", np.linalg.inv(_YCBCR), basis).reshape(LATENT, 3, PATCH, PATCH)
    return torch.tensor(forward, dtype=torch.float32), torch.tensor(inverse, dtype=torch.float32)


class JpegLikeModel(VariableRateHyperprior):
    """Variable-rate JPEG-like shallow codec; ``x`` in [0, 1], NCHW, sides multiple of 64."""

    def __init__(self, refine: tuple[int, ...] = (64, 128, 192), hyper: int = 192, z_channels: int = 128):
        super().__init__(LAMBDAS, LATENT, -torch.log(torch.tensor(INITIAL_STEPS)))
        forward, inverse = jpeg_like_transforms()
        self.analysis = nn.Conv2d(3, LATENT, PATCH, PATCH)
        self.synthesis = nn.ConvTranspose2d(LATENT, 3, PATCH, PATCH)
        with torch.no_grad():
            self.analysis.weight.copy_(forward)
            self.analysis.bias.zero_()
            self.synthesis.weight.copy_(inverse)
            self.synthesis.bias.fill_(0.5)
        widths = (3,) + refine
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [conv(cin, cout, 5 if cin == 3 else 3, 2), nn.GELU()]
        layers.append(conv(widths[-1], LATENT, 3, 2))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.refine = nn.Sequential(*layers)  # 16x down, starts at zero
        self.register_buffer("inv_gain_fx", torch.zeros(len(LAMBDAS), LATENT, dtype=torch.int32))
        h_a = nn.Sequential(conv(LATENT, hyper, 1, 1), nn.GELU(), conv(hyper, hyper, 5, 2), nn.GELU(),
                            conv(hyper, z_channels, 5, 2))
        h_s = nn.Sequential(deconv(z_channels, hyper), nn.ReLU(), deconv(hyper, hyper), nn.ReLU(),
                            nn.Conv2d(hyper, 2 * LATENT, 1))
        with torch.no_grad():  # start with small scales: most DCT coefficients are near zero
            h_s[-1].bias[:LATENT].fill_(4.0)
        self.hyper = HyperpriorLatentCodec(h_a, h_s, z_channels, HYPER_DOWNSAMPLE)
        self.synthesis_exact = FixedPointNet(nn.Sequential(self.synthesis), in_bits=LATENT_BITS, out_bits=PIXEL_BITS)

    def encode_latents(self, x: Tensor, quality: Tensor) -> Tensor:
        """Scaled latents ``y`` (before quantization); ``quality`` holds 0-based indexes per image."""
        return (self.analysis(x - 0.5) + self.refine(x)) * self._gain(quality)

    def decode_latents(self, y_hat: Tensor, quality: Tensor) -> Tensor:
        """Float synthesis of scaled latents (training and encoder-side refinement)."""
        return self.synthesis(y_hat / self._gain(quality))

    @torch.no_grad()
    def update(self) -> None:
        """Freeze every exact decoder-side number: tables, fixed-point nets, inverse gains."""
        super().update()
        self.synthesis_exact.refresh(nn.Sequential(self.synthesis))
        inv_gain_fx = to_fixed(torch.exp(-self.log_gain), GAIN_BITS)
        if inv_gain_fx.max() >= 2**22:  # keeps y_hat * inv_gain (|y_hat| < 2**31) below 2**53
            raise ValueError("a quantization step of 64 or more is outside the exact decoder's range")
        self.inv_gain_fx.copy_(inv_gain_fx.to(torch.int32))

    def restore_float(self) -> None:
        """Float h_s and synthesis from the shipped fixed-point ones (exported weights omit them)."""
        self.hyper.restore_float()
        self.synthesis_exact.restore(nn.Sequential(self.synthesis))

    @torch.no_grad()
    def decompress(self, decoder: Decoder, quality: int, height: int, width: int) -> np.ndarray:
        """uint8 NHWC pixels of a padded ``height`` x ``width`` image read from ``decoder``; exact."""
        y_hat_fx = self.hyper.decompress(decoder, (1, LATENT, height // PATCH, width // PATCH), self._offset_fx(quality))
        return self.decode_exact(y_hat_fx, quality)

    def decode_exact(self, y_hat_fx: Tensor, quality: int) -> np.ndarray:
        """uint8 NHWC pixels from fixed-point ``y_hat`` (``hyper.frac_bits``); exact integer math."""
        inv_gain = self.inv_gain_fx[quality].double()[None, :, None, None]
        shift = self.hyper.frac_bits + GAIN_BITS - LATENT_BITS
        out = self.synthesis_exact(requantize(y_hat_fx * inv_gain, shift))
        pixels = torch.floor((out * 255.0 + 2.0 ** (PIXEL_BITS - 1)) * 2.0**-PIXEL_BITS).clamp_(0, 255)
        return pixels.to(torch.uint8).permute(0, 2, 3, 1).numpy()



class TwoLayerSynthesis(nn.Module):
    """Yang & Mandt's two-layer synthesis: ``ConvT(M->hidden, k13, s8)`` with IGDN in parallel
    with a linear residual ``ConvT(M->hidden, k13, s8)``, then ``ConvT(hidden->3, k5, s2)``."""

    def __init__(self, M: int = 192, hidden: int = 12):
        super().__init__()
        self.up, self.residual = deconv(M, hidden, 13, 8), deconv(M, hidden, 13, 8)
        self.igdn = GDN(hidden, inverse=True)
        self.out = deconv(hidden, 3, 5, 2)

    def forward(self, y: Tensor) -> Tensor:
        return self.out(self.igdn(self.up(y)) + self.residual(y))


def two_layer_model(N: int = 128, M: int = 192) -> HyperpriorModel:
    """The two-layer shallow codec: ``mbt2018-mean``'s analysis and mean-scale hyperprior (same
    N, M and names, so training starts from its weights) with :class:`TwoLayerSynthesis` as the
    decoder, and the shallow family's 7-quality ladder; the whole decoder is a fraction of
    mbt2018-mean's MACs (``results/shallow``)."""
    return mean_scale_hyperprior(N, M, synthesis=TwoLayerSynthesis(M), lambdas=LAMBDAS)
