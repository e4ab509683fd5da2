"""Train an HCLT by mini-batch EM, then full-batch EM; resumable checkpoints in safetensors.

    python -m neurocodec.codecs.pc.train --dataset mnist --k 16 --out results/pc_lossless/mnist_k16

Writes ``OUT.safetensors`` (float32 checkpoint, after every epoch) and ``OUT.log.jsonl``
(one line per epoch: train and monitor bits/dim under the float model, seconds). Resuming
continues from the checkpoint's epoch. ``--init`` starts from shipped weights (or a checkpoint)
instead of a random circuit (same tree; ``--split`` doubles its latent states). ``--shift S``
augments every epoch with random translations of up to ``S`` pixels (zero fill), which MNIST's
small training set (10k images) needs against overfitting. The shipped, exactly quantized
weights come from :mod:`.export`.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from . import datasets
from .hclt import HCLT
from .structure import chow_liu


def bits_per_dim(model: HCLT, x: np.ndarray, batch: int, device: str) -> float:
    """Float-model bits/dim of ``x`` [N, D] (approximate: float32)."""
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = torch.from_numpy(x[i:i + batch].astype(np.int64)).to(device)
            total -= model.log_likelihood(xb).double().sum().item()
    return total / (x.size * math.log(2))


def shifted(x: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Each image of ``x`` [N, H, W] moved by its own random (dy, dx) in [-limit, limit]^2, zero fill."""
    n, h, w = x.shape
    pad = np.pad(x, ((0, 0), (limit, limit), (limit, limit)))
    dy, dx = rng.integers(0, 2 * limit + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return pad[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=sorted(datasets.DATASETS), default="mnist")
    ap.add_argument("--train-limit", type=int, default=None, help="first N training images (default all)")
    ap.add_argument("--monitor", type=int, default=1000, help="test images whose bpd is logged (0: none)")
    ap.add_argument("--k", type=int, default=16, help="latent states per hidden variable")
    ap.add_argument("--minibatch-epochs", type=int, default=20)
    ap.add_argument("--full-epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--step", type=float, nargs=2, default=(0.5, 0.05), help="mini-batch EM step, first and last")
    ap.add_argument("--pseudocount", type=float, nargs=2, default=(1e-2, 1e-3), help="latent, leaf (per entry)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shift", type=int, default=0, help="random translations of up to this many pixels")
    ap.add_argument("--init", type=Path, default=None, help="weights file (shipped or a checkpoint) to start from")
    ap.add_argument("--split", action="store_true", help="with --init: double k by splitting every latent state")
    ap.add_argument("--out", type=Path, required=True, help="checkpoint path without suffix")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    images = datasets.load(args.dataset, "train", args.train_limit)
    shape = images.shape[1:]
    x = images.reshape(len(images), -1)
    monitor = datasets.load(args.dataset, "test", args.monitor).reshape(-1, x.shape[1]) if args.monitor else None
    ckpt, log = args.out.with_suffix(".safetensors"), args.out.with_suffix(".log.jsonl")
    if ckpt.exists():
        state = load_file(str(ckpt))
        model, start = HCLT.from_state_dict(state, args.device), int(state["epoch"])
    elif args.init:
        init = load_file(str(args.init))
        load = HCLT.from_codes if init["leaves"].dtype == torch.uint8 else HCLT.from_state_dict
        model, start = load(init, args.device), 0
        model = model.split(args.seed) if args.split else model
    else:
        model = HCLT.initial(chow_liu(x, shape), args.k, x, args.seed, args.device)
        start = 0
    total = args.minibatch_epochs + args.full_epochs
    rng = np.random.default_rng(args.seed)
    for epoch in range(start, total):
        t0 = time.time()
        if args.shift:
            x = shifted(images, args.shift, rng).reshape(len(images), -1)
        perm = rng.permutation(len(x)) if epoch < args.minibatch_epochs else np.arange(len(x))
        frac = epoch / max(1, args.minibatch_epochs - 1)
        step = args.step[0] + (args.step[1] - args.step[0]) * min(1.0, frac)
        acc, ll = None, 0.0
        for i in tqdm(range(0, len(x), args.batch), desc=f"epoch {epoch + 1}/{total}", leave=False):
            xb = torch.from_numpy(x[perm[i:i + args.batch]].astype(np.int64)).to(args.device)
            counts, batch_ll = model.expected_counts(xb)
            ll += batch_ll
            if epoch < args.minibatch_epochs:
                model.em_update(counts, step, args.pseudocount)
            else:
                acc = counts if acc is None else [a + c for a, c in zip(acc, counts)]
        if acc is not None:
            model.em_update(acc, 1.0, args.pseudocount)
        row = {"epoch": epoch + 1, "train_bpd": -ll / (x.size * math.log(2)), "seconds": time.time() - t0,
               "kind": "minibatch" if epoch < args.minibatch_epochs else "full"}
        if monitor is not None:
            row["monitor_bpd"] = bits_per_dim(model, monitor, args.batch, args.device)
        state = model.state_dict()
        state["epoch"] = torch.tensor(epoch + 1)
        save_file(state, str(ckpt) + ".tmp")
        Path(str(ckpt) + ".tmp").replace(ckpt)
        with open(log, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
