"""Iterative encoding: per-image optimisation of a learned image codec's latents.

An amortised encoder (one forward pass) leaves rate-distortion on the table, most of all for
shallow decoders (Yang & Mandt 2023). :func:`refine_latents` starts from the encoder's latents
and runs Adam on the training proxy of ``lambda * 255^2 * MSE + bpp``: uniform noise in place
of rounding, for the rate and the distortion alike (a straight-through estimator was measured
to make things worse: its gradients ignore where rounding flips). Every ``check_every`` steps
the real loss, with rounding, is measured and the best iterate kept, so the result is never
worse than the encoder's own latents by that measure. Only the encoder changes: files decode
with the same decoder, exactly. The noise comes from a fixed seed: encoding is repeatable.

The model provides ``corrected_latents(x, q)`` (the start), ``decode_latents(y_hat, q)``, ``hyper`` (a
:class:`~neurocodec.codecs.latent_codecs.HyperpriorLatentCodec`), ``position_offset`` and
``lambdas`` (``q``: 0-based quality indexes, one per image).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _loss(model: nn.Module, y: Tensor, x: Tensor, q: Tensor, offset: Tensor, noise: Tensor | None) -> Tensor:
    """``lambda * 255^2 * MSE + bpp of y``: with rounding (eval) or with ``noise`` (the proxy).
    z's rate is left out: z follows y through rounding, so it has no gradient here."""
    model.hyper.train(noise is not None)
    y_hat, likelihoods = model.hyper(y, offset)
    x_hat = model.decode_latents(y_hat if noise is None else y + noise, q)
    bpp = -torch.log2(likelihoods["y"]).sum() / (x.shape[2] * x.shape[3])
    return model.lambdas[q[0]] * 255**2 * (x_hat - x).square().mean() + bpp


def refine_latents(model: nn.Module, x: Tensor, quality: int, steps: int, lr: float = 0.01,
                   check_every: int = 10, progress: bool = False) -> Tensor:
    """Latents ``y`` of ``x`` (one image, NCHW in [0, 1]) refined for ``steps`` steps: the best
    iterate by the rounded loss (see the module docstring)."""
    devices = [x.device] if x.is_cuda else []
    with torch.random.fork_rng(devices=devices):  # seeded noise; the caller's RNG state is untouched
        torch.manual_seed(0)
        return _refine(model, x, quality, steps, lr, check_every, progress)


def _refine(model: nn.Module, x: Tensor, quality: int, steps: int, lr: float, check_every: int,
            progress: bool) -> Tensor:
    from tqdm import tqdm

    q = torch.tensor([quality], device=x.device)
    offset = model.position_offset[q][:, :, None, None].detach()
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    model.requires_grad_(False)
    try:
        with torch.no_grad():
            y = model.corrected_latents(x, q)
            best, best_loss = y, _loss(model, y, x, q, offset, None).item()
        y = y.clone().requires_grad_(True)
        opt = torch.optim.Adam([y], lr=lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        bar = tqdm(range(1, steps + 1), desc="refining latents", unit="step", disable=not progress, leave=False)
        for step in bar:
            noise = torch.rand(y.shape, device=y.device) - 0.5
            with torch.enable_grad():
                loss = _loss(model, y, x, q, offset, noise)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            if step % check_every == 0 or step == steps:
                with torch.no_grad():
                    rounded = _loss(model, y, x, q, offset, None).item()
                if rounded < best_loss:
                    best, best_loss = y.detach().clone(), rounded
                bar.set_postfix(loss=f"{best_loss:.4f}")
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)
    return best
