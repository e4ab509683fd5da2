"""WaLLoC networks (Jacobellis & Yadwadkar, DCC 2025): wavelet packet transform, a linear
encoder, a heavier convolutional decoder, and a factorized entropy bottleneck.

``x -> WPT (J levels) -> 1x1 conv (dimensionality reduction) -> compand -> x gain_q -> round``
and back: ``/ gain_q -> expand -> (1x1 inverse + residual conv stack) -> inverse WPT``.

One :class:`WallocModel` serves images (``dims=2``, NCHW) and audio (``dims=1``, NCL).
Variable rate: per-quality, per-channel gains (learned quantization steps) and one factorized
prior per quality (:class:`EntropyBottleneckLatentCodec`, exact integer tables).

What is exact and what is approximate: the symbols and the entropy tables are exact on every
machine. The decoder network and inverse WPT run in float64 after loading (:meth:`WallocModel.
decode_latents`); its output is identical across thread counts, batch sizes and machines unless
a value lands within ~1e-12 of a rounding boundary of the 8-bit (or 16-bit PCM) output grid.
The encoder (float32) only chooses the symbols, which are transmitted.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurocodec.codecs.latent_codecs import EntropyBottleneckLatentCodec
from neurocodec.entropy import Decoder, Encoder

from . import context, wavelets


def compand(t: Tensor) -> Tensor:
    """Square-root compander, slope 1 at 0: finer steps for small values (the inverse is :func:`expand`)."""
    return torch.sign(t) * 2 * (torch.sqrt(1 + t.abs()) - 1)


def expand(u: Tensor) -> Tensor:
    """Inverse of :func:`compand`: a polynomial, so it is cheap and well conditioned."""
    return torch.sign(u) * (u.abs() + u.square() / 4)


def _coded_shape(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The (N, C, positions, 1) view the entropy bottleneck codes (channel-major, like NCHW)."""
    return shape[0], shape[1], math.prod(shape[2:]), 1


