"""Start a WaLLoC model from the principal components of its wavelet packets (a training init).

    python -m neurocodec.codecs.walloc.pca_init walloc-rgb --data DIR [DIR ...] --out runs/walloc-rgb-pca
    neurocodec train walloc-rgb --data DIR [DIR ...] --init runs/walloc-rgb-pca

The linear encoder becomes the projection on the leading principal components of the wavelet
packet channels (the Karhunen-Loeve transform, the best linear map of its size in mean squared
error) and the linear decoder its transpose, with the channel means as biases; the residual
decoder starts at zero. Training then begins at the PCA's reconstruction quality instead of
having to find the projection by gradient descent. Writes ``OUT/model.safetensors``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from neurocodec.training import RandomCrops, image_files

from . import wavelets
from .codec import BUILDERS
from .model import WallocModel


def principal_components(model: WallocModel, crops: RandomCrops, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean [C] and principal directions [C, C] (columns, largest variance first) of the packets."""
    c = model.wavelet_channels
    total, outer, n = torch.zeros(c, dtype=torch.float64), torch.zeros(c, c, dtype=torch.float64), 0
    for i in tqdm(range(count), desc="wavelet statistics"):
        x = crops[i][None].double() - 0.5
        w = wavelets.forward(x, model.levels, model.dims)[0].reshape(c, -1)
        total += w.sum(1)
        outer += w @ w.T
        n += w.shape[1]
    mean = total / n
    _, vectors = torch.linalg.eigh(outer / n - torch.outer(mean, mean))
    return mean, vectors.flip(1)


@torch.no_grad()
def pca_initialised(model: WallocModel, mean: torch.Tensor, vectors: torch.Tensor) -> WallocModel:
    """``model`` with its linear encoder and decoder set to the leading ``model.latent`` components."""
    basis = vectors[:, :model.latent].to(model.encoder.weight.dtype)  # [C, latent]
    shape = (1,) * model.dims
    model.encoder.weight.copy_(basis.T.reshape(model.latent, -1, *shape))
    model.encoder.bias.copy_(-basis.T @ mean.to(basis.dtype))
    model.decoder_linear.weight.copy_(basis.reshape(-1, model.latent, *shape))
    model.decoder_linear.bias.copy_(mean)
    return model


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("codec", choices=["walloc-rgb"])
    ap.add_argument("--data", nargs="+", required=True, help="image folder(s), searched recursively")
    ap.add_argument("--out", type=Path, required=True, help="checkpoint folder to write model.safetensors in")
    ap.add_argument("--crops", type=int, default=400, help="random crops the statistics are taken from")
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    model = BUILDERS[args.codec]()
    crops = RandomCrops(image_files(args.data), args.crop, args.seed)
    model = pca_initialised(model, *principal_components(model, crops, args.crops))
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(args.out / "model.safetensors"))
    print(f"wrote {args.out / 'model.safetensors'}")


if __name__ == "__main__":
    main()
