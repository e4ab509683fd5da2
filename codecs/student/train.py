"""Two-stage training of the Entropic Student on unlabeled images, through the shared loop.

Stage 1 (:func:`stage1_recipe`): feature distillation. The student (its teacher-shaped parts
initialised from the teacher) learns to reproduce the frozen teacher's features at block 2 (the
decoder's rebuilt features), at the split point and, through the teacher's frozen tail, at
blocks ``DISTILL_BLOCKS``: loss = sum over depths of the MSE relative to the teacher features'
variance + beta(quality) x bits per input pixel, with a random quality per batch.

Stage 2 (:func:`stage2_recipe`, from stage 1's checkpoint): the device side (stem, encoder,
gains, priors) is frozen and runs as at coding time (rounded latents); the server side (the
decoder and its copies of teacher blocks 3-4) is fine-tuned by knowledge distillation,
KL(teacher softmax || student softmax) on the logits. The teacher's tail stays unchanged, so it
is not part of the shipped weights. No labels are used anywhere.

    python -m neurocodec.codecs.student.train --data ../shared/datasets/train/bsds500
    python -m neurocodec.codecs.student.train --export runs/entropic-student/stage2
    python -m neurocodec.codecs.student.train --measured results/student/imagenet.json  # manifest numbers
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neurocodec import training, weights

from .model import BETAS, REBUILT_BLOCK, StudentModel
from .teacher import DISTILL_BLOCKS, SPLIT_BLOCK, load_teacher

CODEC = "entropic-student"
WEIGHTS_FILE = f"{CODEC}.safetensors"


def relative_mse(student: Tensor, teacher: Tensor) -> Tensor:
    """MSE divided by the teacher features' variance (so every depth weighs alike)."""
    return (student - teacher).square().mean() / teacher.var().clamp_min(1e-6)


class Distillation(nn.Module):
    """Training wrapper: the student (its teacher-shaped parts initialised from the teacher) plus
    the frozen teacher, held outside the module tree so it is neither trained nor checkpointed.
    ``stage`` 2 freezes the device side."""

    def __init__(self, stage: int):
        super().__init__()
        self.student = StudentModel()  # first: the teacher's first load draws random numbers, later ones do not
        self._teacher = (load_teacher(),)
        self.student.init_from(self._teacher[0])
        self.stage = stage
        if stage == 2:
            for part in (self.student.stem, self.student.encoder):
                part.requires_grad_(False)
            self.student.log_gain.requires_grad_(False)

    def _apply(self, fn, *args, **kwargs) -> "Distillation":
        """``.to(device)`` and the like move the teacher too (it is outside the module tree)."""
        self._teacher[0]._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def train(self, mode: bool = True) -> "Distillation":
        super().train(mode)
        if self.stage == 2:  # the device side runs as at coding time: rounded latents
            self.student.priors.eval()
        return self

    def forward(self, x: Tensor) -> dict:
        teacher = self._teacher[0]
        quality = int(torch.randint(self.student.num_qualities, ()))
        with torch.no_grad():
            t_rebuilt, t_split = teacher.head_taps(x, (REBUILT_BLOCK, SPLIT_BLOCK - 1))
        s_rebuilt, s_split, likelihoods = self.student(x, quality)
        bpp = -torch.log2(likelihoods).flatten(1).sum(1).mean() / (x.shape[2] * x.shape[3])
        out = {"split": (s_split, t_split), "bpp": bpp, "beta": BETAS[quality]}
        if self.stage == 1:
            with torch.no_grad():
                t_taps = teacher.blocks(t_split, DISTILL_BLOCKS)
            out["taps"] = [(s_rebuilt, t_rebuilt)] + list(zip(teacher.blocks(s_split, DISTILL_BLOCKS), t_taps))
        else:
            with torch.no_grad():
                t_logits = teacher.tail(t_split)
            out["logits"] = (teacher.tail(s_split), t_logits)
        return out

    def aux_loss(self) -> Tensor:
        return self.student.aux_loss()


