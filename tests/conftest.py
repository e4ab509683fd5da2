"""Shared fixtures: the toy codec, the shared datasets folder, small images."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import toy_codec  # noqa: E402

from neurocodec import registry  # noqa: E402

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def toy():
    """The toy codec class, registered for the test session."""
    registry.available()  # discover the real codecs first
    registry.register(toy_codec.ToyCodec)
    yield toy_codec.ToyCodec
    registry.unregister(toy_codec.ToyCodec)


@pytest.fixture
def image():
    """A small natural-looking RGB image (smooth gradients plus noise), odd size on purpose."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:37, 0:53]
    base = np.stack([xx * 4, yy * 6, (xx + yy) * 2], axis=-1)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def datasets(sub: str) -> Path:
    """Path of a shared dataset folder; skips the test when it is absent."""
    path = DATASETS / sub
    if not path.exists():
        pytest.skip(f"shared dataset {sub} not found at {path}")
    return path


def smooth_image(h: int = 70, w: int = 90, seed: int = 0, noise: float = 12.0) -> np.ndarray:
    """uint8 HxWx3 gradients plus Gaussian noise: a small stand-in for a photo."""
    yy, xx = np.mgrid[:h, :w]
    smooth = np.stack([xx * 2, yy * 3, (xx + yy) * 1.5], -1)
    return np.clip(smooth + np.random.default_rng(seed).normal(0, noise, (h, w, 3)) + 30, 0, 255).astype(np.uint8)


def untrained_weights_file(tmp_path_factory, filename: str, model, export) -> Path:
    """A weights file exported from an untrained model (seeded): everything but training is real."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / filename
    save_file(export(model()), str(path))
    return path


_DECODE_CHILD = """
import json, sys
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
import neurocodec
options = json.loads(sys.argv[2])
for name in sys.argv[3:]:
    with open(name, "rb") as f:
        np.save(name + ".npy", neurocodec.decode(f.read(), **options))
"""


def decode_in_fresh_process(files: list, threads: int = 1, **options) -> list[np.ndarray]:
    """``neurocodec.decode`` of each .ncs file in a new Python process with ``threads`` torch
    threads (``options``, e.g. ``weights=path``, are passed through)."""
    import json
    import subprocess

    options = {k: str(v) for k, v in options.items()}
    subprocess.run([sys.executable, "-c", _DECODE_CHILD, str(threads), json.dumps(options), *map(str, files)], check=True)
    return [np.load(f"{f}.npy") for f in files]
