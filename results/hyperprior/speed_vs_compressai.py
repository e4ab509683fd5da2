"""Encode/decode time of our mbt2018-mean vs CompressAI's own ``mbt2018_mean`` (same N=128, M=192).

Both run untrained (seeded) weights: timing does not depend on training. Each Kodak image is
coded by both, interleaved, so machine load hits both alike; we report medians and the ratios.
Usage: python results/hyperprior/speed_vs_compressai.py [--images 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from compressai.zoo import mbt2018_mean
from PIL import Image

from neurocodec.bench.report import machine_info
from neurocodec.codecs.hyperprior.codec import MeanScaleHyperprior

KODAK = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "kodak"


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", help="JSON path (default: speed_vs_compressai_<threads>threads.json here)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ours = MeanScaleHyperprior.untrained(quality=4)
    torch.manual_seed(0)
    theirs = mbt2018_mean(quality=4, pretrained=False).eval()  # N=128, M=192
    theirs.update(force=True)
    files = sorted(KODAK.glob("kodim*.png"))[: args.images]
    rows = []
    for i, f in enumerate([files[0]] + files):  # the first image once more as warm-up
        x = np.asarray(Image.open(f).convert("RGB"))
        t = torch.from_numpy(x.transpose(2, 0, 1).copy()).float()[None] / 255
        data, enc = _timed(ours.encode, x)
        _, dec = _timed(ours.decode, data)
        with torch.inference_mode():
            strings, cenc = _timed(theirs.compress, t)
            _, cdec = _timed(theirs.decompress, strings["strings"], strings["shape"])
        if i:
            rows.append({"image": f.name, "ours_encode_s": enc, "ours_decode_s": dec,
                         "compressai_encode_s": cenc, "compressai_decode_s": cdec})
            print(f"{f.name}: encode {enc:.3f} s vs {cenc:.3f} s, decode {dec:.3f} s vs {cdec:.3f} s")
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "image"}
    summary = {"encode_ratio": med["ours_encode_s"] / med["compressai_encode_s"],
               "decode_ratio": med["ours_decode_s"] / med["compressai_decode_s"], **{f"median_{k}": v for k, v in med.items()}}
    print(json.dumps(summary, indent=1))
    out = args.out or Path(__file__).parent / f"speed_vs_compressai_{args.threads}threads.json"
    Path(out).write_text(json.dumps({"threads": args.threads, "machine": machine_info(), "summary": summary,
                                          "images": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
