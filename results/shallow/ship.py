"""Ship a trained shallow-jpeglike checkpoint: export the weights and record the manifest rows.

    python results/shallow/ship.py --checkpoint runs/jpeglike --eval results/shallow/kodak.json

``--eval`` is eval_kodak.py's JSON on all 24 Kodak images for the same checkpoint; its weights
hash must equal the exported file's (the export is deterministic), so the manifest's RD
points are those of the shipped bytes. One manifest row per quality, all naming one file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from neurocodec import weights
from neurocodec.codecs.shallow.codec import WEIGHTS_FILE, ShallowJpegLike, build_model, export_state


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--eval", required=True, help="eval_kodak.py JSON (all 24 images)")
    ap.add_argument("--prior", nargs="*", default=[], help="checkpoints this one was fine-tuned from (--init)")
    ap.add_argument("--data", default="bsds500 (train+val+test) + imagenet_1k, random 192x192 crops")
    args = ap.parse_args()
    checkpoint = Path(args.checkpoint)
    state = json.loads((checkpoint / "state.json").read_text())
    lineage = [state] + [json.loads((Path(p) / "state.json").read_text()) for p in args.prior]
    steps, minutes = sum(s["step"] for s in lineage), sum(s["seconds"] for s in lineage) / 60
    result = json.loads(Path(args.eval).read_text())
    model = build_model()
    model.load_state_dict(load_file(str(checkpoint / "model.safetensors")))
    path = weights.weights_dir() / WEIGHTS_FILE
    save_file(export_state(model), str(path))
    sha = weights.sha256_file(path)
    if sha != result["sha256"]:
        raise SystemExit("the evaluation is not of these weights: re-run eval_kodak.py on this checkpoint")
    r = result["results"]
    for i, quality in enumerate(r["quality"]):
        weights.record(weights.WeightsEntry(
            codec=ShallowJpegLike.name, quality=quality, file=WEIGHTS_FILE, sha256=sha, data=args.data,
            steps=steps, device="cpu",
            measured={"bpp": round(r["bpp"][i], 4), "psnr": round(r["psnr-rgb"][i], 3), "images": 24},
            notes=f"one variable-rate model for all qualities; trained {minutes:.0f} min on 1 shared CPU thread"))
    print(f"shipped {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {sha[:12]})")


if __name__ == "__main__":
    main()
