"""Shallow-decoder networks (Yang & Mandt, ICCV 2023): a heavy encoder, a one- or two-layer synthesis.

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

Decoding is exact: :meth:`JpegLikeModel.synthesize` runs the hyper-synthesis, the inverse
gains and the synthesis in fixed point (see :mod:`neurocodec.codecs.latent_codecs`).

:class:`TwoLayerModel` is the "two-layer" codec: the same encoder and entropy model
(:class:`ShallowModel`) for the 384 latents that JPEG 4:2:0 would keep, and Yang & Mandt's
:class:`TwoLayerSynthesis` (float32) as the decoder. It starts from a trained JPEG-like model
(:meth:`TwoLayerModel.from_jpeglike`): the synthesis's linear path reproduces the 16x16 patch
synthesis exactly, so training begins at the JPEG-like codec's rate-distortion and the
nonlinear path and the overlapping kernels improve on it. Its encoder is made heavier by a
:class:`~neurocodec.codecs.variable_rate.LatentCorrection`: once the prior of the latents is
known, a residual network moves them where each quality's rate-distortion trade-off wants them
(encoder side only: the decoder is the same).
"""

from __future__ import annotations

import numpy as np
import torch
from compressai.layers import GDN
from torch import Tensor, nn

from neurocodec.codecs.latent_codecs import FixedPointNet, HyperpriorLatentCodec, requantize, to_fixed
from neurocodec.codecs.variable_rate import LatentCorrection, VariableRateHyperprior, conv, deconv
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


