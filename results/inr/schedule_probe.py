"""PSNR of an INR fit on bikes.mp4 after a fixed wall-time budget, per (learning rate, batch) variant.

The codec's architecture for the target bpp and its fit loop with the fast preset's schedule
(warmup and cosine compressed into the budget), no pruning; PSNR of the float model on every 5th
frame. One JSON line per variant.

    python results/inr/schedule_probe.py --minutes 5 --variants 1e-3:1,2e-3:1,1e-3:2,2e-3:2
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import torch
from bench_bikes import BIKES  # this folder's bench script

from neurocodec import load
from neurocodec.codecs.inr.codec import PRESETS
from neurocodec.codecs.inr.fit import fit, psnr_of, read_frames
from neurocodec.modality import VideoMeta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-time budget per variant")
    parser.add_argument("--variants", default="1e-3:1,2e-3:1,1e-3:2", help="LR:BATCH, comma-separated")
    parser.add_argument("--bpp", type=float, default=0.02)
    parser.add_argument("--codec", default="hnerv")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    frames = read_frames(BIKES)
    meta = VideoMeta(frames.shape[3], frames.shape[2], frames.shape[0], 25, 1)
    index = torch.arange(0, len(frames), 5)
    for variant in args.variants.split(","):
        lr, batch = variant.split(":")
        lr, batch = float(lr), int(batch)
        codec = load(args.codec, bpp=args.bpp, progress=False)
        torch.manual_seed(0)
        model = codec.fit_model(codec.choose_arch(meta), meta)
        schedule = replace(PRESETS["fast"], lr=lr, prune=0.0, finetune=0.0, batch=batch, minutes=args.minutes)
        _, report = fit(model, [], frames, schedule, progress=False)
        with torch.no_grad():
            x = frames[index].float() / 255
            y = torch.cat([model.fit_forward(a, i) for a, i in zip(x.split(10), index.split(10))])
        print(json.dumps({"codec": args.codec, "bpp": args.bpp, "lr": lr, "batch": batch, "minutes": args.minutes,
                          "epochs": round(report.history[-1][0], 2), "psnr": round(psnr_of(((y - x) ** 2).mean().item()), 2),
                          "history": [[round(e, 2), round(s), round(p, 2)] for e, s, p in report.history]}), flush=True)


if __name__ == "__main__":
    main()
