"""Where the INR codecs stand: each INR point of the given runs against x264 and x265 at its bpp.

Reads each run folder's ``per_file.csv`` (written by ``bench_bikes.py``) and ``inr_details.json``
and prints a Markdown table: the INR point, then PSNR minus the anchor's PSNR at the same bpp.
The anchor's PSNR there is linear in bpp between its two nearest measured points of the same
run (the same clip and frames). Outside the anchor's range the line through its two end points
is extended, and the difference is marked ``*``: x264 cannot produce that rate, so the number
compares with an extrapolation (a line straight in bpp, which favours the anchor below its range,
where its curve steepens).

    python results/inr/standing.py results/inr/bikes_hnerv_low_quality20 results/inr/bikes_hnerv_0.01_40min
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

ANCHORS = ("x264", "x265")
METRICS = ("psnr-y", "psnr-rgb")


def anchor_at(points: list[tuple[float, float]], bpp: float) -> tuple[float, bool]:
    """PSNR of a measured curve ``(bpp, psnr)`` at ``bpp`` on the line through its two nearest
    points, and whether that is an extrapolation (``bpp`` outside the measured range)."""
    points = sorted(points)
    inside = points[0][0] <= bpp <= points[-1][0]
    i = min(max(sum(b < bpp for b, _ in points), 1), len(points) - 1)
    (b0, p0), (b1, p1) = points[i - 1], points[i]
    return p0 + (p1 - p0) * (bpp - b0) / (b1 - b0), not inside


def rows(run: Path) -> list[list[str]]:
    """One table row per INR point of ``run``."""
    with open(run / "per_file.csv") as f:
        measured = list(csv.DictReader(f))
    details = {(d["codec"], d["bytes"]): d for d in json.loads((run / "inr_details.json").read_text())}
    out = []
    for r in measured:
        if r["codec"] in ANCHORS:
            continue
        bpp, d = float(r["bpp"]), details[(r["codec"], int(r["bytes"]))]
        cells = [run.name, f"{r['width']}x{r['height']}", r["codec"], f"{d['target_bpp']:g}",
                 f"{d['epochs']:.0f}", f"{d['fit_seconds'] / 60:.1f}", f"{bpp:.5f}",
                 f"{float(r['psnr-y']):.2f}", f"{float(r['psnr-rgb']):.2f}"]
        for anchor in ANCHORS:
            for metric in METRICS:
                curve = [(float(a["bpp"]), float(a[metric])) for a in measured if a["codec"] == anchor]
                psnr, extended = anchor_at(curve, bpp)
                cells.append(f"{float(r[metric]) - psnr:+.2f}" + ("*" if extended else ""))
        out.append(cells + [f"{float(r['decoding_fps']):.0f}"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="bench_bikes.py output folders")
    args = parser.parse_args()
    header = (["run", "frames", "codec", "target bpp", "epochs", "fit min", "bpp", "PSNR-Y", "PSNR-RGB"]
              + [f"vs {anchor} {metric.removeprefix('psnr-').upper()}" for anchor in ANCHORS for metric in METRICS]
              + ["decode fps"])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for run in args.runs:
        for cells in rows(run):
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
