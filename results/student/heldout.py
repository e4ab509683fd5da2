"""Choose between student checkpoints without touching the evaluation set: agreement with the
teacher on unlabeled images that neither training (BSDS500) nor the benchmark (imagenet_1k) uses.

    python results/student/heldout.py data/weights/entropic-student.safetensors runs/entropic-student/stage2 ...

Held-out images: the 24 Kodak photos (centre and four corner 224x224 crops of the short-side-256
resize) and every 10th frame of bikes.mp4 and every 6th of bigbuckbunny.mp4 (centre crops), 167
crops in all. For each checkpoint and quality: the share of crops whose top-1 class equals the
teacher's, and the mean KL(teacher || student) of the softmax outputs, with the latents rounded
as in a file.

A proxy, and a weak one for recipe changes that move the training distribution: on 2026-12-06 it
preferred a run that imagenet_1k scored 1.8 points lower (results/student/README.md).
Recipe choices since are made on one half of imagenet_1k and reported on the other
(``top1_halves`` in bench_imagenet.py's JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from neurocodec.codecs.student.codec import CROP, RESIZE, eval_crop, load_student, to_tensor
from neurocodec.codecs.student.model import StudentModel
from neurocodec.codecs.student.teacher import load_teacher
from neurocodec.codecs.student.train import checkpoint_student
from neurocodec.media import iter_frames, read_image

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
VIDEOS = {"bikes.mp4": 10, "bigbuckbunny.mp4": 6}


def five_crops(image: np.ndarray) -> list[np.ndarray]:
    """Centre and corner 224x224 crops of the short-side-256 resize."""
    h, w = image.shape[:2]
    scale = RESIZE / min(h, w)
    resized = np.asarray(Image.fromarray(image).resize((round(w * scale), round(h * scale)), Image.BILINEAR))
    H, W = resized.shape[:2]
    corners = [(0, 0), (0, W - CROP), (H - CROP, 0), (H - CROP, W - CROP)]
    return [eval_crop(image)] + [resized[t:t + CROP, l:l + CROP] for t, l in corners]


def heldout_crops() -> torch.Tensor:
    crops = [c for f in sorted((DATASETS / "kodak").glob("*.png")) for c in five_crops(read_image(f))]
    for name, every in VIDEOS.items():
        crops += [eval_crop(frame) for i, frame in enumerate(iter_frames(DATASETS / "video" / name)) if i % every == 0]
    return torch.cat([to_tensor(c) for c in crops])


def load_checkpoint(folder: Path) -> StudentModel:
    """A training checkpoint folder's student, or an exported weights file's."""
    return load_student(folder) if folder.is_file() else checkpoint_student(folder).eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", type=Path, help="training checkpoint folders (model.safetensors) "
                   "or exported weights files")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if not (DATASETS / "kodak").is_dir():
        sys.exit(f"{DATASETS}: datasets absent")
    x, teacher = heldout_crops(), load_teacher()
    with torch.inference_mode():
        t_logp = F.log_softmax(teacher(x), 1)
        for folder in args.checkpoints:
            model, rows = load_checkpoint(folder), []
            for q in range(model.num_qualities):
                split = model.decode_latents(torch.round(model.encode_latents(x, q)), q)
                s_logp = F.log_softmax(teacher.tail(split), 1)
                kl = float((t_logp.exp() * (t_logp - s_logp)).sum(1).mean())
                agree = 100 * float((s_logp.argmax(1) == t_logp.argmax(1)).float().mean())
                rows.append({"quality": q + 1, "agree": round(agree, 1), "kl": round(kl, 4)})
            print(json.dumps({"checkpoint": str(folder), "crops": len(x), "mean_agree": round(np.mean(
                [r["agree"] for r in rows]), 2), "mean_kl": round(np.mean([r["kl"] for r in rows]), 4),
                "rows": rows}), flush=True)


if __name__ == "__main__":
    main()
