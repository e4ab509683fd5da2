"""CPU time of mbt2018-mean's encoder-side latent correction alone, at two widths.

The ratio to CompressAI's encode time (``speed_vs_compressai.py``) moves by up to 15 % between runs
on a shared machine, more than the correction costs; timing the correction by itself on a Kodak
image's latent (192 x 32 x 48) shows what its width adds to each encode.
Usage: python results/hyperprior/correction_cost.py [--threads 1] [--repeats 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from neurocodec.bench.complexity import macs
from neurocodec.bench.report import machine_info
from neurocodec.codecs.variable_rate import LatentCorrection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", help="JSON path (default: correction_cost_<threads>threads.json here)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    y, quality = torch.randn(1, 192, 32, 48), torch.tensor([3])
    rows = {}
    for hidden in (128, 256):
        correction = LatentCorrection(192, 9, hidden=hidden).eval()
        times = []
        with torch.inference_mode():
            for _ in range(args.repeats + 3):  # 3 warm-up runs
                start = time.perf_counter()
                correction(y, y, y, quality)
                times.append(time.perf_counter() - start)
        per_latent = macs(correction, y, y, y, quality) // (32 * 48)
        rows[hidden] = {"median_s": statistics.median(times[3:]), "macs_per_latent": per_latent,
                        "parameters": sum(p.numel() for p in correction.parameters())}
        print(f"{hidden} hidden channels: {rows[hidden]['median_s'] * 1000:.1f} ms per Kodak image, "
              f"{per_latent / 256:,.0f} MACs per pixel, {rows[hidden]['parameters']:,} parameters")
    out = args.out or Path(__file__).parent / f"correction_cost_{args.threads}threads.json"
    report = {"threads": args.threads, "machine": machine_info(), "hidden": rows}
    Path(out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