class _Residual(nn.Module):
    def __init__(self, conv: type[nn.Module], width: int):
        super().__init__()
        self.body = nn.Sequential(conv(width, width, 3, padding=1), nn.GELU(), conv(width, width, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class WallocModel(nn.Module):
    """Variable-rate WaLLoC; ``x`` centred (images: pixels in [0, 1] minus 0.5; audio: samples)."""

    def __init__(self, dims: int, channels: int, levels: int, latent: int, lambdas: tuple[float, ...],
                 initial_steps: tuple[float, ...], width: int = 96, blocks: int = 3):
        super().__init__()
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        self.dims, self.levels, self.latent = dims, levels, latent
        self.wavelet_channels = channels * 2 ** (dims * levels)
        self.encoder = conv(self.wavelet_channels, latent, 1)  # the whole learned encoder: linear
        self.log_gain = nn.Parameter(-torch.log(torch.tensor(initial_steps)).view(-1, 1).repeat(1, latent))
        self.register_buffer("lambdas", torch.tensor(lambdas))
        self.bottlenecks = nn.ModuleList(EntropyBottleneckLatentCodec(latent) for _ in lambdas)
        if dims == 2:  # spatial context model's Laplace table per context (see .context), fitted at export
            self.register_buffer("context_scales", torch.zeros(len(lambdas), 2, latent, context.BINS, dtype=torch.uint8))
        self.decoder_linear = conv(latent, self.wavelet_channels, 1)
        self._init_linear(channels)
        last = conv(width, self.wavelet_channels, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.decoder_residual = nn.Sequential(conv(latent, width, 3, padding=1), nn.GELU(),
                                              *(_Residual(conv, width) for _ in range(blocks)), last)

    @torch.no_grad()
    def _init_linear(self, channels: int) -> None:
        """Start as a low-pass codec: each latent picks one of the first packets of an input
        channel (those that are lowpass at the first level), and the 1x1 decoder puts it back."""
        per_channel, packets = self.latent // channels, self.wavelet_channels // channels
        select = torch.zeros(self.latent, self.wavelet_channels)
        for i in range(self.latent):
            select[i, (i // per_channel) * packets + i % per_channel] = 1
        shape = (1,) * self.dims
        self.encoder.weight.copy_(select.view(self.latent, -1, *shape))
        self.decoder_linear.weight.copy_(select.T.reshape(self.wavelet_channels, self.latent, *shape))
        self.encoder.bias.zero_()
        self.decoder_linear.bias.zero_()

    @property
    def num_qualities(self) -> int:
        return len(self.lambdas)

    @property
    def stride(self) -> int:
        """Signal sides must be multiples of this."""
        return 2**self.levels

    def _gain(self, quality: Tensor) -> Tensor:
        return torch.exp(self.log_gain[quality]).view(len(quality), self.latent, *(1,) * self.dims)

    def project(self, x: Tensor) -> Tensor:
        """The encoder's linear, dimensionality-reduced projection of ``x``'s wavelet packets,
        computed in ``x``'s dtype whatever the model's."""
        conv = F.conv1d if self.dims == 1 else F.conv2d
        weight, bias = self.encoder.weight.to(x.dtype), self.encoder.bias.to(x.dtype)
        return conv(wavelets.forward(x, self.levels, self.dims), weight, bias)

    def encode_latents(self, x: Tensor, quality: Tensor) -> Tensor:
        """Scaled, companded latents (before rounding), in ``x``'s dtype; ``quality``: 0-based index per item."""
        return compand(self.project(x)) * self._gain(quality).to(x.dtype)

    def decode(self, y_hat: Tensor, quality: Tensor) -> Tensor:
        """Signal from (de)quantized latents: the synthesis half."""
        z = self.dequantize(y_hat, quality)
        w = self.decoder_linear(z) + self.decoder_residual(z)
        return wavelets.inverse(w, self.levels, self.dims)

    def dequantize(self, y_hat: Tensor, quality: Tensor) -> Tensor:
        """Latents back in the encoder's projection units (undo gain and compander)."""
        return expand(y_hat / self._gain(quality))

    def forward(self, x: Tensor, quality: Tensor | None = None) -> dict:
        """Training pass (noisy latents for the rate, rounded with a straight-through gradient
        for the decoder); a random quality per item when ``quality`` is None."""
        if quality is None:
            quality = torch.randint(self.num_qualities, (x.shape[0],), device=x.device)
        y = self.encode_latents(x, quality)
        likelihoods = torch.empty_like(y)
        for q in quality.unique().tolist():
            items = quality == q
            likelihoods[items] = self.bottlenecks[q](y[items])[1]
        y_hat = y + (torch.round(y) - y).detach()
        return {"x_hat": self.decode(y_hat, quality), "likelihoods": {"y": likelihoods},
                "lmbda": self.lambdas[quality]}

    def aux_loss(self) -> Tensor:
        return sum(b.aux_loss() for b in self.bottlenecks)

    def update(self) -> None:
        """Freeze the integer entropy tables from the trained densities (before export)."""
        for b in self.bottlenecks:
            b.update()

    @torch.no_grad()
    def compress(self, x: Tensor, quality: int, encoder: Encoder) -> Tensor:
        """Queue the symbols of one item ``x`` on ``encoder``; returns them (integer-valued).
        The analysis runs in float32 (4x faster than float64 on a CPU): it only chooses the
        symbols, which travel in the file, so its rounding never reaches the decoder."""
        y = self.encode_latents(x.float(), torch.tensor([quality])).to(self.log_gain.dtype)
        return self.bottlenecks[quality].compress(y.reshape(_coded_shape(y.shape)), encoder).reshape(y.shape)

    @torch.no_grad()
    def decompress_latents(self, decoder: Decoder, quality: int, shape: tuple[int, ...]) -> Tensor:
        """Integer symbols of ``shape`` read from ``decoder`` (exact), as float64."""
        return self.bottlenecks[quality].decompress(decoder, _coded_shape(shape)).reshape(shape)

    @torch.no_grad()
    def decode_latents(self, y_hat: Tensor, quality: int) -> Tensor:
        """float64 signal from integer symbols (call on a float64 model; see the module docstring)."""
        return self.decode(y_hat.to(self.log_gain.dtype), torch.tensor([quality]))
