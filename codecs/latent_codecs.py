"""Composable latent codecs: entropy models for a latent tensor, trained in float, coded exactly.

Each latent codec is an ``nn.Module`` with ``forward`` (quantized latents and likelihoods for
training) and ``compress(..., encoder)`` / ``decompress(decoder, ...)``, which hand integer
symbols and integer tables to :mod:`neurocodec.entropy` (never compressai's coder).

What is exact (the determinism rule): everything the decoder computes from the stream.

- :class:`EntropyBottleneckLatentCodec` codes with integer tables (one per channel) that
  :meth:`~EntropyBottleneckLatentCodec.update` derives once from the trained density and that are
  stored with the weights.
- :class:`FixedPointNet` runs a trained ``Conv2d``/``ConvTranspose2d``/``ReLU`` stack as an
  integer network: integer weights, integer activations re-quantized after every layer with an
  exact floor, held in float64; activations are clamped to ``+-ACT_LIMIT`` and every layer's
  worst-case partial sum is checked to stay below 2**53, so the result does not depend on the
  summation order (threads, batch size, BLAS).
- :class:`HyperpriorLatentCodec` (mean-scale) computes scales and means with such a net from the
  integer ``z``; scales are fixed-point positions on the Gaussian tables' log grid, so the
  table index is an exact rounding; means are fixed point, so ``y_hat = symbol + mean`` is exact.

What is approximate: the encoder side (analysis transforms in float; they only choose the
symbols, which are transmitted), and the fixed-point rounding of the decoder-side networks
relative to the float networks used in training (measured per codec).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck
from compressai.ops import LowerBound
from torch import Tensor, nn

from neurocodec.entropy import Decoder, Encoder, TableModel, quantize_pmf, scale_table

EXACT_LIMIT = 2.0**53  # float64 holds every integer below this exactly
ACT_LIMIT = 2**20  # fixed-point activations are clamped to +-ACT_LIMIT
LIKELIHOOD_BOUND = 1e-9
# Encoder-side latent correction: (y, scale positions, means) -> the y to code under that prior.
Correction = Callable[[Tensor, Tensor, Tensor], Tensor]


def to_fixed(x: Tensor, bits: int) -> Tensor:
    """``round(x * 2**bits)`` as integer-valued float64 (exact: power-of-two scaling, rounding)."""
    return torch.round(x.double() * 2.0**bits)


def requantize(acc: Tensor, shift: int, limit: int = ACT_LIMIT) -> Tensor:
    """Exact ``floor(acc / 2**shift + 1/2)`` of integer-valued float64, clamped to ``+-limit``."""
    return (acc * 2.0**-shift).add_(0.5).floor_().clamp_(-limit, limit)


class FixedPointNet(nn.Module):
    """Exact integer inference of a ``Sequential`` of ``Conv2d``, ``ConvTranspose2d`` and ``ReLU``.

    Input and output are integer-valued float64 tensors holding fixed-point numbers with
    ``in_bits`` and ``out_bits`` fractional bits; hidden activations have ``act_bits``. Weights
    have ``weight_bits`` fractional bits, biases ``act_bits + weight_bits`` (or the input's for
    the first layer). The integer weights are buffers: :meth:`refresh` sets them from the float
    net after training, and they are saved with the model so decoding never re-derives them.
    """

    def __init__(self, net: nn.Sequential, in_bits: int, out_bits: int, act_bits: int = 8,
                 weight_bits: int = 14):
        super().__init__()
        if any(not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.ReLU)) for m in net):
            raise TypeError("FixedPointNet supports Conv2d, ConvTranspose2d and ReLU only")
        self.layers = [None if isinstance(m, nn.ReLU) else (type(m), m.stride, m.padding,
                       getattr(m, "output_padding", (0, 0))) for m in net]
        convs = [i for i, layer in enumerate(self.layers) if layer is not None]
        self.bits = {i: (in_bits if k == 0 else act_bits, out_bits if k == len(convs) - 1 else act_bits)
                     for k, i in enumerate(convs)}
        self.weight_bits = weight_bits
        for i in convs:
            out_dim = 1 if isinstance(net[i], nn.ConvTranspose2d) else 0
            self.register_buffer(f"weight{i}", torch.zeros(net[i].weight.shape, dtype=torch.int32))
            self.register_buffer(f"bias{i}", torch.zeros(net[i].weight.shape[out_dim], dtype=torch.int64))

    @torch.no_grad()
    def refresh(self, net: nn.Sequential) -> None:
        """Round the trained float ``net``'s weights to fixed point (once, before export)."""
        for i, (bits_in, _) in self.bits.items():
            getattr(self, f"weight{i}").copy_(to_fixed(net[i].weight, self.weight_bits).to(torch.int32))
            getattr(self, f"bias{i}").copy_(to_fixed(net[i].bias, bits_in + self.weight_bits).to(torch.int64))
        self.check_bounds()

    @torch.no_grad()
    def restore(self, net: nn.Sequential) -> None:
        """Set the float ``net``'s weights to this net's fixed-point values (the inverse of
        :meth:`refresh`, exact): float use of shipped weights, e.g. encoder-side refinement."""
        for i, (bits_in, _) in self.bits.items():
            net[i].weight.copy_(getattr(self, f"weight{i}").double() * 2.0**-self.weight_bits)
            net[i].bias.copy_(getattr(self, f"bias{i}").double() * 2.0**-(bits_in + self.weight_bits))

    def check_bounds(self) -> None:
        """Raise if some layer's worst-case partial sum could reach 2**53 (then it is not exact)."""
        for i in self.bits:
            w = getattr(self, f"weight{i}").double().abs()
            per_out = w.sum(dim=(1, 2, 3)) if self.layers[i][0] is nn.Conv2d else w.sum(dim=(0, 2, 3))
            worst = per_out * ACT_LIMIT + getattr(self, f"bias{i}").double().abs()
            if worst.max() >= EXACT_LIMIT:
                raise ValueError(f"layer {i} of a fixed-point net can exceed 2**53: not exact")

    def forward(self, x: Tensor) -> Tensor:
        x = x.double().clamp(-ACT_LIMIT, ACT_LIMIT)
        for i, layer in enumerate(self.layers):
            if layer is None:  # ReLU
                x = x.clamp_min(0)
                continue
            kind, stride, padding, output_padding = layer
            w, b = getattr(self, f"weight{i}").double(), getattr(self, f"bias{i}").double()
            if kind is nn.Conv2d:
                acc = F.conv2d(x, w, b, stride=stride, padding=padding)
            else:
                acc = F.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=output_padding)
            bits_in, bits_out = self.bits[i]
            x = requantize(acc, bits_in + self.weight_bits - bits_out)
        return x


