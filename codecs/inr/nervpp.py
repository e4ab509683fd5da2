"""NeRV++ (Ghorbel et al. 2024): frame index -> positional encoding -> MLP -> coarse feature grid
-> enhanced NeRV blocks -> frame. Each block wraps the upsampling block (KxK conv ->
PixelShuffle -> GELU) between two separable residual blocks (depthwise 3x3 -> GELU -> 1x1) and
adds a bilinear skip (1x1 conv, then bilinear upsampling) around it.

The whole network is stored; there are no per-frame embeddings. Container fields (after the
video's): stage count n, n strides, n kernels, n channels, positional-encoding levels L, MLP
hidden width, grid channels. The encoding of frame i is sin/cos(1.25^l * pi * i / frames),
l < L: float (approximate across machines, like every reconstruction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .layers import Decoder, UpBlock, parse_stages, stage_fields, stage_sizes


@dataclass(frozen=True)
class NeRVppArch:
    strides: tuple[int, ...]
    kernels: tuple[int, ...]
    channels: tuple[int, ...]
    levels: int  # positional-encoding frequencies
    hidden: int  # MLP width
    grid: int  # channels of the coarse grid the MLP produces

    def to_fields(self) -> tuple[int, ...]:
        return (*stage_fields(self.strides, self.kernels, self.channels), self.levels, self.hidden, self.grid)

    @classmethod
    def from_fields(cls, fields: tuple[int, ...]) -> tuple[NeRVppArch, tuple[int, ...]]:
        from neurocodec.errors import NeurocodecError

        strides, kernels, channels, rest = parse_stages(fields)
        if len(rest) < 3 or not (1 <= rest[0] <= 128 and 1 <= rest[1] <= 4096 and 1 <= rest[2] <= 1024):
            raise NeurocodecError("corrupt NeRV++ header: bad stem sizes")
        return cls(strides, kernels, channels, *rest[:3]), rest[3:]


class SepResidual(nn.Module):
    """x + 1x1(GELU(depthwise 3x3(x)))."""

    def __init__(self, dim: int):
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.pw = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw(F.gelu(self.dw(x)))


class NeRVppBlock(nn.Module):
    """Separable residual -> upsampling block -> separable residual, plus a bilinear skip."""

    def __init__(self, cin: int, cout: int, stride: int, kernel: int):
        super().__init__()
        self.pre, self.up, self.post = SepResidual(cin), UpBlock(cin, cout, stride, kernel), SepResidual(cout)
        self.skip = nn.Conv2d(cin, cout, 1)
        self.stride = stride

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        skip = F.interpolate(self.skip(x), scale_factor=self.stride, mode="bilinear", align_corners=False)
        return self.post(self.up(self.pre(x), h, w) + skip[..., :h, :w])


class NeRVpp(nn.Module):
    """The whole NeRV++ network (it is all stored)."""

    def __init__(self, arch: NeRVppArch, height: int, width: int, frames: int):
        super().__init__()
        self.arch, self.frames = arch, frames
        self.gh, self.gw = stage_sizes(height, arch.strides)[0], stage_sizes(width, arch.strides)[0]
        self.stem = nn.Sequential(nn.Linear(2 * arch.levels, arch.hidden), nn.GELU(),
                                  nn.Linear(arch.hidden, arch.grid * self.gh * self.gw), nn.GELU())
        self.decoder = Decoder(arch.grid, arch.strides, arch.kernels, arch.channels, height, width, NeRVppBlock)
        self.register_buffer("freqs", math.pi * 1.25 ** torch.arange(arch.levels, dtype=torch.float32), persistent=False)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        angle = (index.float() / self.frames)[:, None] * self.freqs
        x = self.stem(torch.cat([angle.sin(), angle.cos()], dim=1))
        return self.decoder(x.view(-1, self.arch.grid, self.gh, self.gw))

    def fit_forward(self, frames: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return self(index)
