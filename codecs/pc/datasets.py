"""MNIST-like image sets (28x28 uint8) from ``.npz`` or IDX ``.gz`` files."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

# Training and test files per dataset, relative to the datasets root.
DATASETS = {
    "mnist": ("mnist/train_first10k.npz", "mnist/t10k-images-idx3-ubyte.gz"),
    "fashion": ("fashion_mnist/train-images-idx3-ubyte.gz", "fashion_mnist/t10k-images-idx3-ubyte.gz"),
}


def datasets_root() -> Path:
    """``$NEUROCODEC_DATASETS`` or the shared folder beside the repository."""
    env = os.environ.get("NEUROCODEC_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def load_images(path: str | Path) -> np.ndarray:
    """uint8 images [N, H, W] from an ``.npz`` (key ``x``) or an IDX image file (optionally gzipped)."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            return np.asarray(f["x"], dtype=np.uint8)
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if int.from_bytes(raw[:4], "big") != 0x803:
        raise ValueError(f"{path} is not an IDX uint8 image file")
    n, h, w = (int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(raw, dtype=np.uint8, offset=16, count=n * h * w).reshape(n, h, w)


def load(name: str, split: str, limit: int | None = None) -> np.ndarray:
    """``split`` ("train" or "test") of dataset ``name`` ("mnist" or "fashion"), first ``limit`` images."""
    train, test = DATASETS[name]
    images = load_images(datasets_root() / (train if split == "train" else test))
    return images[:limit] if limit else images
