"""Multiply-accumulate counts of a network call, from ``torch.utils.flop_counter`` (FLOPs / 2).

Counts what PyTorch's flop counter covers (convolutions, matrix products, ...); element-wise
operations (activations, batch norm, additions) are not counted, as is usual for MACs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode


def macs(fn: Callable[..., Any], *args: Any) -> int:
    """MACs of one call ``fn(*args)`` (run without gradients)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops() // 2
