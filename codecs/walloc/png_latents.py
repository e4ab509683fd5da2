"""A measurement: the original WaLLoC's way of storing latents (tile the integer latent channels
into one grayscale image, store it losslessly as PNG or WebP) against our ANS streams.

On Kodak (``results/walloc/png_vs_prior.json``) lossless WebP of the symbols is 20-40 % smaller
than our factorized prior: its spatial predictors remove the redundancy the factorized prior
cannot see (the low-pass latents are a small image). Our spatial context model (:mod:`.context`)
is about 10 % smaller than WebP, so ``walloc-rgb`` no longer stores WebP (until 2026-11-24 it
did, when WebP was the smaller). The comparison measures all of them on the same symbols:

    python -m neurocodec.codecs.walloc.png_latents --weights W.safetensors \
        --data ../shared/datasets/kodak --out results/walloc/png_vs_prior.json
"""

from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from neurocodec import media
from neurocodec.entropy import Encoder

WEBP_METHOD = 4  # libwebp effort; 6 is ~50x slower for <1 % smaller latents


def tile(symbols: np.ndarray) -> np.ndarray:
    """(C, h, w) integers -> one (rows*h, cols*w) mosaic, channels in row-major order."""
    c, h, w = symbols.shape
    rows, cols = _grid(c)
    grid = np.zeros((rows * h, cols * w), dtype=symbols.dtype)
    for i in range(c):
        grid[(i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w] = symbols[i]
    return grid


def _grid(channels: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(channels))
    return math.ceil(channels / cols), cols


def untile(mosaic: np.ndarray, channels: int) -> np.ndarray:
    """Inverse of :func:`tile`."""
    rows, cols = _grid(channels)
    h, w = mosaic.shape[0] // rows, mosaic.shape[1] // cols
    return np.stack([mosaic[(i // cols) * h:(i // cols + 1) * h, (i % cols) * w:(i % cols + 1) * w]
                     for i in range(channels)])


def lossless_sizes(symbols: np.ndarray) -> dict[str, int]:
    """Bytes of the tiled symbols as PNG (optimized) and, when they fit in 8 bits, lossless WebP."""
    mosaic = tile(symbols)
    sizes = {}
    if mosaic.min() >= -128 and mosaic.max() <= 127:
        image = Image.fromarray((mosaic + 128).astype(np.uint8))
        for fmt, options in (("PNG", {"optimize": True}),
                             ("WEBP", {"lossless": True, "quality": 100, "method": WEBP_METHOD})):
            buf = io.BytesIO()
            image.save(buf, format=fmt, **options)
            sizes[fmt.lower()] = len(buf.getvalue())
    else:
        buf = io.BytesIO()
        Image.fromarray((mosaic + 32768).astype(np.uint16)).save(buf, format="PNG", optimize=True)
        sizes["png"] = len(buf.getvalue())
    return sizes


def compare(weights: Path, files: list[Path]) -> dict:
    """Mean bytes per image, per quality: factorized prior and spatial context model (ANS
    streams) vs PNG/WebP of the same symbols."""
    from . import context
    from .codec import WallocRGB, rgb_input

    results = {}
    for quality in WallocRGB.qualities:
        codec = WallocRGB(quality=quality, weights=weights)
        totals: dict[str, float] = {}
        for f in files:
            encoder = Encoder()
            y = codec.model.compress(rgb_input(media.read_image(f), codec.model.stride), quality - 1, encoder)
            symbols = y[0].numpy().astype(np.int64)
            sizes = {"prior": len(encoder.finish())}
            encoder = Encoder()
            context.encode(symbols, codec.model.context_scales[quality - 1].numpy(), encoder)
            sizes.update(context=len(encoder.finish()), **lossless_sizes(symbols))
            for k, v in sizes.items():
                totals[k] = totals.get(k, 0) + v / len(files)
        results[quality] = {k: round(v, 1) for k, v in totals.items()}
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True, help="folder of images whose sides are multiples of 8")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    files = sorted(f for f in args.data.iterdir() if f.suffix.lower() in media.IMAGE_EXTENSIONS)
    result = {"unit": "mean bytes per image (streams only, no container)", "files": len(files),
              "by_quality": compare(args.weights, files)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
