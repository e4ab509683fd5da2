"""Kodak RD of a learned image codec (real .ncs sizes, its decoder) and JPEG on the same images.

    python results/learned_image/eval_kodak.py --codec shallow-jpeglike --checkpoint runs/jpeglike --every 3
    python results/learned_image/eval_kodak.py --codec mbt2018-mean --weights data/weights/mbt2018-mean.safetensors

Works for every :class:`~neurocodec.codecs.learned_image.LearnedImageCodec` (shallow-jpeglike,
bmshj2018-hyperprior, mbt2018-mean).
Per quality: the exact path (``codec.encode`` file sizes, ``codec.decode`` pixels) and, from a
checkpoint, the float training path (likelihood bpp, float reconstruction rounded to 8 bits).
PSNR and bpp are averaged over images (CompressAI's convention). Writes CompressAI-style JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from neurocodec import registry, weights
from neurocodec.bench.bdrate import bd_rate
from neurocodec.bench.metrics import bpp, psnr
from neurocodec.training import rd_loss

SHARED = Path(__file__).resolve().parents[3] / "shared"
KODAK = SHARED / "datasets" / "kodak"


def published_curves() -> dict[str, tuple[list, list]]:
    """Kodak curves on all 24 images: CompressAI's published mbt2018-mean, Yang & Mandt's published
    shallow syntheses, and our shipped mbt2018-mean (``results/hyperprior/kodak_mbt2018-mean.json``)."""
    ref = SHARED / "reference"
    mbt = json.loads((ref / "compressai_kodak" / "compressai-mbt2018-mean_mse_cpu.json").read_text())["results"]
    ntc = json.loads((ref / "shallow_ntc_kodak" / "aggregate.json").read_text())
    ours = json.loads((Path(__file__).parents[1] / "hyperprior" / "kodak_mbt2018-mean.json").read_text())["results"]
    return {"compressai mbt2018-mean": (mbt["bpp"], mbt["psnr-rgb"]), "our mbt2018-mean": (ours["bpp"], ours["psnr-rgb"]),
            **{f"Yang & Mandt {name}": (ntc[key]["bpp"], ntc[key]["psnr"])
               for name, key in (("JPEG-like", "JPEG-like_syn"), ("2-layer", "2-layer_syn"), ("2-layer + SGA", "2-layer_syn+SGA"))}}
JPEG_QUALITIES = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)


def kodak(every: int) -> list[np.ndarray]:
    files = sorted(KODAK.glob("kodim*.png"))[::every]
    return [np.asarray(Image.open(f).convert("RGB")) for f in files]


def jpeg_curve(images: list[np.ndarray]) -> dict:
    points = []
    for q in JPEG_QUALITIES:
        rates, psnrs = [], []
        for x in images:
            buf = io.BytesIO()
            Image.fromarray(x).save(buf, "JPEG", quality=q, subsampling=2)
            rates.append(bpp(buf.tell(), *x.shape[:2]))
            psnrs.append(psnr(x, np.asarray(Image.open(buf).convert("RGB"))))
        points.append((float(np.mean(rates)), float(np.mean(psnrs))))
    return {"name": "JPEG (Pillow, 4:2:0)", "results": {"quality": list(JPEG_QUALITIES),
            "bpp": [p[0] for p in points], "psnr-rgb": [p[1] for p in points]}}


def float_point(model, stride: int, x: np.ndarray, quality: int) -> tuple[float, float]:
    """Likelihood bpp and 8-bit PSNR of the float (training) path on one image."""
    h, w = x.shape[:2]
    padded = np.pad(x, ((0, -h % stride), (0, -w % stride), (0, 0)), mode="edge")
    t = torch.from_numpy(padded.transpose(2, 0, 1).copy()).float()[None] / 255
    with torch.no_grad():
        out = model(t, torch.tensor([quality - 1]))
    est_bits = rd_loss(t, out).bpp.item() * t.shape[2] * t.shape[3]
    x_hat = (out["x_hat"][0, :, :h, :w].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    return est_bits / (h * w), psnr(x, x_hat)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", default="shallow-jpeglike", help="a learned image codec's registry name")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="training folder with model.safetensors")
    src.add_argument("--weights", help="an exported weights file")
    ap.add_argument("--every", type=int, default=1, help="use every N-th Kodak image")
    ap.add_argument("--qualities", type=int, nargs="*", help="default: all of the codec's")
    ap.add_argument("--out", help="JSON output path")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cls = registry.codec_class(args.codec)
    images = kodak(args.every)
    model = None
    weights_path = args.weights
    if args.checkpoint:
        from safetensors.torch import load_file, save_file

        model = cls.build_model()
        model.load_state_dict(load_file(str(Path(args.checkpoint) / "model.safetensors")))
        model.eval()
        weights_path = str(Path(tempfile.mkdtemp()) / f"{cls.name}.safetensors")
        save_file(cls.export_state(model), weights_path)
        model.load_state_dict(load_file(str(Path(args.checkpoint) / "model.safetensors")))  # float again
    rows = []
    for q in args.qualities or cls.qualities:
        codec = cls(quality=q, weights=weights_path)
        r = {"quality": q, "bpp": [], "psnr": [], "float_bpp": [], "float_psnr": [], "enc_s": 0.0, "dec_s": 0.0}
        for x in images:
            t0 = time.perf_counter()
            data = codec.encode(x)
            t1 = time.perf_counter()
            x_hat = codec.decode(data)
            r["enc_s"] += t1 - t0
            r["dec_s"] += time.perf_counter() - t1
            r["bpp"].append(bpp(len(data), *x.shape[:2]))
            r["psnr"].append(psnr(x, x_hat))
            if model is not None:
                fb, fp = float_point(model, cls.stride, x, q)
                r["float_bpp"].append(fb)
                r["float_psnr"].append(fp)
        row = {k: (float(np.mean(v)) if isinstance(v, list) and v else v) for k, v in r.items()}
        row["enc_s"], row["dec_s"] = r["enc_s"] / len(images), r["dec_s"] / len(images)
        rows.append(row)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    jpeg = jpeg_curve(images)
    for b, p, q in zip(jpeg["results"]["bpp"], jpeg["results"]["psnr-rgb"], JPEG_QUALITIES):
        print(f"JPEG q{q}: {b:.4f} bpp {p:.3f} dB")
    result = {"name": cls.name, "sha256": weights.sha256_file(weights_path), "description": f"Kodak every {args.every}, real .ncs sizes, exact decoder",
              "results": {"quality": [r["quality"] for r in rows], "bpp": [r["bpp"] for r in rows],
                          "psnr-rgb": [r["psnr"] for r in rows], "float_bpp": [r["float_bpp"] for r in rows],
                          "float_psnr-rgb": [r["float_psnr"] for r in rows],
                          "encoding_time": [r["enc_s"] for r in rows], "decoding_time": [r["dec_s"] for r in rows]},
              "jpeg": jpeg}
    anchors = {"JPEG (same images)": (jpeg["results"]["bpp"], jpeg["results"]["psnr-rgb"])}
    if args.every == 1:
        anchors.update(published_curves())
    result["bd_rate_percent"] = {name: bd_rate(*curve, result["results"]["bpp"], result["results"]["psnr-rgb"])
                                 for name, curve in anchors.items()}
    print(json.dumps(result["bd_rate_percent"], indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