def chroma_420_channels() -> Tensor:
    """Indexes, among the 768 latents (colour-major, then 16x16 DCT frequency), of those JPEG 4:2:0
    keeps: every luma frequency and the chroma frequencies below 8 both ways, 384 in all. The
    trained ``shallow-jpeglike`` spends no bits on the others (0.03 % at its highest quality)."""
    colour, frequency = torch.arange(LATENT) // (PATCH * PATCH), torch.arange(LATENT) % (PATCH * PATCH)
    low = (frequency // PATCH < PATCH // 2) & (frequency % PATCH < PATCH // 2)
    return torch.nonzero((colour == 0) | low).flatten()


class ShallowModel(VariableRateHyperprior):
    """The shallow family's encoder and entropy model, for the latents ``channels`` (indexes into
    the 768 YCbCr block-DCT coefficients); a subclass adds the synthesis. ``x`` in [0, 1], NCHW,
    sides multiple of 64."""

    synthesis: nn.Module

    def __init__(self, channels: Tensor, refine: tuple[int, ...] = (64, 128, 192), hyper: int = 192,
                 z_channels: int = 128):
        latent = len(channels)
        super().__init__(LAMBDAS, latent, -torch.log(torch.tensor(INITIAL_STEPS)))
        self.analysis = nn.Conv2d(3, latent, PATCH, PATCH)
        with torch.no_grad():
            self.analysis.weight.copy_(jpeg_like_transforms()[0][channels])
            self.analysis.bias.zero_()
        widths = (3,) + refine
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [conv(cin, cout, 5 if cin == 3 else 3, 2), nn.GELU()]
        layers.append(conv(widths[-1], latent, 3, 2))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.refine = nn.Sequential(*layers)  # 16x down, starts at zero
        self.register_buffer("inv_gain_fx", torch.zeros(len(LAMBDAS), latent, dtype=torch.int32))
        h_a = nn.Sequential(conv(latent, hyper, 1, 1), nn.GELU(), conv(hyper, hyper, 5, 2), nn.GELU(),
                            conv(hyper, z_channels, 5, 2))
        h_s = nn.Sequential(deconv(z_channels, hyper), nn.ReLU(), deconv(hyper, hyper), nn.ReLU(),
                            nn.Conv2d(hyper, 2 * latent, 1))
        with torch.no_grad():  # start with small scales: most DCT coefficients are near zero
            h_s[-1].bias[:latent].fill_(4.0)
        self.hyper = HyperpriorLatentCodec(h_a, h_s, z_channels, HYPER_DOWNSAMPLE)

    def encode_latents(self, x: Tensor, quality: Tensor) -> Tensor:
        """Scaled latents ``y`` (before quantization); ``quality`` holds 0-based indexes per image."""
        return (self.analysis(x - 0.5) + self.refine(x)) * self._gain(quality)

    def decode_latents(self, y_hat: Tensor, quality: Tensor) -> Tensor:
        """Float synthesis of scaled latents (training and encoder-side refinement)."""
        return self.synthesis(y_hat / self._gain(quality))

    @torch.no_grad()
    def update(self) -> None:
        """Freeze the coding state: tables, the fixed-point h_s, offsets, inverse gains."""
        super().update()
        inv_gain_fx = to_fixed(torch.exp(-self.log_gain), GAIN_BITS)
        if inv_gain_fx.max() >= 2**22:  # keeps y_hat * inv_gain (|y_hat| < 2**31) below 2**53
            raise ValueError("a quantization step of 64 or more is outside the exact decoder's range")
        self.inv_gain_fx.copy_(inv_gain_fx.to(torch.int32))

    @torch.no_grad()
    def decompress(self, decoder: Decoder, quality: int, height: int, width: int) -> np.ndarray:
        """uint8 NHWC pixels of a padded ``height`` x ``width`` image read from ``decoder``."""
        shape = (1, self.log_gain.shape[1], height // PATCH, width // PATCH)
        return self.synthesize(self.hyper.decompress(decoder, shape, self._offset_fx(quality)), quality)

    def dequantize(self, y_hat_fx: Tensor, quality: int) -> Tensor:
        """Unscaled latents in fixed point (``LATENT_BITS``) from ``y_hat`` (``hyper.frac_bits``); exact."""
        inv_gain = self.inv_gain_fx[quality].double()[None, :, None, None]
        return requantize(y_hat_fx * inv_gain, self.hyper.frac_bits + GAIN_BITS - LATENT_BITS)

    def synthesize(self, y_hat_fx: Tensor, quality: int) -> np.ndarray:
        raise NotImplementedError


class JpegLikeModel(ShallowModel):
    """Variable-rate JPEG-like shallow codec: all 768 latents, one exact 16x16 linear synthesis."""

    def __init__(self, refine: tuple[int, ...] = (64, 128, 192), hyper: int = 192, z_channels: int = 128):
        super().__init__(torch.arange(LATENT), refine, hyper, z_channels)
        self.synthesis = nn.ConvTranspose2d(LATENT, 3, PATCH, PATCH)
        with torch.no_grad():
            self.synthesis.weight.copy_(jpeg_like_transforms()[1])
            self.synthesis.bias.fill_(0.5)
        self.synthesis_exact = FixedPointNet(nn.Sequential(self.synthesis), in_bits=LATENT_BITS, out_bits=PIXEL_BITS)

    @torch.no_grad()
    def update(self) -> None:
        """Freeze every exact decoder-side number: tables, fixed-point nets, inverse gains."""
        super().update()
        self.synthesis_exact.refresh(nn.Sequential(self.synthesis))

    def restore_float(self) -> None:
        """Float h_s and synthesis from the shipped fixed-point ones (exported weights omit them)."""
        self.hyper.restore_float()
        self.synthesis_exact.restore(nn.Sequential(self.synthesis))

    def synthesize(self, y_hat_fx: Tensor, quality: int) -> np.ndarray:
        """uint8 NHWC pixels from fixed-point ``y_hat`` (``hyper.frac_bits``); exact integer math."""
        out = self.synthesis_exact(self.dequantize(y_hat_fx, quality))
        pixels = torch.floor((out * 255.0 + 2.0 ** (PIXEL_BITS - 1)) * 2.0**-PIXEL_BITS).clamp_(0, 255)
        return pixels.to(torch.uint8).permute(0, 2, 3, 1).numpy()


class TwoLayerSynthesis(nn.Module):
    """Yang & Mandt's two-layer synthesis: ``ConvT(M->hidden, k13, s8)`` with IGDN in parallel
    with a linear residual ``ConvT(M->hidden, k13, s8)``, then ``ConvT(hidden->3, k5, s2)``.

    The k13 kernels reach 4 half-resolution positions before a latent's 8x8 block and 1 after it
    (padding 4, not 6), so the linear path can hold a 16x16 patch synthesis (:meth:`from_patches`).
    """

    def __init__(self, M: int, hidden: int = 12):
        super().__init__()
        self.up = nn.ConvTranspose2d(M, hidden, 13, 8, padding=4, output_padding=3)
        self.residual = nn.ConvTranspose2d(M, hidden, 13, 8, padding=4, output_padding=3)
        self.igdn = GDN(hidden, inverse=True)
        self.out = deconv(hidden, 3, 5, 2)

    def forward(self, y: Tensor) -> Tensor:
        return self.out(self.igdn(self.up(y)) + self.residual(y))

    @classmethod
    def from_patches(cls, weight: Tensor, bias: Tensor) -> TwoLayerSynthesis:
        """The two-layer synthesis that computes ``conv_transpose2d(y, weight, bias, stride=16)``
        (``weight``: M x 3 x 16 x 16, one RGB patch per latent vector) up to float rounding: the
        residual path writes each 2x2 pixel block of a patch into the 12 hidden channels of one
        half-resolution position, ``out`` puts the pixels back, the IGDN path starts at zero."""
        M = weight.shape[0]
        synthesis = cls(M, hidden=12)
        with torch.no_grad():
            for layer in (synthesis.up, synthesis.residual, synthesis.out):
                layer.weight.zero_()
                layer.bias.zero_()
            # hidden channel 4c + 2a + b at half-resolution (i, j) holds pixel (2i + a, 2j + b) of colour c
            blocks = weight.reshape(M, 3, 8, 2, 8, 2).permute(0, 1, 3, 5, 2, 4).reshape(M, 12, 8, 8)
            synthesis.residual.weight[:, :, 4:12, 4:12] = blocks
            for c in range(3):
                for a in range(2):
                    for b in range(2):
                        synthesis.out.weight[4 * c + 2 * a + b, c, 2 + a, 2 + b] = 1.0
            synthesis.out.bias.copy_(bias)
        return synthesis


class TwoLayerModel(ShallowModel):
    """The two-layer shallow codec: the JPEG-like encoder (plus a latent correction) and
    hyperprior for the 384 latents of :func:`chroma_420_channels`, :class:`TwoLayerSynthesis` as
    the decoder. Exact: the symbols, the tables and the dequantized latents; approximate: the
    float32 synthesis (as ``mbt2018-mean``'s)."""

    def __init__(self, refine: tuple[int, ...] = (64, 128, 192), hyper: int = 192, z_channels: int = 128):
        channels = chroma_420_channels()
        super().__init__(channels, refine, hyper, z_channels)
        self.synthesis = TwoLayerSynthesis.from_patches(jpeg_like_transforms()[1][channels], torch.full((3,), 0.5))
        self.correction = LatentCorrection(len(channels), len(LAMBDAS))

    def restore_float(self) -> None:
        """Float h_s from the shipped fixed-point one (exported weights omit it)."""
        self.hyper.restore_float()

    @torch.no_grad()
    def synthesize(self, y_hat_fx: Tensor, quality: int) -> np.ndarray:
        """uint8 NHWC pixels from fixed-point ``y_hat`` (``hyper.frac_bits``): float32 synthesis."""
        y = (self.dequantize(y_hat_fx, quality) * 2.0**-LATENT_BITS).float()
        x_hat = self.synthesis(y.contiguous(memory_format=torch.channels_last))
        return torch.round(x_hat.clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()

    @classmethod
    def from_jpeglike(cls, jpeglike: JpegLikeModel) -> TwoLayerModel:
        """A two-layer model that starts where a trained ``shallow-jpeglike`` is: its encoder,
        gains and hyperprior restricted to the 4:2:0 latents, its synthesis in the residual path."""
        model = cls(hyper=jpeglike.hyper.h_a[0].out_channels, z_channels=jpeglike.hyper.z_channels)
        keep = chroma_420_channels()
        keep_both = torch.cat([keep, keep + LATENT])  # h_s's scales, then its means
        state = model.state_dict()
        for name, tensor in jpeglike.state_dict().items():
            if not name.startswith("synthesis") and name in state:
                for dim, size in enumerate(tensor.shape):
                    if size in (LATENT, 2 * LATENT) and size != state[name].shape[dim]:
                        tensor = tensor.index_select(dim, keep if size == LATENT else keep_both)
                state[name] = tensor
        model.load_state_dict(state)
        model.synthesis = TwoLayerSynthesis.from_patches(jpeglike.synthesis.weight[keep], jpeglike.synthesis.bias)
        return model
