"""Layers shared by the HNeRV and NeRV++ decoders.

Frame sizes need not be multiples of the total stride: each stage's output is cropped to
``ceil(size / remaining stride)`` (:func:`stage_sizes`), so the last stage yields exactly
``height x width`` and no compute goes to padding.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def stage_sizes(size: int, strides: tuple[int, ...]) -> list[int]:
    """Side length of the input grid, then after each stage (the last equals ``size``)."""
    return [math.ceil(size / math.prod(strides[i:])) for i in range(len(strides) + 1)]


def channel_schedule(first: int, stages: int, reduce: float = 1.2, floor: int = 12) -> tuple[int, ...]:
    """Output channels per stage: ``first`` shrinking by ``reduce`` per stage, at least ``floor``.
    Float arithmetic, but only the encoder runs it: the resulting list is written in the file."""
    return tuple(max(floor, round(first / reduce**i)) for i in range(stages))


class UpBlock(nn.Module):
    """NeRV/HNeRV block: KxK conv -> PixelShuffle(s) -> crop -> GELU."""

    def __init__(self, cin: int, cout: int, stride: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * stride * stride, kernel, padding=kernel // 2)
        self.shuffle = nn.PixelShuffle(stride)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return F.gelu(self.shuffle(self.conv(x))[..., :h, :w])


class Head(nn.Module):
    """3x3 conv to RGB, sigmoid: pixel values in [0, 1]."""

    def __init__(self, cin: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))


MAX_STAGES, MAX_STRIDE, MAX_KERNEL, MAX_CHANNELS = 8, 8, 9, 1024


def stage_fields(strides: tuple[int, ...], kernels: tuple[int, ...], channels: tuple[int, ...]) -> tuple[int, ...]:
    """Container fields for the stage lists: count, strides, kernels, channels."""
    return (len(strides), *strides, *kernels, *channels)


def parse_stages(fields: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Inverse of :func:`stage_fields` (checked before any allocation); returns the remaining fields."""
    from neurocodec.errors import NeurocodecError

    n = fields[0] if fields else 0
    if not 1 <= n <= MAX_STAGES or len(fields) < 1 + 3 * n:
        raise NeurocodecError("corrupt INR header: bad stage count")
    strides, kernels, channels = (tuple(fields[1 + i * n:1 + (i + 1) * n]) for i in range(3))
    if not (all(1 <= s <= MAX_STRIDE for s in strides) and all(k % 2 == 1 and k <= MAX_KERNEL for k in kernels)
            and all(1 <= c <= MAX_CHANNELS for c in channels)):
        raise NeurocodecError("corrupt INR header: stage sizes out of range")
    return strides, kernels, channels, tuple(fields[1 + 3 * n:])


class Decoder(nn.Module):
    """A stack of upsampling stages from a coarse grid to ``height x width`` RGB, then the head.
    ``block(cin, cout, stride, kernel)`` builds one stage (HNeRV's :class:`UpBlock` or NeRV++'s)."""

    def __init__(self, cin: int, strides, kernels, channels, height: int, width: int, block=UpBlock):
        super().__init__()
        self.hs, self.ws = stage_sizes(height, strides), stage_sizes(width, strides)
        cins = (cin, *channels[:-1])
        self.blocks = nn.ModuleList(block(a, b, s, k) for a, b, s, k in zip(cins, channels, strides, kernels))
        self.head = Head(channels[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, blk in enumerate(self.blocks):
            x = blk(x, self.hs[i + 1], self.ws[i + 1])
        return self.head(x)