def stage1_loss(x: Tensor, out: dict) -> training.Losses:
    split = relative_mse(*out["split"])
    distortion = split + sum(relative_mse(s, t) for s, t in out["taps"])
    return training.Losses(distortion + out["beta"] * out["bpp"], out["bpp"], split)


def stage2_loss(x: Tensor, out: dict) -> training.Losses:
    s_logits, t_logits = out["logits"]
    kd = F.kl_div(F.log_softmax(s_logits, 1), F.log_softmax(t_logits, 1), log_target=True, reduction="batchmean")
    return training.Losses(kd, out["bpp"].detach(), relative_mse(*out["split"]).detach())


def _fast_gains(model: Distillation, lr: float) -> list[dict]:
    """The per-quality gains (quantization steps) learn 10x faster than the networks."""
    gain = model.student.log_gain
    rest = [p for n, p in model.named_parameters() if p is not gain and not n.endswith(training.AUX_SUFFIX)]
    return [{"params": rest, "lr": lr}, {"params": [gain], "lr": 10 * lr}]


def from_weights(path: Path) -> nn.Module:
    """An exported weights file (e.g. the shipped one) as a training start, its names as in
    :class:`Distillation` (``--init data/weights/entropic-student.safetensors``)."""
    from .codec import load_student

    start = nn.Module()
    start.student = load_student(path)
    return start


def stage1_recipe() -> training.Recipe:
    return training.Recipe(build=lambda: Distillation(1), loss=stage1_loss, param_groups=_fast_gains,
                           from_weights=from_weights, steps=2000, lr=2e-3, batch=16, crop=128)


def stage2_recipe() -> training.Recipe:
    return training.Recipe(build=lambda: Distillation(2), loss=stage2_loss, from_weights=from_weights,
                           steps=250, lr=3e-4, batch=16, crop=128)


def checkpoint_student(checkpoint: str | Path) -> StudentModel:
    """The student of a training checkpoint folder (its float weights; tables not yet built)."""
    from safetensors.torch import load_file

    model = StudentModel()
    state = load_file(str(Path(checkpoint) / "model.safetensors"))
    model.load_state_dict({k.removeprefix("student."): v for k, v in state.items()})
    return model


def export(checkpoint: str | Path, path: str | Path) -> dict[str, Tensor]:
    """The student's coding weights from a training checkpoint: floats as fp16, tables as ints."""
    from safetensors.torch import save_file

    from neurocodec.codecs.learned_image import export_state

    tensors = export_state(checkpoint_student(checkpoint), ())
    save_file(tensors, str(path))
    return tensors


def training_history(checkpoint: str | Path) -> tuple[weights.WeightsEntry | None, list[dict]]:
    """How ``checkpoint`` came to be: the manifest row of the exported weights file its chain of
    ``--init`` started from (``None`` when it started from scratch), and the ``state.json`` of each
    stage run since, oldest first."""
    states, path = [], Path(checkpoint)
    while True:
        state = json.loads((path / "state.json").read_text())
        states.insert(0, state)
        init = state["config"].get("init")
        if not init:
            return None, states
        if "init_sha256" in state:
            rows = [e for e in weights.manifest() if e.codec == CODEC and e.sha256 == state["init_sha256"]]
            if not rows:
                raise ValueError(f"{path} started from {init}, whose sha256 no {CODEC} manifest row has")
            return rows[0], states
        path = Path(init)


def trained_steps(checkpoint: str | Path) -> int:
    """Steps of a checkpoint plus those of everything it was initialised from (``--init``)."""
    earlier, states = training_history(checkpoint)
    return (earlier.steps if earlier else 0) + sum(state["step"] for state in states)


def training_notes(checkpoint: str | Path) -> str:
    """The manifest's account of how ``checkpoint`` was trained: the notes of the file it started
    from (without their measurement), then each stage run since."""
    earlier, states = training_history(checkpoint)
    rounds = []
    for state in states:
        config, stage = state["config"], Path(state["config"]["out"]).name.removeprefix("stage")
        low_high = config.get("short_side")
        rescaled = f", each image's short side resized to {low_high[0]}-{low_high[1]} pixels" if low_high else ""
        rounds.append(f"{state['step']:,} steps of stage {stage} (batch {config['batch']}, "
                      f"{config['crop']}x{config['crop']} crops{rescaled}, {config['device']})")
    start = (earlier.notes.split("; measured:")[0] + "; then " if earlier
             else "stage 1 feature distillation + stage 2 KD of the server side: ")
    return start + ", then ".join(rounds)


