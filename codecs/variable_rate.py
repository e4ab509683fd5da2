"""The variable-rate hyperprior model that the learned image families build on.

One model serves every quality: per-quality, per-channel gains scale the latents before
quantization (gain units, Cui et al. 2021; learned quantization step sizes, as in JPEG's
tables), and per-quality, per-channel offsets of the scale positions calibrate the prior (the
hyper-synthesis need not infer the quality from z). A subclass builds its transforms and
``self.hyper`` (a :class:`~neurocodec.codecs.latent_codecs.HyperpriorLatentCodec`) and implements
``encode_latents``/``decode_latents`` (float, for training and refinement), ``decompress``
(its decoder) and ``restore_float``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neurocodec.codecs.latent_codecs import to_fixed
from neurocodec.entropy import Encoder


def conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride, padding=k // 2)


def deconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride, padding=k // 2, output_padding=stride - 1)


class VariableRateHyperprior(nn.Module):
    """Gains and scale offsets per quality around a hyperprior (see the module docstring)."""

    hyper: nn.Module

    def __init__(self, lambdas: tuple[float, ...], channels: int, initial_log_gain: Tensor):
        super().__init__()
        self.log_gain = nn.Parameter(initial_log_gain.view(-1, 1).repeat(1, channels))
        self.position_offset = nn.Parameter(torch.zeros(len(lambdas), channels))
        self.register_buffer("lambdas", torch.tensor(lambdas))
        self.register_buffer("position_offset_fx", torch.zeros(len(lambdas), channels, dtype=torch.int32))

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

    def forward(self, x: Tensor, quality: Tensor | None = None) -> dict:
        """Training/eval pass; a random quality per image when ``quality`` is None."""
        if quality is None:
            quality = torch.randint(self.num_qualities, (x.shape[0],), device=x.device)
        offset = self.position_offset[quality][:, :, None, None]
        y_hat, likelihoods = self.hyper(self.encode_latents(x, quality), offset)
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

    @torch.no_grad()
    def compress(self, y: Tensor, quality: int, encoder: Encoder) -> Tensor:
        """Queue latents ``y`` (of one image, from :meth:`encode_latents` or a refinement) on
        ``encoder``; returns the exact fixed-point y_hat."""
        return self.hyper.compress(y, encoder, self._offset_fx(quality))
