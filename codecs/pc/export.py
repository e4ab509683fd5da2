"""Quantize a training checkpoint into shipped weights and add its manifest row.

    python -m neurocodec.codecs.pc.export results/pc_lossless/mnist_k16.safetensors \\
        --dataset mnist --quality 1 --steps 600 --data "MNIST train first 10k"

The weights file holds the tree (``parent``), the image ``shape`` and uint8 log-codes of the
parameters (see :mod:`.exact`). ``python -m neurocodec.codecs.pc.bench --record`` then fills the
row's ``kodak`` field with the measured test-set bits/dim (the field name is shared by all
codecs; for this codec it is not a Kodak RD point).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from neurocodec import weights

from . import datasets
from .codec import PcLossless
from .exact import probabilities_to_codes

NOTE = ("quality 1 = MNIST model, 2 = Fashion-MNIST model; 'measured' holds the test-set bits/dim "
        "(one whole .ncs file per image, its stream only, the model's own -log2 p, and the whole set in one .ncs file)")


def export(checkpoint: Path, out: Path, shape: tuple[int, int]) -> None:
    """Write the uint8-coded weights of a float checkpoint to ``out``."""
    state = load_file(str(checkpoint))
    tensors = {"parent": state["parent"].to(torch.int16), "shape": torch.tensor(shape, dtype=torch.int16)}
    for name in ("prior", "transition", "leaves"):
        tensors[name] = torch.from_numpy(probabilities_to_codes(state[name].double().numpy()))
    save_file(tensors, str(out))
    out.chmod(0o644)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--dataset", choices=sorted(datasets.DATASETS), required=True)
    ap.add_argument("--quality", type=int, choices=PcLossless.qualities, required=True)
    ap.add_argument("--steps", type=int, required=True, help="EM updates made in training")
    ap.add_argument("--data", required=True, help="training data, in words")
    ap.add_argument("--device", default="cpu (2 cores, shared)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    k = load_file(str(args.checkpoint))["prior"].shape[0]
    out = weights.weights_dir() / f"pc-{args.dataset}-k{k}.safetensors"
    export(args.checkpoint, out, datasets.load(args.dataset, "test", 1).shape[1:])
    entry = weights.WeightsEntry(codec=PcLossless.name, quality=args.quality, file=out.name,
                                 sha256=weights.sha256_file(out), data=args.data, steps=args.steps,
                                 device=args.device, notes=f"HCLT k={k}; " + NOTE)
    weights.record(entry)
    print(entry)


if __name__ == "__main__":
    main()
