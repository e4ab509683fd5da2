"""Wavelet packet transforms as strided convolutions, with periodic extension.

Each level splits every channel into a lowpass and a highpass half along one axis (1-D: 2
subbands per level; 2-D: the same along height then width, 4 subbands). With periodic extension
("periodization" in PyWavelets, which the tests compare against) a signal of length ``n``
(a multiple of ``2**levels``) maps to exactly ``n`` coefficients, and :func:`inverse` undoes
:func:`forward` to float precision (biorthogonal filters: perfect reconstruction, not an
orthogonal map; round-trip errors are ~1e-6 in float32 and ~1e-11 in float64, limited by the
precision of PyWavelets' filter coefficients).

Channel order after one 2-D level, for each input channel ``c``: ``4c + 2 * height band + width
band`` (0 = lowpass, 1 = highpass), i.e. PyWavelets' ``dwt2`` outputs ``(cA, cV, cH, cD)``;
after one 1-D level: ``2c + (a, d)``.
"""

from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor

WAVELET = "bior4.4"


@cache
def _filters(wavelet: str) -> tuple[Tensor, Tensor, int]:
    """Analysis filters (flipped for ``conv1d``), synthesis filters, and their length (float64)."""
    import pywt

    dec_lo, dec_hi, rec_lo, rec_hi = (torch.tensor(f, dtype=torch.float64) for f in pywt.Wavelet(wavelet).filter_bank)
    analysis = torch.stack([dec_lo.flip(0), dec_hi.flip(0)])[:, None]  # (2, 1, L)
    synthesis = torch.stack([rec_lo, rec_hi])[:, None]  # (2, 1, L) for conv_transpose1d
    return analysis, synthesis, len(dec_lo)


def _split_last(x: Tensor, wavelet: str) -> Tensor:
    """One 1-D analysis level along the last axis: (..., n) -> (..., 2, n/2)."""
    analysis, _, length = _filters(wavelet)
    shape, n = x.shape[:-1], x.shape[-1]
    half = length // 2  # PyWavelets' periodization aligns the filter centre like this
    flat = F.pad(x.reshape(-1, 1, n), (length - 1 - half, half - 1), mode="circular")
    return F.conv1d(flat, analysis.to(x.dtype), stride=2).reshape(*shape, 2, n // 2)


def _merge_last(y: Tensor, wavelet: str) -> Tensor:
    """Inverse of :func:`_split_last`: (..., 2, m) -> (..., 2m)."""
    _, synthesis, length = _filters(wavelet)
    shape, m = y.shape[:-2], y.shape[-1]
    full = F.conv_transpose1d(y.reshape(-1, 2, m), synthesis.to(y.dtype).transpose(0, 1).reshape(2, 1, -1), stride=2)
    full = full[:, 0]  # length 2m + L - 2; index i holds sample (i - shift) mod 2m
    shift = length // 2 - 1
    out = full[:, shift:shift + 2 * m].clone()
    out[:, 2 * m - shift:] += full[:, :shift]
    tail = full[:, shift + 2 * m:]
    out[:, :tail.shape[1]] += tail
    return out.reshape(*shape, 2 * m)


def forward(x: Tensor, levels: int, dims: int, wavelet: str = WAVELET) -> Tensor:
    """Wavelet packet coefficients of ``x``: (N, C, L) -> (N, C*2**J, L/2**J) for ``dims=1``,
    (N, C, H, W) -> (N, C*4**J, H/2**J, W/2**J) for ``dims=2``. Sides must divide by ``2**J``."""
    for _ in range(levels):
        if dims == 1:
            n, c, length = x.shape
            x = _split_last(x, wavelet).reshape(n, 2 * c, length // 2)
        else:
            n, c, h, w = x.shape
            x = _split_last(x, wavelet)  # (n, c, h, 2, w/2): approx/detail along width
            x = _split_last(x.permute(0, 1, 3, 4, 2), wavelet)  # (n, c, 2w, w/2, 2h, h/2)
            x = x.permute(0, 1, 4, 2, 5, 3).reshape(n, 4 * c, h // 2, w // 2)  # (height band, width band)
    return x


def inverse(y: Tensor, levels: int, dims: int, wavelet: str = WAVELET) -> Tensor:
    """Inverse of :func:`forward` (perfect reconstruction up to float rounding)."""
    for _ in range(levels):
        if dims == 1:
            n, c, length = y.shape
            y = _merge_last(y.reshape(n, c // 2, 2, length), wavelet)
        else:
            n, c, h, w = y.shape
            y = y.reshape(n, c // 4, 2, 2, h, w).permute(0, 1, 3, 5, 2, 4)  # (.., wband, w, hband, h)
            y = _merge_last(y, wavelet).permute(0, 1, 4, 2, 3)  # (.., 2h, wband, w)
            y = _merge_last(y, wavelet)  # (.., 2h, 2w)
    return y
