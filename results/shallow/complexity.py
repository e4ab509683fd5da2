"""Decoder MACs per pixel of shallow-jpeglike, counted by torch.utils.flop_counter (FLOPs / 2).

    python results/shallow/complexity.py     # prints JSON; Kodak size 768x512

Counts the float modules the exact decoder mirrors layer for layer: the synthesis alone, and
the whole decode (hyper-synthesis + synthesis; the entropy decoding itself is not counted).
"""

from __future__ import annotations

import json

import torch
from torch.utils.flop_counter import FlopCounterMode

from neurocodec.codecs.shallow.codec import build_model
from neurocodec.codecs.shallow.model import LATENT, PATCH


def macs(fn, *args) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops() // 2


def main(height: int = 512, width: int = 768) -> dict:
    model = build_model().eval()
    y = torch.zeros(1, LATENT, height // PATCH, width // PATCH)
    z = torch.zeros(1, model.hyper.z_channels, height // PATCH // 4, width // PATCH // 4)
    with torch.no_grad():
        synthesis = macs(model.synthesis, y)
        hyper = macs(model.hyper.h_s, z)
    pixels = height * width
    return {"image": f"{width}x{height}", "synthesis_macs_per_pixel": synthesis / pixels,
            "hyper_synthesis_macs_per_pixel": hyper / pixels, "decoder_macs_per_pixel": (synthesis + hyper) / pixels}


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
