"""The one training loop for every trainable codec.

A codec family plugs in through a :class:`Recipe`, returned by its codec class's
``training_recipe(lmbda=None)`` classmethod (``lmbda`` from ``--lmbda``; variable-rate recipes
reject it) and found with :func:`recipe_for`:

- ``build()`` -> the model, an ``nn.Module`` whose ``forward(x)`` (x: float NCHW in [0, 1])
  returns ``{"x_hat": ..., "likelihoods": {name: tensor}, "lmbda": float or per-image tensor}``;
  a variable-rate model picks its own per-image lambda (e.g. a random quality per image);
- ``loss(x, out)`` -> :class:`Losses` (default :func:`rd_loss`: lambda * 255^2 * MSE + bpp;
  ``TrainConfig.loss="psnr"`` replaces it by :func:`psnr_loss` for decoder-only fine-tunes);
- an optional ``aux_loss()`` method on the model (entropy bottleneck quantiles), minimised
  with its own optimizer over the parameters named ``*quantiles``;
- ``param_groups(model, lr)`` to give some parameters their own learning rate;
- ``from_weights(path)`` -> a model rebuilt from a shipped weights file, for ``--init FILE``
  when that file omits float weights the training model needs (default: load the file as is);
- defaults for steps, learning rate, batch size and crop size.

Checkpoints are ``model.safetensors`` + ``optimizer.safetensors`` + ``state.json`` (no pickle);
``--resume`` continues the model, the optimizers, the learning-rate schedule and the data
stream where they stopped (the training noise is freshly seeded). Data: every image under a
folder, random crops (images smaller than the crop are upscaled; with ``short_side``, every image
is first resized into a short-side range) and horizontal flips, each sample drawn from a seed and
its global sample number, so runs are reproducible and resumable.
Distributed: under ``torchrun`` (``WORLD_SIZE`` set) each rank draws its own samples and the
model is wrapped in ``DistributedDataParallel``; rank 0 writes checkpoints and the progress bar.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from .errors import NeurocodecError
from .weights import sha256_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
AUX_SUFFIX = "quantiles"


@dataclass(frozen=True)
class Losses:
    loss: Tensor  # minimised by the main optimizer
    bpp: Tensor  # for the progress bar
    mse: Tensor  # on [0, 1] pixel values


def _bpp_and_mse(x: Tensor, out: dict) -> tuple[Tensor, Tensor]:
    """Per image: bits per pixel estimated from the likelihoods, and MSE on [0, 1] pixels."""
    num_pixels = x.shape[2] * x.shape[3]
    bpp = sum(-torch.log2(lik).flatten(1).sum(1) for lik in out["likelihoods"].values()) / num_pixels
    return bpp, (out["x_hat"] - x).square().flatten(1).mean(1)


def rd_loss(x: Tensor, out: dict) -> Losses:
    """Mean over images of ``lmbda * 255^2 * MSE + bpp`` (lmbda per image or one float)."""
    bpp, mse = _bpp_and_mse(x, out)
    return Losses((out["lmbda"] * 255**2 * mse + bpp).mean(), bpp.mean(), mse.mean())


def psnr_loss(x: Tensor, out: dict) -> Losses:
    """Mean over images of ``10 log10 MSE`` (minus the mean PSNR); the rate is ignored. For
    fine-tuning a decoder alone (``--train-only g_s``), whose bits are fixed: where :func:`rd_loss`
    weighs each image's MSE by its lambda, this weighs a dB at every quality alike."""
    bpp, mse = _bpp_and_mse(x, out)
    return Losses((10 * torch.log10(mse.clamp_min(1e-10))).mean(), bpp.mean(), mse.mean())


@dataclass(frozen=True)
class Recipe:
    """How to train one codec family (see the module docstring)."""

    build: Callable[[], nn.Module]
    loss: Callable[[Tensor, dict], Losses] = rd_loss
    param_groups: Callable[[nn.Module, float], list[dict]] | None = None
    from_weights: Callable[[Path], nn.Module] | None = None
    steps: int = 2000
    lr: float = 1e-4
    batch: int = 8
    crop: int = 256


