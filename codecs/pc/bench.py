"""Benchmark ``pc-lossless`` against PNG, WebP lossless and JPEG 2000 lossless on MNIST-like test sets.

    python -m neurocodec.codecs.pc.bench [--dataset mnist fashion] [--limit N] [--out results.json]

Rates are bits per dimension (pixel) from whole files: our ``.ncs`` files with their header,
and Pillow's output files, one per image. Also reported: the stream alone, the model's own
-log2 p (the ideal the coder approaches), the whole test set as one multi-image ``.ncs`` file
(next to xz on the raw pixels of the set), encode/decode images/s in batch mode with the time
split between the circuit and the coder, and a full bit-exact decode check of every image.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import lzma
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import neurocodec
from neurocodec import container, weights

from . import datasets

QUALITY = {"mnist": 1, "fashion": 2}
CLASSICAL = {
    "png": dict(format="PNG", optimize=True),
    "webp-lossless": dict(format="WEBP", lossless=True, quality=100, method=6),
    "jpeg2000-lossless": dict(format="JPEG2000", irreversible=False),
}


def classical_sizes(images: np.ndarray) -> dict[str, np.ndarray]:
    """Bytes per image for each classical lossless codec (whole files, checked to round-trip)."""
    sizes = {name: np.zeros(len(images), dtype=np.int64) for name in CLASSICAL}
    for i, img in enumerate(images):
        for name, options in CLASSICAL.items():
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, **options)
            if i == 0 and not np.array_equal(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L")), img):
                raise RuntimeError(f"{name} is not lossless here")
            sizes[name][i] = buf.tell()
    return sizes


def run(dataset: str, limit: int | None, batch: int) -> dict:
    images = datasets.load(dataset, "test", limit)
    codec = neurocodec.load("pc-lossless", quality=QUALITY[dataset])
    dims = images[0].size
    files, ideal, enc = [], [], {"circuit_s": 0.0, "coder_s": 0.0, "wall_s": 0.0}
    for i in range(0, len(images), batch):
        stats: dict = {}
        t0 = time.perf_counter()
        files += codec.encode_batch(images[i:i + batch], stats)
        enc["wall_s"] += time.perf_counter() - t0
        enc["circuit_s"] += stats["circuit_s"]
        enc["coder_s"] += stats["coder_s"]
        ideal.append(stats["ideal_bits"])
    dec = {"circuit_s": 0.0, "coder_s": 0.0, "wall_s": 0.0}
    mismatches = 0
    for i in range(0, len(files), batch):
        stats = {}
        t0 = time.perf_counter()
        out = codec.decode_batch(files[i:i + batch], stats)
        dec["wall_s"] += time.perf_counter() - t0
        dec["circuit_s"] += stats["circuit_s"]
        dec["coder_s"] += stats["coder_s"]
        mismatches += int((out != images[i:i + batch]).reshape(len(out), -1).any(1).sum())
    t0 = time.perf_counter()
    archive = codec.encode_images(images)
    set_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    set_ok = bool(np.array_equal(codec.decode_images(archive), images))
    set_dec = time.perf_counter() - t0
    xz = len(lzma.compress(images.tobytes(), preset=9 | lzma.PRESET_EXTREME))
    ours = np.array([len(f) for f in files])
    stream = np.array([len(container.unpack(f).streams[0]) for f in files])
    ideal_bits = np.concatenate(ideal)
    classical = classical_sizes(images)
    best = np.minimum.reduce(list(classical.values()))
    bpd = lambda nbytes: float(8 * np.sum(nbytes) / (dims * len(images)))
    for timing in (enc, dec):
        timing["images_per_s"] = len(images) / timing["wall_s"]
    return {
        "dataset": dataset, "quality": QUALITY[dataset], "images": len(images), "batch": batch,
        "bpd": {"pc-lossless (file)": bpd(ours), "pc-lossless (stream)": bpd(stream),
                "pc-lossless (-log2 p)": float(ideal_bits.sum() / (dims * len(images))),
                **{name: bpd(s) for name, s in classical.items()}, "best classical per image": bpd(best),
                "pc-lossless, the set in one file": bpd(len(archive)), "xz -9e, the set's raw pixels": bpd(xz)},
        "file_over_ideal": float(8 * ours.sum() / ideal_bits.sum() - 1),
        "stream_over_ideal": float(8 * stream.sum() / ideal_bits.sum() - 1),
        "saving_vs_best_classical": float(1 - ours.sum() / best.sum()),
        "images_smaller_than_best_classical": float(np.mean(ours < best)),
        "encode": enc, "decode": dec, "decode_mismatches": mismatches,
        "set_file": {"over_ideal": float(8 * len(archive) / ideal_bits.sum() - 1), "bit_exact": set_ok,
                     "encode_images_per_s": len(images) / set_enc, "decode_images_per_s": len(images) / set_dec},
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", nargs="+", choices=sorted(QUALITY), default=sorted(QUALITY))
    ap.add_argument("--limit", type=int, default=None, help="first N test images (default all 10,000)")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--record", action="store_true",
                    help="store the measured bits/dim in the weights manifest (full test sets only)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = {"name": "pc-lossless", "description": "bits/dim on MNIST-like test sets; rates from whole files",
              "load_average_before": os.getloadavg(), "cpu_count": os.cpu_count(),
              "results": [run(d, args.limit, args.batch) for d in args.dataset]}
    report["load_average_after"] = os.getloadavg()
    for r in report["results"]:
        print(f"\n{r['dataset']} test, {r['images']} images (quality {r['quality']})")
        for name, v in r["bpd"].items():
            print(f"  {name:<34} {v:7.4f} bits/dim")
        print(f"  file / -log2 p - 1: {100 * r['file_over_ideal']:.2f} %   stream / -log2 p - 1: "
              f"{100 * r['stream_over_ideal']:.2f} %")
        print(f"  saving vs best classical per image: {100 * r['saving_vs_best_classical']:.1f} % "
              f"(smaller on {100 * r['images_smaller_than_best_classical']:.1f} % of images)")
        for kind in ("encode", "decode"):
            t = r[kind]
            print(f"  {kind}: {t['images_per_s']:7.1f} images/s   circuit {t['circuit_s']:.1f} s, "
                  f"coder {t['coder_s']:.1f} s, wall {t['wall_s']:.1f} s")
        print(f"  bit-exact decode: {r['images'] - r['decode_mismatches']}/{r['images']}")
        t = r["set_file"]
        print(f"  the set in one file: {100 * t['over_ideal']:.2f} % over -log2 p, encode {t['encode_images_per_s']:.1f} "
              f"images/s, decode {t['decode_images_per_s']:.1f} images/s, bit-exact: {t['bit_exact']}")
    print(f"load average before/after: {report['load_average_before']} / {report['load_average_after']}")
    if args.record:
        if args.limit:
            raise SystemExit("--record needs the full test sets (no --limit)")
        for r in report["results"]:
            entry = weights.find("pc-lossless", r["quality"])
            measured = {f"{r['dataset']}_test_bpd": round(r["bpd"]["pc-lossless (file)"], 4),
                        f"{r['dataset']}_test_stream_bpd": round(r["bpd"]["pc-lossless (stream)"], 4),
                        f"{r['dataset']}_test_model_bpd": round(r["bpd"]["pc-lossless (-log2 p)"], 4),
                        f"{r['dataset']}_test_set_file_bpd": round(r["bpd"]["pc-lossless, the set in one file"], 4)}
            weights.record(dataclasses.replace(entry, measured=measured))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
