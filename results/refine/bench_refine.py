"""Iterative encoding (``effort``) vs one encoder pass, same codec, same images, one run.

    python results/refine/bench_refine.py --codec shallow-jpeglike --effort 100 --every 3 --crop 256

Rates are whole .ncs files, PSNR of the decoder's 8-bit output; BD-rate of the refined curve
against the one-pass curve (negative: refinement saves bits at equal PSNR). ``--crop`` takes the
centre crop of each Kodak image (refinement costs one decoder forward/backward per step).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from neurocodec import registry
from neurocodec.bench.bdrate import bd_rate
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


def curve(cls, effort: int, xs: list[np.ndarray], qualities) -> dict:
    rows = {"quality": [], "bpp": [], "psnr-rgb": [], "encoding_time": []}
    for q in qualities:
        codec = cls(quality=q, effort=effort)
        rates, psnrs, start = [], [], time.perf_counter()
        for x in xs:
            data = codec.encode(x)
            rates.append(bpp(len(data), *x.shape[:2]))
            psnrs.append(psnr(x, codec.decode(data)))
        for key, value in zip(rows, (q, np.mean(rates), np.mean(psnrs), (time.perf_counter() - start) / len(xs))):
            rows[key].append(float(value))
        print(f"effort {effort} q{q}: {rows['bpp'][-1]:.4f} bpp {rows['psnr-rgb'][-1]:.3f} dB "
              f"{rows['encoding_time'][-1]:.1f} s/image", flush=True)
    return {"name": f"{cls.name} effort {effort}", "results": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codec", default="shallow-jpeglike")
    ap.add_argument("--effort", type=int, default=100)
    ap.add_argument("--every", type=int, default=3, help="use every N-th Kodak image")
    ap.add_argument("--crop", type=int, default=256, help="centre crop side (0: full images)")
    ap.add_argument("--qualities", type=int, nargs="*")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "refine.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cls = registry.codec_class(args.codec)
    xs = images(args.every, args.crop or None)
    qualities = args.qualities or cls.qualities
    base, refined = curve(cls, 0, xs, qualities), curve(cls, args.effort, xs, qualities)
    bd = bd_rate(base["results"]["bpp"], base["results"]["psnr-rgb"],
                 refined["results"]["bpp"], refined["results"]["psnr-rgb"])
    print(f"BD-rate of effort {args.effort} vs one pass: {bd:+.2f} %")
    Path(args.out).write_text(json.dumps({"codec": cls.name, "images": len(xs), "crop": args.crop,
                                          "every": args.every, "curves": [base, refined],
                                          "bd_rate_percent": bd}, indent=1) + "\n")


if __name__ == "__main__":
    main()
