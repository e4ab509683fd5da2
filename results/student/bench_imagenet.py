"""Top-1 accuracy vs bytes per image on imagenet_1k: the Entropic Student against "JPEG / WebP,
decoded, then the full teacher", in one run on the same 224x224 centre crops.

    python results/student/bench_imagenet.py [--weights FILE] [--limit N] [--out results/student]

Every image goes through the standard evaluation transform (short side 256, centre crop 224,
:func:`~neurocodec.codecs.student.codec.eval_crop`). The teacher (EfficientNet-Lite0) classifies
the uncompressed crops; each student quality encodes the original image (its encoder applies the
same transform) to a complete .ncs file and classifies the decoded file (bytes = whole file);
JPEG and WebP (Pillow, the settings of ``neurocodec bench``) compress the crop, which is decoded
and classified by the full teacher (bytes = whole JPEG/WebP file). Labels come from the file
names (``<wnid>_<name>.jpg``; index = position of the wnid in the sorted list). The student's
top-1 is also given on the two halves of the set (even and odd file indices, ``top1_halves``), so
that a training recipe can be chosen on one half and reported on the other. Writes
``imagenet.json``, ``imagenet.csv`` and ``imagenet.png`` (top-1 vs bytes per image) and the
device-side MACs (student encoder vs the full teacher, 224x224).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from neurocodec.bench.classical import IMAGE_CODECS
from neurocodec.bench.complexity import macs
from neurocodec.codecs.student.codec import CROP, EntropicStudent, eval_crop, to_tensor
from neurocodec.codecs.student.model import StudentModel
from neurocodec.codecs.student.teacher import load_teacher
from neurocodec.media import read_image

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "imagenet_1k"
SWEEPS = {"jpeg": (5, 10, 20, 35, 60, 90), "webp": (5, 20, 50, 85)}
BATCH = 25


def load_imagenet(folder: Path, limit: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """The images (uint8 HxWx3, as stored) and their class indexes."""
    files = sorted(folder.glob("*.jpg"))
    wnids = sorted({f.name.split("_", 1)[0] for f in files})
    if len(wnids) != 1000:
        raise SystemExit(f"{folder}: expected 1000 classes, found {len(wnids)}")
    files = files[:limit]
    return [read_image(f) for f in files], np.array([wnids.index(f.name.split("_", 1)[0]) for f in files])


def accuracy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Top-1 and top-5 accuracy in percent."""
    top5 = np.argsort(-logits, axis=1)[:, :5]
    return 100 * float(np.mean(top5[:, 0] == labels)), 100 * float(np.mean((top5 == labels[:, None]).any(1)))


def teacher_logits(crops: list[np.ndarray]) -> np.ndarray:
    teacher = load_teacher()
    with torch.inference_mode():
        return np.concatenate([teacher(torch.cat([to_tensor(c) for c in crops[i:i + BATCH]])).numpy()
                               for i in range(0, len(crops), BATCH)])


def bytes_at(rows: list[dict], top1: float) -> float | None:
    """Bytes per image a baseline needs for ``top1``: log-linear interpolation on its monotone
    upper envelope; None outside its measured range."""
    pts = sorted((r["bytes_per_image"], r["top1"]) for r in rows)
    env = [pts[0]]
    for b, a in pts[1:]:
        if a > env[-1][1]:
            env.append((b, a))
    for (b0, a0), (b1, a1) in zip(env, env[1:]):
        if a0 <= top1 <= a1:
            t = (top1 - a0) / (a1 - a0)
            return float(np.exp(np.log(b0) + t * (np.log(b1) - np.log(b0))))
    return env[0][0] if top1 <= env[0][1] else None


