"""Grow a 7-quality hyperprior weights file to the current quality ladder (``LAMBDAS``).

The ladder once held 7 lambdas (0.0018 .. 0.0932); on 2026-11-25 two halvings were added below
them. This copies every tensor of the old file and fills the new, lower qualities' rows of the
per-quality tensors (gains and scale offsets) by extending each channel's line through the old
qualities 1 and 2 in log-lambda: a starting point for training those rows (the README says what
training them then bought). The 7-quality files are in git history:

    git show a7f8864:data/weights/mbt2018-mean.safetensors > /tmp/mbt7.safetensors
    python results/hyperprior/extend_ladder.py mbt2018-mean /tmp/mbt7.safetensors /tmp/mbt9.safetensors

writes the whole float training state (the z density, which the shipped file omits, refitted to
its z tables as ``--init`` does); train it with ``neurocodec train CODEC --init OUT --train-only ...``."""

from __future__ import annotations

import argparse
import math

import torch
from safetensors.torch import load_file, save_file

from neurocodec.codecs.hyperprior.model import LAMBDAS
from neurocodec.registry import codec_class

PER_QUALITY = ("log_gain", "position_offset")  # trained rows; the rest is derived by update()


def extend(old: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``old`` with its per-quality tensors grown to ``len(LAMBDAS)`` rows (new rows first)."""
    old_lambdas = [float(v) for v in old["lambdas"].float()]
    added = len(LAMBDAS) - len(old_lambdas)
    if added <= 0 or not all(math.isclose(a, b, rel_tol=1e-2) for a, b in zip(old_lambdas, LAMBDAS[added:])):
        raise SystemExit(f"this file's ladder {old_lambdas} is not the top of {LAMBDAS}")
    new = {k: v for k, v in old.items() if k not in PER_QUALITY + ("lambdas", "position_offset_fx", "inverse_gain")}
    step = math.log(old_lambdas[1] / old_lambdas[0])
    for name in PER_QUALITY:
        rows = old[name].float()
        slope = (rows[1] - rows[0]) / step
        below = [rows[0] + slope * math.log(lmbda / old_lambdas[0]) for lmbda in LAMBDAS[:added]]
        new[name] = torch.cat([torch.stack(below), rows]).to(old[name].dtype)
    return new  # position_offset_fx and inverse_gain are derived from these by model.update()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("codec", help="mbt2018-mean or bmshj2018-hyperprior")
    p.add_argument("old", help="that codec's 7-quality weights file")
    p.add_argument("out", help="where to write the grown training state (for --init)")
    args = p.parse_args()
    model = codec_class(args.codec).build_model()
    grown = extend(load_file(args.old))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in grown.items()}, strict=False)
    model.restore_float()
    model.hyper.z.fit_density_to_tables()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.out)


if __name__ == "__main__":
    main()
