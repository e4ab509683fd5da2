"""Encoder time per Kodak image: ``walloc-rgb`` (shipped weights) vs our ``mbt2018-mean``.

``mbt2018-mean`` runs untrained (seeded) weights, as no trained ones ship yet: its encode time
does not depend on training. Each image is encoded by both, interleaved, so machine load hits
both alike; we report medians, means and the ratio. Whole ``encode`` calls (file out), one
quality each (walloc-rgb 3, mbt2018-mean 4).
Usage: python results/walloc/encode_speed.py [--images 24] [--threads 2] [--out encode_speed.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import neurocodec
from neurocodec.bench.report import machine_info
from neurocodec.codecs.hyperprior.codec import MeanScaleHyperprior

KODAK = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "kodak"


def _seconds(codec, image: np.ndarray) -> float:
    start = time.perf_counter()
    codec.encode(image)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("encode_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    codecs = {"walloc-rgb": neurocodec.load("walloc-rgb", quality=3),
              "mbt2018-mean": MeanScaleHyperprior.untrained(quality=4)}
    files = sorted(KODAK.glob("kodim*.png"))[: args.images]
    times: dict[str, list[float]] = {name: [] for name in codecs}
    for i, f in enumerate([files[0]] + files):  # the first image once more as warm-up
        image = np.asarray(Image.open(f).convert("RGB"))
        for name, codec in codecs.items():
            seconds = _seconds(codec, image)
            if i:
                times[name].append(seconds)
    report = {"images": len(files), "threads": args.threads, "machine": machine_info(),
              **{name: {"median_s": statistics.median(t), "mean_s": statistics.mean(t)} for name, t in times.items()}}
    report["ratio_median"] = report["walloc-rgb"]["median_s"] / report["mbt2018-mean"]["median_s"]
    print(json.dumps(report, indent=1))
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
