"""Iterative encoding (``effort``) vs one encoder pass, same codec, same images, one run.

    python results/refine/bench_refine.py --codec shallow-jpeglike --effort 100 --every 3 --crop 256

Rates are whole .ncs files, PSNR of the decoder's 8-bit output; BD-rate of the refined curve
against the one-pass curve (negative: refinement saves bits at equal PSNR). ``--crop`` takes the
centre crop of each Kodak image (refinement costs one decoder forward/backward per step).
``--anchor`` adds other codecs' curves on the same images (a comma-separated list of learned
codecs, one pass, or classical ones such as webp and jpeg), and both curves' BD-rates against each
(e.g. shallow-2layer against mbt2018-mean, or mbt2018-mean against webp).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from neurocodec import registry
from neurocodec.bench.bdrate import bd_rate
from neurocodec.bench.classical import IMAGE_CODECS, Coder, resolve
from neurocodec.bench.metrics import bpp, psnr

KODAK = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "kodak"


def images(every: int, crop: int | None) -> list[np.ndarray]:
    out = []
    for f in sorted(KODAK.glob("kodim*.png"))[::every]:
        x = np.asarray(Image.open(f).convert("RGB"))
        if crop:
            top, left = (x.shape[0] - crop) // 2, (x.shape[1] - crop) // 2
            x = x[top:top + crop, left:left + crop]
        out.append(np.ascontiguousarray(x))
    return out


def curve(name: str, load: Callable[[int], Coder], xs: list[np.ndarray], qualities) -> dict:
    rows = {"quality": [], "bpp": [], "psnr-rgb": [], "encoding_time": []}
    for q in qualities:
        codec = load(q)
        rates, psnrs, start = [], [], time.perf_counter()
        for x in xs:
            data = codec.encode(x)
            rates.append(bpp(len(data), *x.shape[:2]))
            psnrs.append(psnr(x, codec.decode(data)))
        for key, value in zip(rows, (q, np.mean(rates), np.mean(psnrs), (time.perf_counter() - start) / len(xs))):
            rows[key].append(float(value))
        print(f"{name} q{q}: {rows['bpp'][-1]:.4f} bpp {rows['psnr-rgb'][-1]:.3f} dB "
              f"{rows['encoding_time'][-1]:.1f} s/image", flush=True)
    return {"name": name, "results": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codec", default="shallow-jpeglike")
    ap.add_argument("--effort", type=int, default=100)
    ap.add_argument("--every", type=int, default=3, help="use every N-th Kodak image")
    ap.add_argument("--crop", type=int, default=256, help="centre crop side (0: full images)")
    ap.add_argument("--qualities", type=int, nargs="*")
    ap.add_argument("--anchor", help="codecs to compare both curves with, comma-separated (same images)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "refine.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cls = registry.codec_class(args.codec)
    xs = images(args.every, args.crop or None)
    qualities = args.qualities or cls.qualities

    def learned(effort: int) -> dict:
        return curve(f"{cls.name} effort {effort}", lambda q: cls(quality=q, effort=effort), xs, qualities)

    base, refined = learned(0), learned(args.effort)

    def bd(anchor: dict, test: dict) -> float:
        return bd_rate(anchor["results"]["bpp"], anchor["results"]["psnr-rgb"],
                       test["results"]["bpp"], test["results"]["psnr-rgb"])

    result = {"codec": cls.name, "images": len(xs), "crop": args.crop, "every": args.every,
              "curves": [base, refined], "bd_rate_percent": bd(base, refined)}
    print(f"BD-rate of effort {args.effort} vs one pass: {result['bd_rate_percent']:+.2f} %")
    result["bd_rate_vs_anchor_percent"] = []
    for anchor_codec in resolve(args.anchor, IMAGE_CODECS, ("image",)) if args.anchor else []:
        anchor = curve(anchor_codec.name, anchor_codec.load, xs, anchor_codec.qualities)
        result["curves"].append(anchor)
        versus = {"anchor": anchor_codec.name, "one_pass": bd(anchor, base), f"effort_{args.effort}": bd(anchor, refined)}
        result["bd_rate_vs_anchor_percent"].append(versus)
        print(f"vs {anchor_codec.name}: one pass {versus['one_pass']:+.2f} %, "
              f"effort {args.effort} {versus[f'effort_{args.effort}']:+.2f} %")
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
