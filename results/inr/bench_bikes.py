"""RD benchmark of the INR codecs on bikes.mp4 (or ``--clip``) next to x264 and x265 (preset medium), same frames,
same run, same measurement (neurocodec.bench.video's per-clip measure: bpp from the whole file,
PSNR-Y on yuv420p and PSNR-RGB, means of per-frame PSNR; encoding fps = frames / fitting time).

Writes into --out (default results/inr/): the bench report (JSON per codec in CompressAI's shape, CSV, PNG,
summary.txt) and inr_details.json/csv (fitting time and epochs, PSNR of the float model,
weight and embedding sizes: entropy-coded vs 8-bit raw vs Huffman).

    python results/inr/bench_bikes.py --minutes 9 --threads 2
    python results/inr/bench_bikes.py --clip .../bigbuckbunny.mp4 --scale 0.5 --out DIR  # another clip

``--combine DIR...`` measures nothing: it joins the per-file rows of earlier runs (x264/x265 from
the first, whose encoders are deterministic) into one report (summary, BD-rates, rd.png) in --out.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import torch

from neurocodec import load
from neurocodec.bench.classical import BenchCodec
from neurocodec.bench.report import prepare_out_dir, summarize, sweep, write_report
from neurocodec.bench.video import LAYOUT, VIDEO_CODECS, _measure, prepare_clip

HERE = Path(__file__).resolve().parent
BIKES = HERE.parents[1].parent / "shared" / "datasets" / "video" / "bikes.mp4"
DETAILS: list[dict] = []


class INRCoder:
    """The bench's coder contract over an INR codec: encode(path) -> bytes, decode(bytes) -> frames."""

    def __init__(self, name: str, bpp: float, minutes: float, **options):
        self.name, self.bpp = name, bpp
        self.codec = load(name, bpp=bpp, minutes=minutes, **options)

    def encode(self, path) -> bytes:
        start = time.perf_counter()
        data = self.codec.encode(path)
        fitted = self.codec.fitted
        DETAILS.append({"codec": self.name, "target_bpp": self.bpp, "bytes": len(data),
                        "encode_seconds": time.perf_counter() - start, "fit_seconds": fitted.report.seconds,
                        "epochs": fitted.report.history[-1][0] if fitted.report.history else 0.0,
                        "seconds_per_epoch": fitted.report.history[-1][1] / fitted.report.history[-1][0],
                        "psnr_float_fit": fitted.report.psnr, "history": fitted.report.history, **fitted.sizes})
        return data

    def decode(self, data: bytes):
        return self.codec.decode(data).frames


def inr_bench(name: str, points: list[float], minutes: float, **options) -> BenchCodec:
    """Qualities are target bpp x 1000; ``options`` (preset, epochs, batch) go to the codec when given."""
    options = {k: v for k, v in options.items() if v is not None}
    return BenchCodec(name, f"{load(name).description}; fitted {minutes} min per point on CPU"
                      + "".join(f", {k} {v}" for k, v in options.items()),
                      tuple(round(b * 1000) for b in points), lambda q: INRCoder(name, q / 1000, minutes, **options))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=9.0, help="fitting budget per INR point")
    parser.add_argument("--preset", choices=("fast", "quality"), help="fitting preset (default: the codec's for the CPU)")
    parser.add_argument("--epochs", type=int, help="epochs planned per INR point (default: the preset's)")
    parser.add_argument("--batch", type=int, help="frames per fitting step (default: the preset's, 1)")
    parser.add_argument("--hnerv", default="0.005,0.01,0.02", help="HNeRV target bpp points (\"\": none)")
    parser.add_argument("--nervpp", default="0.01,0.02", help="NeRV++ target bpp points (\"\": none)")
    parser.add_argument("--crf", default="37,42,47,51", help="x264/x265 CRF points")
    parser.add_argument("--clip", type=Path, default=BIKES, help="video file (default: bikes.mp4)")
    parser.add_argument("--scale", type=float, help="resize the clip's frames by this factor first (e.g. 0.5)")
    parser.add_argument("--frames", type=int, help="first N frames only")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--combine", type=Path, nargs="+", metavar="DIR", help="join earlier runs' per_file.csv")
    args = parser.parse_args()
    if args.combine:
        return combine(args.combine, args.out)
    torch.set_num_threads(args.threads)
    crfs = tuple(int(c) for c in args.crf.split(","))
    codecs = [VIDEO_CODECS["x264"], VIDEO_CODECS["x265"]]
    for name, points in (("hnerv", args.hnerv), ("nerv++", args.nervpp)):
        if points:  # "" leaves the codec out
            codecs.append(inr_bench(name, [float(b) for b in points.split(",")], args.minutes,
                                       preset=args.preset, epochs=args.epochs, batch=args.batch))
    qualities = {"x264": crfs, "x265": crfs, **{c.name: c.qualities for c in codecs[2:]}}
    prepare_out_dir(args.out, codecs, force=True)
    with tempfile.TemporaryDirectory(prefix="inr-bench-") as folder:
        clip = prepare_clip(args.clip, Path(folder) / "clip.mkv", args.frames, args.scale)
        rows = sweep(codecs, qualities, [(args.clip.name, clip)], _measure, unit="point")
    summary = summarize(rows, ["bpp", "kbps", "psnr-y", "psnr-rgb", "encoding_fps", "decoding_fps"])
    print(write_report(args.out, LAYOUT, codecs, rows, summary, "x264"))
    (args.out / "inr_details.json").write_text(json.dumps(DETAILS, indent=1))
    flat = [{k: v for k, v in d.items() if k != "history"} for d in DETAILS]
    with open(args.out / "inr_details.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)


def combine(runs: list[Path], out: Path) -> None:
    """One report from the rows of several runs: each INR point from its run, x264/x265 from the first."""
    rows: list[dict] = []
    for run in runs:
        with open(run / "per_file.csv", newline="") as f:
            for row in csv.DictReader(f):
                if row["codec"] in VIDEO_CODECS and run != runs[0]:
                    continue
                rows.append({k: v if k in ("codec", "file") else (int(v) if k == "quality" else float(v))
                             for k, v in row.items()})
    names = list(dict.fromkeys(r["codec"] for r in rows))
    codecs = [VIDEO_CODECS[n] if n in VIDEO_CODECS else
              BenchCodec(n, f"{load(n).description}; points joined from {', '.join(r.name for r in runs)}",
                         tuple(int(r["quality"]) for r in rows if r["codec"] == n), None) for n in names]
    rows.sort(key=lambda r: (names.index(r["codec"]), r["quality"]))
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows, ["bpp", "kbps", "psnr-y", "psnr-rgb", "encoding_fps", "decoding_fps"])
    print(write_report(out, LAYOUT, codecs, rows, summary, "x264"))


if __name__ == "__main__":
    main()
