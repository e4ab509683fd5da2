"""Ship a trained WaLLoC checkpoint: export the weights and record one manifest row per quality.

    python -m neurocodec.codecs.walloc.ship walloc-rgb --checkpoint runs/walloc-rgb --data "..."
    python -m neurocodec.codecs.walloc.ship walloc-rgb --results results/walloc/kodak/walloc-rgb.json

The first form exports ``data/weights/<codec>.safetensors`` (integer tables frozen from the
trained densities) and records the rows; the second copies a bench's measured RD points (the
bench JSON of the shipped weights) into the rows' ``kodak`` field.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from neurocodec import weights

from .codec import BUILDERS, export_state


def export(codec: str, checkpoint: Path, data: str) -> Path:
    """Write the weights file and its manifest rows; returns the file's path."""
    state = json.loads((checkpoint / "state.json").read_text())
    model = BUILDERS[codec]()
    model.load_state_dict(load_file(str(checkpoint / "model.safetensors")))
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
    p.add_argument("--results", type=Path, help="bench JSON of the shipped weights")
    args = p.parse_args()
    if args.checkpoint:
        print(f"shipped {export(args.codec, args.checkpoint, args.data)}")
    if args.results:
        record_results(args.codec, args.results)


if __name__ == "__main__":
    main()
