"""Ship a trained WaLLoC checkpoint: export the weights and record one manifest row per quality.

    python -m neurocodec.codecs.walloc.ship walloc-rgb --checkpoint runs/walloc-rgb --data "..." \
        --context-data ../shared/datasets/train/bsds500 ../shared/datasets/imagenet_1k
    python -m neurocodec.codecs.walloc.ship walloc-rgb --results results/walloc/kodak/walloc-rgb.json

The first form exports ``data/weights/<codec>.safetensors`` (integer tables frozen from the
trained densities; for walloc-rgb also the spatial context model's tables, fitted on the
symbols of ``--context-images`` training images per quality) and records the rows; the second
copies a bench's measured RD points (the bench JSON of the shipped weights) into the rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from neurocodec import media, weights
from neurocodec.entropy import Encoder
from neurocodec.training import image_files

from . import context
from .codec import BUILDERS, export_state, rgb_input
from .model import WallocModel


def fit_context(model: WallocModel, folders: list[str], count: int) -> None:
    """Fit ``model.context_scales`` on the symbols of ``count`` images (evenly spaced over the
    folders' sorted files, whole images), at every quality."""
    files = image_files(folders)
    files = [files[i] for i in np.linspace(0, len(files) - 1, min(count, len(files))).astype(int)]
    bits = context.table_bits()
    model.update()
    for q in tqdm(range(model.num_qualities), desc="context tables"):
        hist = 0
        for f in files:
            x = media.read_image(f)
            x = np.repeat(x[..., None], 3, axis=2) if x.ndim == 2 else x  # a few photos are grayscale
            symbols = model.compress(rgb_input(x, model.stride), q, Encoder())
            hist = hist + context.residual_histograms(symbols[0].numpy().astype(np.int64))
        model.context_scales[q] = torch.from_numpy(context.fit_scale_indexes(hist, bits))


def export(codec: str, checkpoint: Path, data: str, context_data: list[str] | None = None,
           context_images: int = 200) -> Path:
    """Write the weights file and its manifest rows; returns the file's path."""
    state = json.loads((checkpoint / "state.json").read_text())
    model = BUILDERS[codec]()
    missing, unexpected = model.load_state_dict(load_file(str(checkpoint / "model.safetensors")), strict=False)
    if unexpected or set(missing) - {"context_scales"}:  # checkpoints from before the context model lack it
        raise ValueError(f"{checkpoint} does not fit {codec}: {unexpected or missing}")
    if hasattr(model, "context_scales"):
        if not context_data:
            raise ValueError(f"{codec} needs --context-data to fit its context model")
        fit_context(model, context_data, context_images)
    path = weights.weights_dir() / f"{codec}.safetensors"
    save_file(export_state(model.eval()), str(path))
    sha = weights.sha256_file(path)
    for quality, lmbda in enumerate(model.lambdas.tolist(), start=1):
        weights.record(weights.WeightsEntry(
            codec=codec, quality=quality, file=path.name, sha256=sha, data=data, steps=state["step"],
            device="cpu (1 thread, shared)",
            notes=f"one variable-rate model for all qualities (lambda {lmbda:g}); trained "
                  f"{state['seconds'] / 60:.0f} min"))
    return path


def record_results(codec: str, results: Path) -> None:
    """Copy per-quality measurements from a bench JSON (CompressAI shape) into the manifest."""
    r = json.loads(results.read_text())["results"]
    keys = [k for k in ("bpp", "psnr-rgb", "kbps", "snr", "lsd") if k in r]
    for entry in weights.manifest():
        if entry.codec == codec and entry.quality in r["quality"]:
            i = r["quality"].index(entry.quality)
            weights.record(dataclasses.replace(entry, measured={k: round(r[k][i], 4) for k in keys}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("codec", choices=sorted(BUILDERS))
    p.add_argument("--checkpoint", type=Path, help="training checkpoint folder to export")
    p.add_argument("--data", default="", help="training data, for the manifest")
    p.add_argument("--context-data", nargs="+", help="image folders to fit walloc-rgb's context model on")
    p.add_argument("--context-images", type=int, default=200, help="images used for that fit")
    p.add_argument("--results", type=Path, help="bench JSON of the shipped weights")
    args = p.parse_args()
    if args.checkpoint:
        print(f"shipped {export(args.codec, args.checkpoint, args.data, args.context_data, args.context_images)}")
    if args.results:
        record_results(args.codec, args.results)


if __name__ == "__main__":
    main()
