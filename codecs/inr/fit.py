"""Fitting an INR to a video: frames cached as uint8, Adam with warmup and cosine decay, global
magnitude pruning then fine-tuning with the masks held, a progress bar (epoch, PSNR, ETA) and an
optional time budget. CPU or CUDA. Training is not deterministic and need not be: only the
file it produces must decode identically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from neurocodec import media
from neurocodec.errors import NeurocodecError

from .compress import global_prune_masks


@dataclass(frozen=True)
class Schedule:
    """How long and how hard to fit. ``minutes`` caps the wall time (the epoch count shrinks to fit)."""

    epochs: int
    lr: float = 2e-3
    warmup: float = 0.1  # fraction of the run
    prune: float = 0.2  # fraction of decoder weights zeroed (global magnitude)
    finetune: float = 0.2  # fraction of the run after pruning
    batch: int = 1
    minutes: float | None = None


@dataclass
class FitReport:
    epochs: int = 0  # epochs started
    seconds: float = 0.0
    psnr: float = 0.0  # float model, last epoch's running mean
    history: list[tuple[float, float, float]] = field(default_factory=list)  # (epochs, seconds, psnr) per epoch


def read_frames(path: str | Path, limit: int | None = None) -> torch.Tensor:
    """All frames as one uint8 tensor N x 3 x H x W (3 bytes a pixel), streamed in from the file."""
    frames = []
    for i, frame in enumerate(media.iter_frames(path)):
        if limit is not None and i >= limit:
            break
        frames.append(torch.from_numpy(frame).permute(2, 0, 1).clone())
    if not frames:
        raise NeurocodecError(f"{Path(path).name} holds no video frames")
    return torch.stack(frames)


def psnr_of(mse: float) -> float:
    return 10 * math.log10(1 / max(mse, 1e-12))


def fit(model: nn.Module, prunable: list[nn.Parameter], frames: torch.Tensor, schedule: Schedule,
        device: str = "cpu", progress: bool = True) -> tuple[list[torch.Tensor], FitReport]:
    """Fit ``model.fit_forward(frames01, index)`` to ``frames`` (uint8); returns the prune masks.

    Progress through the run is the larger of steps done / steps planned and, with a time
    budget, time spent / budget; warmup, cosine decay, pruning (once, at ``1 - finetune``) and
    the end follow it, so a budget shortens the whole schedule rather than cutting its tail.
    After pruning the masks are re-applied after every step.
    """
    from tqdm import tqdm

    model.to(device).train()
    n = frames.shape[0]
    per_epoch = math.ceil(n / schedule.batch)
    planned = schedule.epochs * per_epoch
    budget = schedule.minutes * 60 if schedule.minutes is not None else math.inf
    optimizer = torch.optim.Adam(model.parameters(), lr=schedule.lr, betas=(0.9, 0.99))
    masks: list[torch.Tensor] | None = None
    report = FitReport()
    bar = tqdm(total=planned, disable=not progress, unit="step", dynamic_ncols=True, leave=False)
    start, step, done, sq_err, count = time.perf_counter(), 0, False, 0.0, 0
    while not done:
        for index in torch.randperm(n).split(schedule.batch):
            elapsed = time.perf_counter() - start
            frac = max(step / planned, elapsed / budget)
            if frac >= 1:
                done = True
                break
            if masks is None and schedule.prune > 0 and frac >= 1 - schedule.finetune:
                masks = global_prune_masks(prunable, schedule.prune)
                _apply(prunable, masks)
            lr = schedule.lr * min(1.0, frac / max(schedule.warmup, 1e-9), 0.5 * (1 + math.cos(math.pi * frac)))
            for group in optimizer.param_groups:
                group["lr"] = max(lr, schedule.lr * 1e-3)
            x = frames[index].to(device, non_blocking=True).float().div_(255)
            loss = torch.mean((model.fit_forward(x, index.to(device)) - x) ** 2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if masks is not None:
                _apply(prunable, masks)
            sq_err, count, step = sq_err + loss.item() * len(index), count + len(index), step + 1
            if step > 1 and elapsed > 0:  # steps the run will take, for the bar's ETA
                bar.total = max(step, min(planned, round(step / max(frac, 1e-9))))
            bar.update(1)
        if count:
            report.history.append((step / per_epoch, time.perf_counter() - start, psnr_of(sq_err / count)))
            bar.set_postfix_str(f"epoch {step / per_epoch:.1f}, PSNR {report.history[-1][2]:.2f} dB"
                                + (" (pruned)" if masks is not None else ""))
            sq_err, count = 0.0, 0
    bar.close()
    report.epochs = math.ceil(step / per_epoch)
    report.seconds, report.psnr = time.perf_counter() - start, report.history[-1][2] if report.history else 0.0
    model.eval()
    return masks or global_prune_masks(prunable, 0.0), report


@torch.no_grad()
def _apply(params: Iterable[nn.Parameter], masks: list[torch.Tensor]) -> None:
    for p, m in zip(params, masks):
        p.mul_(m)