class EntropyBottleneckLatentCodec(nn.Module):
    """Factorized prior (Balle et al. 2018) for integer latents ``z_hat = round(z)``.

    Training uses compressai's learned density (uniform noise for the rate term, plus
    :meth:`aux_loss` to track its quantiles). Coding uses integer tables, one per channel,
    computed once by :meth:`update` and stored as int32 buffers: exact on every machine.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.density = EntropyBottleneck(channels)
        self.register_buffer("table_freqs", torch.zeros(0, 0, dtype=torch.int32))
        self.register_buffer("table_offsets", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("table_sizes", torch.zeros(0, dtype=torch.int32))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("table_freqs", "table_offsets", "table_sizes"):  # sized by the trained tables
            if prefix + name in state_dict:
                setattr(self, name, torch.empty(state_dict[prefix + name].shape, dtype=torch.int32))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _likelihood(self, values: Tensor) -> Tensor:
        flat = values.transpose(0, 1).reshape(values.shape[1], 1, -1)
        lik, _, _ = self.density._likelihood(flat)
        lik = lik.reshape(values.transpose(0, 1).shape).transpose(0, 1)
        return torch.clamp_min(lik, LIKELIHOOD_BOUND)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``(z + noise, likelihoods)`` in training, ``(round(z), likelihoods)`` in eval."""
        z_hat = z + torch.empty_like(z).uniform_(-0.5, 0.5) if self.training else torch.round(z)
        return z_hat, self._likelihood(z_hat)

    def aux_loss(self) -> Tensor:
        return self.density.loss()

    @torch.no_grad()
    def update(self) -> None:
        """Integer tables over each channel's learned quantile range, tails in the escape."""
        density = self.density
        q = density.quantiles[:, 0, :]
        lo, hi = torch.floor(q[:, 0]), torch.ceil(q[:, 2])
        sizes = (hi - lo + 1).long()
        grid = lo[:, None, None] + torch.arange(int(sizes.max()), dtype=torch.float32)
        pmf = density._likelihood(grid, stop_gradient=True)[0][:, 0].double()
        lower = density._logits_cumulative(lo.view(-1, 1, 1) - 0.5, stop_gradient=True).view(-1)
        upper = density._logits_cumulative(hi.view(-1, 1, 1) + 0.5, stop_gradient=True).view(-1)
        tails = (torch.sigmoid(lower) + torch.sigmoid(-upper)).double()
        freqs = torch.zeros(len(sizes), int(sizes.max()) + 1, dtype=torch.int32)
        for c, n in enumerate(sizes.tolist()):
            freqs[c, :n + 1] = torch.from_numpy(quantize_pmf(pmf[c, :n].numpy(), float(tails[c])).astype(np.int32))
        self.table_freqs, self.table_offsets, self.table_sizes = freqs, lo.to(torch.int32), (sizes + 1).to(torch.int32)

    def fit_density_to_tables(self, steps: int = 1500) -> float:
        """Refit the float density, which shipped weights omit, to the shipped integer tables, so
        that training can go on from them (``--init``). Approximate: minimises each channel's
        cross-entropy to the tables' pmf, the escape's share for the mass outside their range
        included (Adam, ``steps`` steps on the density alone); returns the mean excess in bits
        per symbol over the tables' own entropy."""
        sizes = (self.table_sizes - 1).long()
        grid_len = int(sizes.max())
        inside = torch.arange(grid_len) < sizes[:, None]
        freqs = self.table_freqs.double()
        target = (freqs[:, :grid_len] * inside / freqs.sum(1, keepdim=True)).float()
        target_escape = 1 - target.sum(1)
        grid = self.table_offsets.float()[:, None, None] + torch.arange(grid_len, dtype=torch.float32)
        density = self.density

        def cross_entropy() -> Tensor:
            lik = density._likelihood(grid)[0][:, 0] * inside
            escape = (1 - lik.sum(1)).clamp_min(LIKELIHOOD_BOUND)
            bits = -(target * torch.log2(lik.clamp_min(LIKELIHOOD_BOUND))).sum(1) - target_escape * torch.log2(escape)
            return bits.mean()

        opt = torch.optim.Adam([p for n, p in density.named_parameters() if n != "quantiles"], lr=1e-2)
        for step in range(steps):
            if step == steps * 3 // 4:
                opt.param_groups[0]["lr"] = 1e-3
            loss = cross_entropy()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            lo = grid[:, 0, 0]
            density.quantiles[:, 0, 0] = lo
            density.quantiles[:, 0, 1] = (target * grid[:, 0]).sum(1) / target.sum(1)
            density.quantiles[:, 0, 2] = lo + sizes - 1
            probs = torch.cat([target, target_escape[:, None]], 1)
            entropy = -(probs * torch.log2(probs.clamp_min(1e-30))).sum(1).mean()
            return float(cross_entropy() - entropy)

    def table_model(self) -> TableModel:
        if self.table_sizes.numel() == 0:
            raise RuntimeError("entropy bottleneck tables are missing: call update() after training")
        sizes = self.table_sizes.tolist()
        return TableModel([self.table_freqs[c, :n].numpy() for c, n in enumerate(sizes)],
                          self.table_offsets.tolist())

    @staticmethod
    def _indexes(shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(np.arange(shape[1]).reshape(1, -1, 1, 1), shape).reshape(-1)

    def compress(self, z: Tensor, encoder: Encoder) -> Tensor:
        """Queue ``round(z)`` on ``encoder``; returns it (integer-valued float64)."""
        z_hat = torch.round(z.double())
        encoder.encode(z_hat.numpy().astype(np.int64), self.table_model(), self._indexes(tuple(z.shape)))
        return z_hat

    def decompress(self, decoder: Decoder, shape: tuple[int, ...]) -> Tensor:
        """``z_hat`` of ``shape`` (N, C, H, W) read from ``decoder`` (integer-valued float64)."""
        symbols = decoder.decode(self.table_model(), self._indexes(shape))
        return torch.from_numpy(symbols.astype(np.float64)).reshape(shape)


def _gaussian_cdf(x: Tensor) -> Tensor:
    return 0.5 * torch.erfc(x * -(2**-0.5))


SCALES = scale_table()  # the coder's Gaussian tables: scale = SCALES[0] * RATIO**i
RATIO = float(SCALES[1] / SCALES[0])


@cache
def _gaussian_model() -> TableModel:
    return TableModel.gaussian(SCALES)


class GaussianConditionalLatentCodec(nn.Module):
    """Conditional Gaussian N(mean, scale^2) per element, convolved with a unit uniform.

    Scales are given as *positions* ``t`` on the coder's geometric scale grid,
    ``scale = SCALES[0] * RATIO**t`` (t clamped to the grid): a log parametrization that
    trains well, and at coding time the table index is just ``round(t)``, with no ``exp``.
    ``forward`` takes float positions and means (training); ``compress``/``decompress`` take
    them as fixed-point integers with ``frac_bits`` fractional bits from an exact network, so
    the table index and ``y_hat = symbol + mean`` are exact.
    """

    def __init__(self):
        super().__init__()
        self.lower_bound = LowerBound(0.0)

    def forward(self, y: Tensor, positions: Tensor, means: Tensor) -> tuple[Tensor, Tensor]:
        """``(y_hat, likelihoods)``: y_hat rounds ``y - means`` with a straight-through gradient;
        the likelihoods use ``y + noise`` in training (the usual rate proxy), ``y_hat`` in eval."""
        y_hat = y + (torch.round(y - means) + means - y).detach()
        y_rate = y + torch.empty_like(y).uniform_(-0.5, 0.5) if self.training else y_hat
        v = torch.abs(y_rate - means)
        s = SCALES[0] * RATIO ** self.lower_bound(positions).clamp(max=len(SCALES) - 1)
        lik = _gaussian_cdf((0.5 - v) / s) - _gaussian_cdf((-0.5 - v) / s)
        return y_hat, torch.clamp_min(lik, LIKELIHOOD_BOUND)

    @staticmethod
    def _indexes(positions_fx: Tensor, frac_bits: int) -> np.ndarray:
        index = torch.floor(positions_fx * 2.0**-frac_bits + 0.5).clamp_(0, len(SCALES) - 1)
        return index.numpy().astype(np.int32).reshape(-1)

    def compress(self, y: Tensor, positions_fx: Tensor, means_fx: Tensor, frac_bits: int,
                 encoder: Encoder) -> Tensor:
        """Queue ``round(y - mean)`` on ``encoder``; returns ``y_hat`` in fixed point (float64)."""
        symbols = torch.round(y.double() - means_fx * 2.0**-frac_bits)
        encoder.encode(symbols.numpy().astype(np.int64), _gaussian_model(), self._indexes(positions_fx, frac_bits))
        return symbols * 2.0**frac_bits + means_fx

    def decompress(self, decoder: Decoder, positions_fx: Tensor, means_fx: Tensor, frac_bits: int) -> Tensor:
        """``y_hat`` in fixed point (float64), the same numbers :meth:`compress` returned."""
        symbols = decoder.decode(_gaussian_model(), self._indexes(positions_fx, frac_bits))
        symbols = torch.from_numpy(symbols.astype(np.float64)).reshape(means_fx.shape)
        return symbols.clamp_(-ACT_LIMIT, ACT_LIMIT) * 2.0**frac_bits + means_fx


class HyperpriorLatentCodec(nn.Module):
    """Hyperprior: ``z = h_a(y)`` with a factorized prior, and ``h_s(z_hat)`` gives per-element
    scale positions (see :class:`GaussianConditionalLatentCodec`) of a Gaussian conditional for
    ``y``: channels ``[0, C)``; with ``means=True`` (mean-scale, Minnen et al. 2018) also the
    means, channels ``[C, 2C)``; with ``means=False`` (scale only, Balle et al. 2018) means are 0.

    ``h_s`` must be a ``Sequential`` of convs and ReLUs: at coding time it runs as an exact
    :class:`FixedPointNet`. ``y`` needs height and width divisible by ``downsample`` (h_a's
    stride). ``compress``/``decompress`` return ``y_hat`` as fixed point with ``frac_bits``.
    An optional ``position_offset`` (broadcast to ``y``, e.g. ``(N, C, 1, 1)``) is added to the
    scale positions: a per-quality calibration of a variable-rate model; for coding it is given
    in fixed point (``frac_bits``), so the sum stays exact. An optional ``correct`` (encoder
    side) moves ``y`` after its own z is chosen, knowing the prior it will be coded under.
    """

    def __init__(self, h_a: nn.Module, h_s: nn.Sequential, z_channels: int, downsample: int,
                 frac_bits: int = 10, means: bool = True):
        super().__init__()
        self.h_a, self.h_s = h_a, h_s
        self.z = EntropyBottleneckLatentCodec(z_channels)
        self.y = GaussianConditionalLatentCodec()
        self.h_s_exact = FixedPointNet(h_s, in_bits=0, out_bits=frac_bits)
        self.z_channels, self.downsample, self.frac_bits, self.means = z_channels, downsample, frac_bits, means

    def _split(self, params: Tensor, position_offset: Tensor | None) -> tuple[Tensor, Tensor]:
        """Scale positions (plus the offset) and means from h_s's output (float or fixed point)."""
        positions, means = params.chunk(2, dim=1) if self.means else (params, torch.zeros_like(params))
        return (positions if position_offset is None else positions + position_offset), means

    def prior(self, y: Tensor, position_offset: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Float path: the scale positions and means of y's conditional, and z's likelihoods."""
        z_hat, z_lik = self.z(self.h_a(y))
        return *self._split(self.h_s(z_hat), position_offset), z_lik

    def forward(self, y: Tensor, position_offset: Tensor | None = None,
                correct: Correction | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        positions, means, z_lik = self.prior(y, position_offset)
        if correct is not None:
            y = correct(y, positions, means)
        y_hat, y_lik = self.y(y, positions, means)
        return y_hat, {"y": y_lik, "z": z_lik}

    def aux_loss(self) -> Tensor:
        return self.z.aux_loss()

    def update(self) -> None:
        """Freeze the coding state from the float weights: z tables and the exact h_s."""
        self.z.update()
        self.h_s_exact.refresh(self.h_s)

    def restore_float(self) -> None:
        """Float h_s from the shipped fixed-point one (see :meth:`FixedPointNet.restore`)."""
        self.h_s_exact.restore(self.h_s)

    def _z_shape(self, y_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        n, _, h, w = y_shape
        if h % self.downsample or w % self.downsample:
            raise ValueError(f"latent size {h}x{w} is not divisible by {self.downsample}")
        return n, self.z_channels, h // self.downsample, w // self.downsample

    @torch.no_grad()
    def compress(self, y: Tensor, encoder: Encoder, position_offset_fx: Tensor | None = None,
                 correct: Correction | None = None) -> Tensor:
        """Queue z then y on ``encoder``; returns the exact fixed-point ``y_hat``."""
        z_hat = self.z.compress(self.h_a(y), encoder)
        if tuple(z_hat.shape) != self._z_shape(tuple(y.shape)):
            raise ValueError("h_a output does not have the expected shape")
        positions_fx, means_fx = self._split(self.h_s_exact(z_hat), position_offset_fx)
        if correct is not None:  # an encoder-side choice: the decoder never sees it
            unit = 2.0**-self.frac_bits
            y = correct(y.float(), (positions_fx * unit).float(), (means_fx * unit).float())
        return self.y.compress(y, positions_fx, means_fx, self.frac_bits, encoder)

    @torch.no_grad()
    def decompress(self, decoder: Decoder, y_shape: tuple[int, ...],
                   position_offset_fx: Tensor | None = None) -> Tensor:
        """Fixed-point ``y_hat`` of ``y_shape`` read from ``decoder``; exact."""
        z_hat = self.z.decompress(decoder, self._z_shape(y_shape))
        return self.y.decompress(decoder, *self._split(self.h_s_exact(z_hat), position_offset_fx), self.frac_bits)