def refuse_lmbda(codec: str, lmbda: float | None) -> None:
    """For variable-rate recipes, whose lambdas are a fixed per-quality ladder: ``--lmbda`` is an error."""
    if lmbda is not None:
        raise NeurocodecError(f"{codec} is variable-rate: its lambdas are fixed, drop --lmbda")


def recipe_for(codec: str, lmbda: float | None = None) -> Recipe:
    """The training recipe of the registered codec ``codec``."""
    from .registry import codec_class

    return codec_class(codec).training_recipe(lmbda)


@dataclass
class TrainConfig:
    data: list[str]
    out: str
    steps: int
    lr: float
    batch: int
    crop: int
    device: str = "cpu"
    seed: int = 0
    workers: int = 0
    checkpoint_every: int = 100
    init: str | None = None  # start from these weights (a checkpoint folder or a weights file)
    lr_drop_at: float = 0.9  # the learning rate drops 10x for the last 10 % of the steps
    minutes: float | None = None  # wall-time budget (this run): stop early, the drop comes at lr_drop_at of it
    train_only: tuple[str, ...] = ()  # if given, only parameters whose names start so learn (aux ones always do)
    short_side: tuple[int, int] | None = None  # resize each image's short side into this range before cropping
    loss: str = "rd"  # "rd": the recipe's own loss; "psnr": psnr_loss (with train_only: it ignores the rate)


def image_files(folders: list[str]) -> list[Path]:
    """Every image under ``folders`` (recursively), sorted for reproducibility."""
    files = sorted(p for f in folders for p in Path(f).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images under {', '.join(folders)}")
    return files


class RandomCrops(torch.utils.data.Dataset):
    """Item ``n`` is a random crop (and flip) of a random image, drawn from ``(seed, n)``. With
    ``short_side=(lo, hi)``, each image is first resized (antialiased) so that its short side is a
    random length in ``[lo, hi]`` pixels: crops then see objects at the scale of an evaluation
    pipeline that resizes too (a classifier's short-side-256 crops), and at several scales."""

    def __init__(self, files: list[Path], crop: int, seed: int = 0, short_side: tuple[int, int] | None = None):
        if short_side and not crop <= short_side[0] <= short_side[1]:
            raise ValueError(f"short side range {short_side} must satisfy crop ({crop}) <= low <= high")
        self.files, self.crop, self.seed, self.short_side = files, crop, seed, short_side

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, n: int) -> Tensor:
        rng = np.random.default_rng([self.seed, n])
        with Image.open(self.files[rng.integers(len(self.files))]) as im:
            im = im.convert("RGB")
            if self.short_side:
                scale = rng.integers(self.short_side[0], self.short_side[1] + 1) / min(im.size)
            else:
                scale = max(1.0, self.crop / min(im.size))
            if scale != 1:
                im = im.resize((math.ceil(im.width * scale), math.ceil(im.height * scale)), Image.BICUBIC)
            left, top = rng.integers(im.width - self.crop + 1), rng.integers(im.height - self.crop + 1)
            a = np.asarray(im.crop((left, top, left + self.crop, top + self.crop)))
        if rng.random() < 0.5:
            a = a[:, ::-1]
        return torch.from_numpy(a.transpose(2, 0, 1).copy()).float() / 255


def batches(dataset: RandomCrops, batch: int, start_step: int, rank: int, world: int,
            workers: int) -> Iterator[Tensor]:
    """Batches from step ``start_step`` on; rank ``r`` draws samples ``(step*world + r)*batch + i``."""
    def sample_numbers() -> Iterator[int]:
        step = start_step
        while True:
            first = (step * world + rank) * batch
            yield from range(first, first + batch)
            step += 1

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sample_numbers(),
                                         num_workers=workers)
    return iter(loader)