def run(limit: int | None, weights: str | None) -> dict:
    images, labels = load_imagenet(DATA, limit)
    crops = [eval_crop(im) for im in images]
    start = time.time()
    t1, t5 = accuracy(teacher_logits(crops), labels)
    result: dict = {"name": "entropic-student", "images": len(images),
                    "description": "imagenet_1k (one image per class), 224x224 centre crops of the short-side-256 "
                                   "resize; bytes = whole file (.ncs, JPEG or WebP)",
                    "teacher": {"top1": t1, "top5": t5, "bytes_per_image": None}, "student": []}
    print(f"teacher: top-1 {t1:.1f} top-5 {t5:.1f} ({time.time() - start:.0f} s)", flush=True)
    for q in EntropicStudent.qualities:
        codec = EntropicStudent(quality=q, weights=weights)
        sizes, logits = [], []
        for im in images:
            data = codec.encode(im)
            sizes.append(len(data))
            logits.append(codec.decode(data))
        logits = np.stack(logits)
        a1, a5 = accuracy(logits, labels)
        halves = {half: accuracy(logits[first::2], labels[first::2])[0] for half, first in (("even", 0), ("odd", 1))}
        result["student"].append({"quality": q, "top1": a1, "top5": a5, "bytes_per_image": float(np.mean(sizes)),
                                  "top1_halves": halves})
        print(f"student q{q}: top-1 {a1:.1f} (halves {halves['even']:.1f} / {halves['odd']:.1f}) top-5 {a5:.1f} "
              f"{np.mean(sizes):.0f} B ({time.time() - start:.0f} s)", flush=True)
    for name, sweep in SWEEPS.items():
        codec = IMAGE_CODECS[name]
        result[name] = []
        result[f"{name}_description"] = codec.description
        for q in sweep:
            coder = codec.load(q)
            files = [coder.encode(c) for c in crops]
            a1, a5 = accuracy(teacher_logits([coder.decode(f) for f in files]), labels)
            size = float(np.mean([len(f) for f in files]))
            result[name].append({"quality": q, "top1": a1, "top5": a5, "bytes_per_image": size})
            print(f"{name} q{q}: top-1 {a1:.1f} top-5 {a5:.1f} {size:.0f} B ({time.time() - start:.0f} s)", flush=True)
    for row in result["student"]:
        jpeg = bytes_at(result["jpeg"], row["top1"])
        row["jpeg_bytes_same_top1"] = jpeg
        row["fraction_of_jpeg_bytes"] = None if jpeg is None else row["bytes_per_image"] / jpeg
    near = [r for r in result["student"] if r["top1"] >= t1 - 2]
    result["macs"] = complexity()
    result["targets"] = {
        "student_within_2_points_of_teacher": bool(near),
        "half_the_jpeg_bytes_there": bool(near) and any((r["fraction_of_jpeg_bytes"] or 2) <= 0.5 for r in near),
        "encoder_at_most_10_percent_of_teacher_macs": result["macs"]["encoder_fraction_of_teacher"] <= 0.10}
    return result


def complexity() -> dict:
    """MACs at 224x224 of the device-side encoder (image to latents) and of the full teacher."""
    x = torch.zeros(1, 3, CROP, CROP)
    model = StudentModel().eval()
    encoder, teacher = macs(lambda t: model.encode_latents(t, 0), x), macs(load_teacher(), x)
    return {"input": f"{CROP}x{CROP}", "encoder_macs": encoder, "teacher_macs": teacher,
            "encoder_fraction_of_teacher": encoder / teacher}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, style in (("student", "o-"), ("jpeg", "s--"), ("webp", "^--")):
        rows = sorted(result[key], key=lambda r: r["bytes_per_image"])
        label = "entropic-student" if key == "student" else f"{key.upper()} -> teacher"
        ax.plot([r["bytes_per_image"] for r in rows], [r["top1"] for r in rows], style, label=label)
    ax.axhline(result["teacher"]["top1"], color="gray", lw=1, label="teacher, uncompressed")
    ax.axhline(result["teacher"]["top1"] - 2, color="gray", lw=1, ls=":", label="teacher - 2 points")
    ax.set_xscale("log")
    ax.set_xlabel("bytes per image (whole file)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"imagenet_1k ({result['images']} images), 224x224 centre crops")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", help="student weights file (default: the shipped one)")
    p.add_argument("--limit", type=int, help="first N images only (quick checks)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(Path(__file__).parent))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    result = run(args.limit, args.weights)
    out = Path(args.out)
    (out / "imagenet.json").write_text(json.dumps(result, indent=1) + "\n")
    with open(out / "imagenet.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "quality", "top1", "top5", "bytes_per_image"])
        w.writerow(["teacher", "", result["teacher"]["top1"], result["teacher"]["top5"], ""])
        for key in ("student", "jpeg", "webp"):
            for r in result[key]:
                w.writerow([key, r["quality"], r["top1"], r["top5"], r["bytes_per_image"]])
    plot(result, out / "imagenet.png")
    print(json.dumps({"macs": result["macs"], "targets": result["targets"]}, indent=1))


if __name__ == "__main__":
    main()
