"""``neurocodec train CODEC --data DIR ...``: the shared training loop from the command line."""

from __future__ import annotations

import argparse

from neurocodec.errors import NeurocodecError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand; defaults not given come from the codec's recipe."""
    p = subparsers.add_parser("train", help="train a codec's model (resumable checkpoints)")
    p.add_argument("codec", help="registry name, e.g. shallow-jpeglike")
    p.add_argument("--data", nargs="+", required=True, help="image folder(s), searched recursively")
    p.add_argument("--out", default=None, help="checkpoint folder (default: runs/CODEC)")
    p.add_argument("--steps", type=int, help="default: the codec's recipe")
    p.add_argument("--minutes", type=float, help="wall-time budget for this run: it stops (with a checkpoint) when "
                   "either --steps or the time is reached; the 10x learning-rate drop comes at 90 %% of whichever "
                   "ends first")
    p.add_argument("--lr", type=float, help="default: the codec's recipe")
    p.add_argument("--batch", type=int, help="default: the codec's recipe")
    p.add_argument("--crop", type=int, help="default: the codec's recipe")
    p.add_argument("--short-side", type=int, nargs=2, metavar=("LO", "HI"),
                   help="resize each image so its short side is a random length in [LO, HI] pixels before cropping "
                   "(default: images are cropped at their own size)")
    p.add_argument("--lmbda", type=float, help="rate-distortion lambda, for single-rate recipes")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--workers", type=int, default=0, help="data loader processes")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--init", help="start from these model weights (fine-tuning): a checkpoint folder, or a "
                   ".safetensors file such as the shipped data/weights/CODEC.safetensors")
    p.add_argument("--train-only", nargs="+", default=(), metavar="PREFIX",
                   help="train only the parameters whose names start with one of these (e.g. g_s. for the synthesis "
                   "of a model started with --init); the rest stay frozen and cost no backward pass")
    p.add_argument("--loss", choices=("rd", "psnr"), default="rd",
                   help="rd: the codec's rate-distortion loss (lambda x MSE + bits); psnr: minus the mean PSNR, "
                   "rate ignored, every quality weighed alike: for a decoder trained alone (--train-only g_s), "
                   "whose bits cannot change")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from neurocodec import training

    recipe = training.recipe_for(args.codec, args.lmbda)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = training.TrainConfig(
        data=args.data, out=args.out or f"runs/{args.codec}", steps=args.steps or recipe.steps,
        lr=args.lr or recipe.lr, batch=args.batch or recipe.batch, crop=args.crop or recipe.crop,
        device=args.device, seed=args.seed, workers=args.workers, checkpoint_every=args.checkpoint_every,
        init=args.init, minutes=args.minutes, train_only=tuple(args.train_only),
        short_side=tuple(args.short_side) if args.short_side else None, loss=args.loss)
    try:
        state = training.train(recipe, config, resume=args.resume)
    except (FileNotFoundError, ValueError) as exc:  # no images, bad --short-side or --init, --loss psnr alone
        raise NeurocodecError(str(exc)) from None
    print(f"trained {args.codec} to step {state['step']}; checkpoint in {config.out}")
    return 0
