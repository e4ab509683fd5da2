"""HNeRV (Chen et al., CVPR 2023): a ConvNeXt encoder gives each frame a tiny embedding, a
decoder of HNeRV blocks (KxK conv -> PixelShuffle -> GELU) turns it back into the frame.

Only the decoder and the quantized embeddings are stored; the encoder exists at fitting time.
Container fields (after the video's): stage count n, n strides, n kernels, n channels,
embedding channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .layers import Decoder, parse_stages, stage_fields, stage_sizes


@dataclass(frozen=True)
class HNeRVArch:
    strides: tuple[int, ...]
    kernels: tuple[int, ...]
    channels: tuple[int, ...]
    embed: int  # embedding channels

    def to_fields(self) -> tuple[int, ...]:
        return (*stage_fields(self.strides, self.kernels, self.channels), self.embed)

    @classmethod
    def from_fields(cls, fields: tuple[int, ...]) -> tuple[HNeRVArch, tuple[int, ...]]:
        from neurocodec.errors import NeurocodecError

        strides, kernels, channels, rest = parse_stages(fields)
        if not rest or not 1 <= rest[0] <= 256:
            raise NeurocodecError("corrupt HNeRV header: bad embedding size")
        return cls(strides, kernels, channels, rest[0]), rest[1:]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 -> LayerNorm -> 1x1 (4x) -> GELU -> 1x1, residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.mlp = nn.Sequential(nn.Conv2d(dim, 4 * dim, 1), nn.GELU(), nn.Conv2d(4 * dim, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(self.dw(x)))


class ConvNeXtEncoder(nn.Module):
    """Frame (padded to a multiple of the total stride) -> embedding of ``embed`` channels."""

    def __init__(self, strides: tuple[int, ...], embed: int, width: int = 32):
        super().__init__()
        layers, cin = [], 3
        for i, s in enumerate(strides):
            dim = min(width * 2 ** (i // 2), 128)
            layers += [nn.Conv2d(cin, dim, s, stride=s), LayerNorm2d(dim), ConvNeXtBlock(dim)]
            cin = dim
        layers.append(nn.Conv2d(cin, embed, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class HNeRV(nn.Module):
    """Encoder + decoder for fitting; ``decoder`` alone is what the bitstream holds."""

    def __init__(self, arch: HNeRVArch, height: int, width: int):
        super().__init__()
        self.arch, self.height, self.width = arch, height, width
        stride = math.prod(arch.strides)
        self.pad_h, self.pad_w = (stage_sizes(n, arch.strides)[0] * stride - n for n in (height, width))
        self.encoder = ConvNeXtEncoder(arch.strides, arch.embed)
        self.decoder = Decoder(arch.embed, arch.strides, arch.kernels, arch.channels, height, width)
        # Signal-preserving init (He, fan-in, zero biases). PyTorch's default conv init shrinks the
        # frame-dependent signal about 3.5x per stage (GELU included): at 640x272 the initial output
        # varied across frames by 0.02 % of the target's variation, the fit learned the mean frame
        # from the biases and the encoder collapsed to a constant embedding (PSNR stuck near 14 dB).
        for m in self.decoder.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """Embeddings of frames in [0, 1] (N x 3 x H x W)."""
        return self.encoder(F.pad(frames, (0, self.pad_w, 0, self.pad_h), mode="replicate"))

    def fit_forward(self, frames: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.embed(frames))
