"""The variable-rate hyperprior model that the learned image families build on.

One model serves every quality: per-quality, per-channel gains scale the latents before
quantization (gain units, Cui et al. 2021; learned quantization step sizes, as in JPEG's
tables), and per-quality, per-channel offsets of the scale positions calibrate the prior (the
hyper-synthesis need not infer the quality from z). An optional :class:`LatentCorrection` makes
the encoder heavier without touching the decoder. A subclass builds its transforms and
``self.hyper`` (a :class:`~neurocodec.codecs.latent_codecs.HyperpriorLatentCodec`) and implements
``encode_latents``/``decode_latents`` (float, for training and refinement), ``decompress``
(its decoder) and ``restore_float``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neurocodec.codecs.latent_codecs import Correction, to_fixed
from neurocodec.entropy import Encoder


def conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride, padding=k // 2)


def deconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride, padding=k // 2, output_padding=stride - 1)


class LatentCorrection(nn.Module):
    """An encoder-side residual network that moves the scaled latents ``y`` (a quantization step
    is 1) once the prior they will be coded under is known: it sees ``y - means``, the means and
    the scale positions of the hyper-synthesis of y's own z, plus a learned embedding of the
    quality (its rate-distortion trade-off), and returns ``y + f(...)``. An amortised
    counterpart of iterative encoding (:mod:`~neurocodec.codecs.refine`): files decode with the
    same decoder. ``f``'s last conv starts at zero, so a new correction changes nothing."""

    def __init__(self, channels: int, num_qualities: int, hidden: int = 256, blocks: int = 4):
        super().__init__()
        self.inp = nn.Conv2d(3 * channels, hidden, 1)
        self.quality_embedding = nn.Parameter(torch.zeros(num_qualities, hidden))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.GELU(), nn.Conv2d(hidden, hidden, 3, padding=1), nn.GELU(), nn.Conv2d(hidden, hidden, 1))
            for _ in range(blocks))
        self.out = nn.Sequential(nn.GELU(), nn.Conv2d(hidden, channels, 1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, y: Tensor, positions: Tensor, means: Tensor, quality: Tensor) -> Tensor:
        h = self.inp(torch.cat([y - means, means, positions / 8], 1))
        h = h + self.quality_embedding[quality][:, :, None, None]
        for block in self.blocks:
            h = h + block(h)
        return y + self.out(h)


class VariableRateHyperprior(nn.Module):
    """Gains and scale offsets per quality around a hyperprior (see the module docstring)."""

    hyper: nn.Module

    def __init__(self, lambdas: tuple[float, ...], channels: int, initial_log_gain: Tensor):
        super().__init__()
        self.log_gain = nn.Parameter(initial_log_gain.view(-1, 1).repeat(1, channels))
        self.position_offset = nn.Parameter(torch.zeros(len(lambdas), channels))
        self.register_buffer("lambdas", torch.tensor(lambdas))
        self.register_buffer("position_offset_fx", torch.zeros(len(lambdas), channels, dtype=torch.int32))
        self.correction: LatentCorrection | None = None  # a subclass may set one (encoder side only)

    @property
    def num_qualities(self) -> int:
        return len(self.lambdas)

    def _gain(self, quality: Tensor) -> Tensor:
        return torch.exp(self.log_gain[quality])[:, :, None, None]

    def encode_latents(self, x: Tensor, quality: Tensor) -> Tensor:
        """Scaled latents ``y`` (before quantization); ``quality`` holds 0-based indexes per image."""
        raise NotImplementedError

    def decode_latents(self, y_hat: Tensor, quality: Tensor) -> Tensor:
        """Float synthesis of scaled latents (training and encoder-side refinement)."""
        raise NotImplementedError

    def corrected_latents(self, x: Tensor, quality: Tensor) -> Tensor:
        """:meth:`encode_latents`, then the correction (if any) under the float prior of their own z."""
        y = self.encode_latents(x, quality)
        if self.correction is None:
            return y
        positions, means, _ = self.hyper.prior(y, self.position_offset[quality][:, :, None, None])
        return self.correction(y, positions, means, quality)

    def forward(self, x: Tensor, quality: Tensor | None = None) -> dict:
        """Training/eval pass; a random quality per image when ``quality`` is None."""
        if quality is None:
            quality = torch.randint(self.num_qualities, (x.shape[0],), device=x.device)
        offset = self.position_offset[quality][:, :, None, None]
        y_hat, likelihoods = self.hyper(self.encode_latents(x, quality), offset, self._corrector(quality))
        return {"x_hat": self.decode_latents(y_hat, quality), "likelihoods": likelihoods, "lmbda": self.lambdas[quality]}

    def aux_loss(self) -> Tensor:
        return self.hyper.aux_loss()

    @torch.no_grad()
    def update(self) -> None:
        """Freeze the coding state: z tables, the fixed-point h_s, fixed-point scale offsets."""
        self.hyper.update()
        self.position_offset_fx.copy_(to_fixed(self.position_offset, self.hyper.frac_bits).to(torch.int32))

    def _offset_fx(self, quality: int) -> Tensor:
        return self.position_offset_fx[quality].double()[None, :, None, None]

    def _corrector(self, quality: Tensor) -> Correction | None:
        if self.correction is None:
            return None
        return lambda y, positions, means: self.correction(y, positions, means, quality)

    @torch.no_grad()
    def compress(self, y: Tensor, quality: int, encoder: Encoder, correct: bool = True) -> Tensor:
        """Queue latents ``y`` (of one image, from :meth:`encode_latents` or a refinement) on
        ``encoder``, through the model's :class:`LatentCorrection` if it has one and ``correct``;
        returns the exact fixed-point y_hat."""
        corrector = self._corrector(torch.tensor([quality])) if correct else None
        return self.hyper.compress(y, encoder, self._offset_fx(quality), corrector)
