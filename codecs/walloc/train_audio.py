"""Training ``walloc-stereo`` on audio: random stereo chunks from audio folders.

The shared loop (:mod:`neurocodec.training`) reads images only, so this script supplies the
audio data and the audio loss, and reuses everything else of the shared conventions: the
checkpoint format (``model.safetensors`` + ``optimizer.safetensors`` + ``state.json``, no
pickle), ``--resume``, the aux optimizer for the quantiles, gradient clipping, the 10x learning
rate drop for the last 10 % of the steps. Each batch is drawn from ``(seed, step)``, so runs are
reproducible and resume where they stopped.

    python -m neurocodec.codecs.walloc.train_audio --data ../shared/datasets/audio/music \
        ../shared/datasets/audio/speech --out runs/walloc-stereo --steps 4000
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from neurocodec import media
from neurocodec.training import AUX_SUFFIX, Losses, load_checkpoint, save_checkpoint

from .codec import build_stereo, param_groups


def audio_loss(x: Tensor, out: dict) -> Losses:
    """Mean of ``lmbda * MSE + bits per sample frame`` (a frame: one sample of every channel)."""
    bits = sum(-torch.log2(lik).flatten(1).sum(1) for lik in out["likelihoods"].values()) / x.shape[-1]
    mse = (out["x_hat"] - x).square().flatten(1).mean(1)
    return Losses((out["lmbda"] * mse + bits).mean(), bits.mean(), mse.mean())


def load_clips(folders: list[str]) -> list[np.ndarray]:
    """Every audio file under ``folders`` as float32 stereo (mono duplicated)."""
    files = sorted(p for f in folders for p in Path(f).rglob("*") if p.suffix.lower() in media.AUDIO_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"no audio files under {', '.join(folders)}")
    clips = [media.read_audio(f).samples for f in files]
    return [np.broadcast_to(c, (2, c.shape[1])).copy() if c.shape[0] == 1 else c[:2] for c in clips]


def batch(clips: list[np.ndarray], size: int, length: int, seed: int, step: int) -> Tensor:
    """``size`` random chunks of ``length`` samples (clips picked by length, channels swapped at random)."""
    rng = np.random.default_rng([seed, step])
    weights = np.array([c.shape[1] for c in clips], dtype=float)
    out = np.zeros((size, 2, length), dtype=np.float32)
    for i, k in enumerate(rng.choice(len(clips), size, p=weights / weights.sum())):
        clip = clips[k]
        start = rng.integers(max(clip.shape[1] - length, 0) + 1)
        piece = clip[:, start:start + length]
        out[i, :, :piece.shape[1]] = piece[::-1] if rng.random() < 0.5 else piece
    return torch.from_numpy(out)


def train(data: list[str], out: Path, steps: int, lr: float, size: int, length: int, seed: int,
          checkpoint_every: int, resume: bool) -> dict:
    """Train ``walloc-stereo``'s model; returns the final JSON state."""
    torch.manual_seed(seed)
    model = build_stereo()
    aux = [p for n, p in model.named_parameters() if n.endswith(AUX_SUFFIX)]
    optimizers = {"main": torch.optim.Adam(param_groups(model, lr), lr=lr), "aux": torch.optim.Adam(aux, lr=1e-3)}
    base_lrs = [g["lr"] for g in optimizers["main"].param_groups]
    state = {"step": 0, "seconds": 0.0, "history": []}
    if resume and (out / "state.json").is_file():
        state = load_checkpoint(out, model, optimizers)
    state["config"] = {"data": data, "steps": steps, "lr": lr, "batch": size, "length": length, "seed": seed}
    clips = load_clips(data)
    ema: dict[str, float] = {}
    bar = tqdm(total=steps, initial=state["step"], dynamic_ncols=True)
    start, seconds0 = time.time(), state["seconds"]
    model.train()
    while state["step"] < steps:
        factor = 0.1 if state["step"] >= 0.9 * steps else 1.0
        for g, base in zip(optimizers["main"].param_groups, base_lrs):
            g["lr"] = base * factor
        x = batch(clips, size, length, seed, state["step"])
        losses = audio_loss(x, model(x))
        for opt in optimizers.values():
            opt.zero_grad(set_to_none=True)
        losses.loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in optimizers["main"].param_groups for p in g["params"]], 1.0)
        optimizers["main"].step()
        model.aux_loss().backward()
        optimizers["aux"].step()
        state["step"] += 1
        snr = 10 * math.log10(x.square().mean().item() / max(losses.mse.item(), 1e-12))
        for k, v in (("loss", losses.loss.item()), ("bits", losses.bpp.item()), ("snr", snr)):
            ema[k] = v if k not in ema else 0.98 * ema[k] + 0.02 * v
        bar.set_postfix({k: f"{v:.3f}" for k, v in ema.items()})
        bar.update(1)
        if state["step"] % checkpoint_every == 0 or state["step"] == steps:
            state["seconds"] = round(seconds0 + time.time() - start, 1)
            state["history"].append({"step": state["step"], "seconds": state["seconds"],
                                     **{k: round(v, 4) for k, v in ema.items()}})
            save_checkpoint(out, model, optimizers, state)
    bar.close()
    return state


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="audio folders, searched recursively")
    p.add_argument("--out", type=Path, default=Path("runs/walloc-stereo"))
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--length", type=int, default=16384, help="samples per chunk (a multiple of 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    state = train(args.data, args.out, args.steps, args.lr, args.batch, args.length, args.seed,
                  args.checkpoint_every, args.resume)
    print(json.dumps(state["history"][-1]))


if __name__ == "__main__":
    main()