def record_weights(path: Path, checkpoint: Path, measured: dict[int, dict]) -> None:
    """Manifest rows (one per quality) for the exported file ``path``, trained up to ``checkpoint``
    (data and device from its training config, notes from its history)."""
    sha = weights.sha256_file(path)
    config = json.loads((checkpoint / "state.json").read_text())["config"]
    # both read the rows of the file the training started from, before they are replaced
    steps, notes = trained_steps(checkpoint), training_notes(checkpoint)
    for q in range(1, len(BETAS) + 1):
        weights.record(weights.WeightsEntry(
            codec=CODEC, quality=q, file=path.name, sha256=sha,
            data=", ".join(Path(d).name for d in config["data"]) + " (unlabeled)",
            steps=steps, device=config["device"], measured=measured.get(q, {}),
            notes=notes + "; measured: imagenet_1k, 1000 224x224 centre crops (results/student)"))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", help="image folders (unlabeled)")
    p.add_argument("--out", default=f"runs/{CODEC}")
    p.add_argument("--steps", type=int, nargs=2, metavar=("STAGE1", "STAGE2"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--batch", type=int, help="crops per step (default: the recipe's, 16)")
    p.add_argument("--crop", type=int, help="crop side in pixels (default: the recipe's, 128)")
    p.add_argument("--short-side", type=int, nargs=2, metavar=("LO", "HI"),
                   help="resize each image's short side to a random length in [LO, HI] before cropping "
                   "(the evaluation resizes to 256)")
    p.add_argument("--workers", type=int, default=0, help="data loader processes")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--stages", type=int, nargs="+", choices=(1, 2), default=(1, 2), help="stages to run")
    p.add_argument("--init", metavar="CHECKPOINT", help="start the first stage run from this checkpoint's weights, "
                   "or from an exported weights file such as data/weights/entropic-student.safetensors "
                   "(a later stage starts from the earlier one's)")
    p.add_argument("--minutes", type=float, help="wall-time budget of each stage")
    p.add_argument("--train-only", nargs="+", default=(), metavar="PREFIX",
                   help="only parameters whose names start so learn (e.g. student.decoder)")
    p.add_argument("--export", metavar="CHECKPOINT", help="export this checkpoint to the shipped weights")
    p.add_argument("--measured", help="bench_imagenet.py JSON: its per-quality numbers go in the manifest rows "
                   "(of the checkpoint in --export, else of --out's stage 2)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    path = weights.weights_dir() / WEIGHTS_FILE
    if args.export:
        export(args.export, path)
        print(f"exported {path} ({path.stat().st_size} bytes)")
    if args.export or args.measured:
        measured = {}
        if args.measured:
            rows = json.loads(Path(args.measured).read_text())["student"]
            measured = {r["quality"]: {k: r[k] for k in ("top1", "top5", "bytes_per_image")} for r in rows}
        record_weights(path, Path(args.export) if args.export else out / "stage2", measured)
        return
    if not args.data:
        p.error("--data is required for training")
    for stage in sorted(set(args.stages)):
        recipe = stage1_recipe() if stage == 1 else stage2_recipe()
        steps = args.steps[stage - 1] if args.steps else recipe.steps
        init = str(out / "stage1") if stage == 2 and 1 in args.stages else args.init
        config = training.TrainConfig(data=args.data, out=str(out / f"stage{stage}"), steps=steps, lr=recipe.lr,
                                      batch=args.batch or recipe.batch, crop=args.crop or recipe.crop,
                                      device=args.device, workers=args.workers, checkpoint_every=50, init=init,
                                      minutes=args.minutes, train_only=tuple(args.train_only),
                                      short_side=tuple(args.short_side) if args.short_side else None)
        training.train(recipe, config, resume=args.resume)


if __name__ == "__main__":
    main()