# --- checkpoints (safetensors + JSON, never pickle) ----------------------------------------
def _optimizer_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors = {f"{prefix}.{i}.{k}": v.contiguous() for i, s in sd["state"].items() for k, v in s.items()}
    return tensors, {"param_groups": sd["param_groups"]}


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict, meta: dict, prefix: str) -> None:
    state: dict = {}
    for key, value in tensors.items():
        p, i, k = key.split(".", 2)
        if p == prefix:
            state.setdefault(int(i), {})[k] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(folder: Path, model: nn.Module, optimizers: dict[str, torch.optim.Optimizer],
                    state: dict) -> None:
    """Write the checkpoint atomically (temporary files, then renames; state.json last)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors, meta = {}, {}
    for name, opt in optimizers.items():
        t, m = _optimizer_tensors(opt, name)
        tensors.update(t)
        meta[name] = m
    files = {"model.safetensors": {k: v.contiguous() for k, v in model.state_dict().items()},
             "optimizer.safetensors": tensors}
    for name, t in files.items():
        save_file(t, str(folder / (name + ".tmp")))
        os.replace(folder / (name + ".tmp"), folder / name)
    (folder / "state.json.tmp").write_text(json.dumps({**state, "optimizers": meta}, indent=1))
    os.replace(folder / "state.json.tmp", folder / "state.json")


def load_checkpoint(folder: Path, model: nn.Module, optimizers: dict[str, torch.optim.Optimizer]) -> dict:
    """Restore model and optimizers; returns the JSON state (``step`` etc.)."""
    from safetensors.torch import load_file

    state = json.loads((folder / "state.json").read_text())
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    tensors = load_file(str(folder / "optimizer.safetensors"))
    for name, opt in optimizers.items():
        _load_optimizer(opt, tensors, state["optimizers"][name], name)
    return state


# --- the loop ---------------------------------------------------------------------------------
def _distributed() -> tuple[int, int]:
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def initial_weights(recipe: Recipe, init: Path) -> dict[str, Tensor]:
    """Model weights for ``--init``: a checkpoint folder's, or a weights file's, read by
    ``recipe.from_weights`` when it has one (which may convert another codec's file)."""
    from safetensors.torch import load_file

    if init.is_file() and recipe.from_weights is not None:
        return {k: v.float() if v.is_floating_point() else v for k, v in recipe.from_weights(init).state_dict().items()}
    return load_file(str(init if init.is_file() else init / "model.safetensors"))


def train(recipe: Recipe, config: TrainConfig, resume: bool = False) -> dict:
    """Train ``recipe``'s model under ``config``; returns the final JSON state."""
    from tqdm import tqdm

    if config.loss == "psnr" and not config.train_only:
        raise ValueError("--loss psnr ignores the rate: train the decoder alone with it (--train-only g_s)")
    rank, world = _distributed()
    device = torch.device(config.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.manual_seed(config.seed * 1000 + rank)
    model = recipe.build().to(device)
    if config.train_only:  # frozen parts get no gradients: their backward pass is skipped, not just unused
        for n, p in model.named_parameters():
            p.requires_grad_(n.endswith(AUX_SUFFIX) or n.startswith(tuple(config.train_only)))
    aux = [p for n, p in model.named_parameters() if n.endswith(AUX_SUFFIX)]
    aux_ids = {id(p) for p in aux}
    main = [p for p in model.parameters() if id(p) not in aux_ids]
    groups = recipe.param_groups(model, config.lr) if recipe.param_groups else [{"params": main}]
    optimizers = {"main": torch.optim.Adam(groups, lr=config.lr)}
    if aux:
        optimizers["aux"] = torch.optim.Adam(aux, lr=1e-3)
    out = Path(config.out)
    state = {"step": 0, "seconds": 0.0, "config": asdict(config), "history": []}
    if resume and (out / "state.json").is_file():
        state = {**load_checkpoint(out, model, optimizers), "config": asdict(config)}
        for opt in optimizers.values():  # optimizer tensors come back on the CPU
            for s in opt.state.values():
                for k, v in s.items():
                    if torch.is_tensor(v) and k != "step":
                        s[k] = v.to(device)
    elif config.init:
        # Weights whose name and shape match are copied (e.g. bmshj2018-hyperprior's transforms
        # from an mbt2018-mean checkpoint); the rest keep their initialisation and are recorded.
        init, own = initial_weights(recipe, Path(config.init)), model.state_dict()
        usable = {k: v for k, v in init.items() if k in own and own[k].shape == v.shape}
        if not usable:
            raise ValueError(f"--init {config.init}: no weights fit this model")
        state["init_missing"] = model.load_state_dict(usable, strict=False).missing_keys
        if Path(config.init).is_file():  # which file it was, even after the path is overwritten
            state["init_sha256"] = sha256_file(config.init)
        state["init_unused"] = sorted(set(init) - set(usable))
        if rank == 0 and (state["init_missing"] or state["init_unused"]):
            print(f"--init: {len(usable)} tensors copied, {len(state['init_missing'])} kept their "
                  f"initialisation, {len(state['init_unused'])} unused")
    base_lrs = [[g["lr"] for g in opt.param_groups] for opt in optimizers.values()]
    net = model
    if world > 1:
        # The quantiles only appear in the aux loss; each rank updates them identically.
        nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
            model, [n for n, _ in model.named_parameters() if n.endswith(AUX_SUFFIX)])
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    data = batches(RandomCrops(image_files(config.data), config.crop, config.seed, config.short_side),
                   config.batch, state["step"], rank, world, config.workers)
    bar = tqdm(total=config.steps, initial=state["step"], disable=rank != 0, dynamic_ncols=True)
    ema: dict[str, float] = {}
    model.train()
    start, seconds0 = time.time(), state["seconds"]

    def checkpoint() -> None:
        state["seconds"] = round(seconds0 + time.time() - start, 1)
        state["history"].append({"step": state["step"], "seconds": state["seconds"],
                                 **{k: round(v, 4) for k, v in ema.items()}})
        save_checkpoint(out, model, optimizers, state)

    budget = config.minutes * 60 if config.minutes else math.inf
    loss_fn = {"rd": recipe.loss, "psnr": psnr_loss}[config.loss]
    while state["step"] < config.steps and (elapsed := time.time() - start) < budget:
        late = state["step"] >= config.lr_drop_at * config.steps or elapsed >= config.lr_drop_at * budget
        factor = 0.1 if late else 1.0
        for opt, lrs in zip(optimizers.values(), base_lrs):
            for g, lr in zip(opt.param_groups, lrs):
                g["lr"] = lr * factor if opt is optimizers["main"] else lr
        x = next(data).to(device, non_blocking=True)
        losses = loss_fn(x, net(x))
        for opt in optimizers.values():
            opt.zero_grad(set_to_none=True)
        losses.loss.backward()
        torch.nn.utils.clip_grad_norm_(main, 1.0)
        optimizers["main"].step()
        if aux:
            model.aux_loss().backward()
            optimizers["aux"].step()
        state["step"] += 1
        psnr = -10 * math.log10(max(losses.mse.item(), 1e-12))
        for k, v in (("loss", losses.loss.item()), ("bpp", losses.bpp.item()), ("psnr", psnr)):
            ema[k] = v if k not in ema else 0.98 * ema[k] + 0.02 * v
        postfix = {k: f"{v:.3f}" for k, v in ema.items()}
        if budget < math.inf:  # tqdm's ETA counts to --steps; the time budget may end the run first
            postfix["stop in"] = f"{(budget - elapsed) / 60:.0f} min"
        bar.set_postfix(postfix)
        bar.update(1)
        if rank == 0 and state["step"] % config.checkpoint_every == 0:
            checkpoint()
    if rank == 0 and (not state["history"] or state["history"][-1]["step"] != state["step"]):
        checkpoint()  # the last step, also where the time budget ended the run
    bar.close()
    return state
