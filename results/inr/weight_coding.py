"""How the INR codecs' network bits compare: entropy-coded vs 8-bit raw vs a Huffman reference.

Fits each codec to the first ``--frames`` frames of a clip for ``--minutes`` (short fits: the
sizes, not the PSNR, are the point) and records the codec's own size report. The Huffman
reference is the same file layout with the symbols Huffman-coded, its code lengths included
(:func:`neurocodec.codecs.inr.compress.huffman_reference_bytes`).

    python results/inr/weight_coding.py --clip ../shared/datasets/video/bikes.mp4 --frames 40 --minutes 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

import torch

from neurocodec import load, media

GROUPS = ("weights", "embeddings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", default="../shared/datasets/video/bikes.mp4")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--bpp", type=float, nargs="+", default=[0.01, 0.03])
    parser.add_argument("--codecs", nargs="+", default=["hnerv", "nerv++"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "weight_coding.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        media.write_video(clip, itertools.islice(media.iter_frames(args.clip), args.frames),
                          media.video_info(args.clip).fps)
        for name, bpp in itertools.product(args.codecs, args.bpp):
            codec = load(name, bpp=bpp, minutes=args.minutes)
            size = len(codec.encode(clip))
            row = {"codec": name, "bpp_target": bpp, "file_bytes": size, **codec.fitted.sizes}
            rows.append(row)
            for group in GROUPS:
                if row.get(f"{group}_count"):
                    coded, huffman = row[f"{group}_coded_bytes"], row[f"{group}_huffman_bytes"]
                    print(f"{name} bpp {bpp} {group}: {row[f'{group}_count']} values, coded {coded} B, "
                          f"8-bit raw {row[f'{group}_raw8_bytes']} B ({coded / row[f'{group}_raw8_bytes'] - 1:+.1%}), "
                          f"Huffman {huffman} B ({coded / huffman - 1:+.1%})", flush=True)
    Path(args.out).write_text(json.dumps({"clip": args.clip, "frames": args.frames, "minutes": args.minutes,
                                          "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
