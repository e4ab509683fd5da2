"""Decoder cost of the shallow codecs next to our mbt2018-mean: MACs per pixel and decode time.
The encoders' MACs (analysis, hyper-analysis, latent correction) are counted too.

    python results/shallow/complexity.py --images 6 --threads 2   # writes complexity.json

MACs (:func:`neurocodec.bench.complexity.macs`, at Kodak's 768x512) count the float modules
the decoders run or mirror layer for layer: the synthesis alone, and the whole decode
(hyper-synthesis + synthesis; entropy decoding is not counted). Wall time: whole
``codec.decode`` of real Kodak files (entropy decoding included), the codecs interleaved per
image in one run, median over images, at quality 4 with the shipped weights (seeded untrained
weights for a codec without any: the same networks; their time hardly depends on training).
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

from neurocodec import weights
from neurocodec.bench.complexity import macs
from neurocodec.bench.report import machine_info
from neurocodec.codecs.hyperprior.codec import MeanScaleHyperprior
from neurocodec.codecs.shallow.codec import ShallowJpegLike, ShallowTwoLayer

KODAK = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "kodak"


def counted(height: int = 512, width: int = 768) -> dict:
    """MACs per pixel of the decoders and encoders at ``width`` x ``height``."""
    pixels = height * width
    z = torch.zeros(1, 128, height // 64, width // 64)
    out = {}
    for cls in (ShallowJpegLike, MeanScaleHyperprior, ShallowTwoLayer):
        model = cls.build_model().eval()
        synthesis = model.g_s if cls is MeanScaleHyperprior else model.synthesis
        y = torch.zeros(1, model.log_gain.shape[1], height // 16, width // 16)
        s, h = macs(synthesis, y), macs(model.hyper.h_s, z)
        a = macs(model.encode_latents, torch.zeros(1, 3, height, width), torch.tensor([3]))
        ha = macs(model.hyper.h_a, y)
        # The whole encoder: analysis, hyper-analysis, the hyper-synthesis (the prior y is coded
        # under; the latent correction, if any, reads it too) and the correction itself.
        c = h + (0 if model.correction is None else macs(model.correction, y, y, y, torch.tensor([3])))
        out[cls.name] = {"synthesis_macs_per_pixel": s / pixels, "hyper_synthesis_macs_per_pixel": h / pixels,
                         "decoder_macs_per_pixel": (s + h) / pixels, "analysis_macs_per_pixel": a / pixels,
                         "hyper_analysis_macs_per_pixel": ha / pixels,
                         "encoder_macs_per_pixel": (a + ha + c) / pixels}
    for name in ("shallow-jpeglike", "shallow-2layer"):
        out[name]["decoder_macs_vs_mbt2018_mean"] = (out[name]["decoder_macs_per_pixel"]
                                                     / out["mbt2018-mean"]["decoder_macs_per_pixel"])
    return out


def timed(images: int) -> dict:
    """Median decode seconds per Kodak image of the codecs, interleaved."""
    shipped = {e.codec for e in weights.manifest()}
    codecs = {cls.name: cls(quality=4) if cls.name in shipped else cls.untrained(quality=4)
              for cls in (ShallowJpegLike, MeanScaleHyperprior, ShallowTwoLayer)}
    files = sorted(KODAK.glob("kodim*.png"))[:images]
    times: dict[str, list[float]] = {name: [] for name in codecs}
    for i, f in enumerate([files[0]] + files):  # the first image twice: warm-up
        x = np.asarray(Image.open(f).convert("RGB"))
        for name, codec in codecs.items():
            data = codec.encode(x)
            start = time.perf_counter()
            codec.decode(data)
            if i:
                times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t) for name, t in times.items()}
    return {"decode_seconds_median": med, "images": len(files),
            "vs_mbt2018_mean": {n: med[n] / med["mbt2018-mean"] for n in ("shallow-jpeglike", "shallow-2layer")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=6, help="Kodak images to time (0: MACs only)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "complexity.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result = {"macs_at_768x512": counted()}
    if args.images:
        result["wall_time"] = {**timed(args.images), "threads": args.threads, "machine": machine_info()}
    print(json.dumps(result, indent=1))
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
