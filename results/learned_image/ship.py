"""Ship a trained learned-image-codec checkpoint: export the weights, record the manifest rows.

    python results/learned_image/ship.py --codec shallow-jpeglike --checkpoint runs/jpeglike --eval results/shallow/kodak.json

``--eval`` is eval_kodak.py's JSON on all 24 Kodak images for the same checkpoint; its weights
hash must equal the exported file's (the export is deterministic), so the manifest's RD
points are those of the shipped bytes. One manifest row per quality, all naming one file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from neurocodec import registry, weights


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", default="shallow-jpeglike", help="a learned image codec's registry name")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--eval", required=True, help="eval_kodak.py JSON (all 24 images)")
    ap.add_argument("--prior", nargs="*", default=[], help="checkpoints this one was fine-tuned from (--init)")
    ap.add_argument("--prior-steps", type=int, default=0,
                    help="steps behind an --init whose checkpoint is not at hand (e.g. shipped weights)")
    ap.add_argument("--data", default="bsds500 (train+val+test) + imagenet_1k, random 192x192 crops")
    ap.add_argument("--device", default="cpu", help="what it was trained on")
    ap.add_argument("--notes", default="trained on 1 shared CPU thread", help="how it was trained")
    args = ap.parse_args()
    cls = registry.codec_class(args.codec)
    checkpoint = Path(args.checkpoint)
    state = json.loads((checkpoint / "state.json").read_text())
    lineage = [state] + [json.loads((Path(p) / "state.json").read_text()) for p in args.prior]
    steps, minutes = args.prior_steps + sum(s["step"] for s in lineage), sum(s["seconds"] for s in lineage) / 60
    result = json.loads(Path(args.eval).read_text())
    model = cls.build_model()
    model.load_state_dict(load_file(str(checkpoint / "model.safetensors")))
    path = weights.weights_dir() / f"{cls.name}.safetensors"
    save_file(cls.export_state(model), str(path))
    sha = weights.sha256_file(path)
    if sha != result["sha256"]:
        raise SystemExit("the evaluation is not of these weights: re-run eval_kodak.py on this checkpoint")
    r = result["results"]
    for i, quality in enumerate(r["quality"]):
        weights.record(weights.WeightsEntry(
            codec=cls.name, quality=quality, file=path.name, sha256=sha, data=args.data,
            steps=steps, device=args.device,
            measured={"bpp": round(r["bpp"][i], 4), "psnr": round(r["psnr-rgb"][i], 3), "images": 24},
            notes=f"one variable-rate model for all qualities; {args.notes}, {minutes:.0f} min"))
    print(f"shipped {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {sha[:12]})")


if __name__ == "__main__":
    main()
