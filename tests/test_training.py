"""The shared training loop: runs, checkpoints without pickle, resumes; the CLI wires it up."""

import argparse
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from neurocodec import training, weights
from neurocodec.cli import train as train_cli
from neurocodec.codecs.latent_codecs import EntropyBottleneckLatentCodec
from neurocodec.errors import NeurocodecError


class Toy(nn.Module):
    """A factorized-prior autoencoder small enough to train in milliseconds."""

    def __init__(self):
        super().__init__()
        self.analysis = nn.Conv2d(3, 4, 4, 4)
        self.bottleneck = EntropyBottleneckLatentCodec(4)
        self.synthesis = nn.ConvTranspose2d(4, 3, 4, 4)

    def forward(self, x):
        y_hat, lik = self.bottleneck(self.analysis(x))
        return {"x_hat": self.synthesis(y_hat), "likelihoods": {"y": lik}, "lmbda": 0.01}

    def aux_loss(self):
        return self.bottleneck.aux_loss()


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "images" / "nested"
    folder.mkdir(parents=True)
    for i, size in enumerate([(40, 30), (20, 50), (64, 64)]):  # one smaller than the crop
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return tmp_path / "images"


def _config(folder, out, steps):
    return training.TrainConfig(data=[str(folder)], out=str(out), steps=steps, lr=1e-3, batch=2, crop=32,
                                checkpoint_every=1)


def test_crops_are_reproducible_and_upscale_small_images(image_folder):
    crops = training.RandomCrops(training.image_files([str(image_folder)]), 32, seed=3)
    assert all(crops[n].shape == (3, 32, 32) for n in range(6))
    assert torch.equal(crops[5], crops[5])


def test_short_side_range_rescales_images_before_cropping(tmp_path):
    ramp = np.tile(np.arange(128, dtype=np.uint8) * 2, (128, 1))  # columns 0, 2, ..., 254
    Image.fromarray(np.stack([ramp] * 3, -1)).save(tmp_path / "ramp.png")
    files = training.image_files([str(tmp_path)])
    native = training.RandomCrops(files, 32, seed=1)[0]
    whole = training.RandomCrops(files, 32, seed=1, short_side=(32, 32))[0]  # the whole image shrunk to 32x32
    assert whole.shape == native.shape == (3, 32, 32)
    assert float(native.amax() - native.amin()) < 0.3 < 0.9 < float(whole.amax() - whole.amin())
    with pytest.raises(ValueError, match="short side"):
        training.RandomCrops(files, 32, short_side=(16, 64))


def test_train_two_steps_then_resume(image_folder, tmp_path):
    recipe = training.Recipe(build=Toy)
    out = tmp_path / "run"
    state = training.train(recipe, _config(image_folder, out, 2))
    assert state["step"] == 2 and (out / "model.safetensors").is_file()
    saved = json.loads((out / "state.json").read_text())
    assert saved["step"] == 2 and len(saved["history"]) == 2
    first = training.load_checkpoint(out, Toy(), {})
    assert first["step"] == 2
    state = training.train(recipe, _config(image_folder, out, 3), resume=True)
    assert state["step"] == 3 and len(state["history"]) == 3


def test_time_budget_stops_early_with_a_checkpoint(image_folder, tmp_path):
    config = _config(image_folder, tmp_path / "run", 10**6)
    config.minutes, config.checkpoint_every = 0.02, 10**6  # 1.2 s; no periodic checkpoint
    state = training.train(training.Recipe(build=Toy), config)
    assert 0 < state["step"] < 10**6
    assert json.loads((tmp_path / "run" / "state.json").read_text())["step"] == state["step"]


def test_init_fine_tunes_from_another_checkpoint(image_folder, tmp_path):
    recipe = training.Recipe(build=Toy)
    training.train(recipe, _config(image_folder, tmp_path / "a", 1))
    config = _config(image_folder, tmp_path / "b", 1)
    config.init = str(tmp_path / "a")
    state = training.train(recipe, config)
    assert state["step"] == 1 and state["init_missing"] == []


def test_psnr_loss_is_minus_the_mean_psnr_and_weighs_every_image_alike():
    x = torch.zeros(2, 3, 8, 8)
    lik = {"y": torch.full((2, 4, 2, 2), 0.5)}

    def loss(errors):  # one error per image, every pixel off by it; lambdas far apart
        x_hat = x + torch.tensor(errors).view(2, 1, 1, 1)
        return training.psnr_loss(x, {"x_hat": x_hat, "likelihoods": lik, "lmbda": torch.tensor([1e-4, 1.0])})

    losses = loss([0.1, 0.01])
    assert losses.loss.item() == pytest.approx((-20 - 40) / 2)  # PSNRs 20 and 40 dB
    assert losses.bpp.item() == pytest.approx(16 / 64)
    assert loss([0.2, 0.01]).loss.item() - losses.loss.item() == pytest.approx(10 * np.log10(4) / 2)
    assert loss([0.1, 0.02]).loss.item() - losses.loss.item() == pytest.approx(10 * np.log10(4) / 2)


def test_decoder_alone_under_the_psnr_loss(image_folder, tmp_path):
    """--train-only synthesis --loss psnr: the analysis (hence the bits) stays, the synthesis learns."""
    torch.manual_seed(0)
    training.train(training.Recipe(build=Toy), _config(image_folder, tmp_path / "a", 1))
    config = _config(image_folder, tmp_path / "b", 3)
    config.init, config.train_only, config.loss = str(tmp_path / "a"), ("synthesis",), "psnr"
    state = training.train(training.Recipe(build=Toy), config)
    before, after = Toy(), Toy()
    training.load_checkpoint(tmp_path / "a", before, {})
    training.load_checkpoint(tmp_path / "b", after, {})
    assert torch.equal(before.analysis.weight, after.analysis.weight)
    assert not torch.equal(before.synthesis.weight, after.synthesis.weight)
    assert state["config"]["loss"] == "psnr" and state["history"][-1]["loss"] < 0  # minus a PSNR in dB


def test_init_copies_what_fits_from_a_related_model(tmp_path):
    """bmshj2018-hyperprior from an mbt2018-mean checkpoint: the transforms are copied, the
    differently shaped hyper-synthesis keeps its initialisation; an unrelated file is refused."""
    torch.manual_seed(0)
    mbt = training.recipe_for("mbt2018-mean").build()
    (tmp_path / "mbt").mkdir()
    save_file({k: v.contiguous() for k, v in mbt.state_dict().items()}, str(tmp_path / "mbt" / "model.safetensors"))
    recipe = training.recipe_for("bmshj2018-hyperprior")
    init = training.initial_weights(recipe, tmp_path / "mbt")
    model = recipe.build()
    own = model.state_dict()
    usable = {k: v for k, v in init.items() if k in own and own[k].shape == v.shape}
    assert any(k.startswith("g_a.") for k in usable) and any(k.startswith("g_s.") for k in usable)
    assert not any(k.startswith("hyper.h_s.") for k in usable)
    (tmp_path / "toy").mkdir()
    save_file({"x.weight": torch.zeros(3)}, str(tmp_path / "toy" / "model.safetensors"))
    config = training.TrainConfig(data=["unused"], out=str(tmp_path / "run"), steps=1, lr=1e-4, batch=1, crop=64,
                                  init=str(tmp_path / "toy"))
    with pytest.raises(ValueError, match="no weights fit"):
        training.train(recipe, config)


@pytest.mark.parametrize("codec", ["shallow-jpeglike", "walloc-rgb"])
def test_init_from_a_shipped_weights_file(codec):
    """Training can resume from the committed weights: the float model rebuilt from the shipped
    file (the fixed-point synthesis restored to float, the z density refitted to the z tables
    for shallow-jpeglike) is the starting point."""
    recipe = training.recipe_for(codec)
    entry = next(e for e in weights.manifest() if e.codec == codec)
    path = weights.weights_dir() / entry.file
    init = training.initial_weights(recipe, path)
    model = recipe.build()
    missing, unexpected = model.load_state_dict(init, strict=False)
    assert not unexpected
    shipped = weights.load_state(path)
    restored = [k for k in init if k not in shipped and k not in missing]
    for name, value in shipped.items():
        if value.is_floating_point() and name in init:
            assert torch.allclose(init[name], value.float()), name
    if codec == "shallow-jpeglike":  # the synthesis is not in the file: it comes back from the exact net
        assert any(k.startswith("synthesis.") for k in restored)
        assert not any(k.startswith("synthesis.") for k in missing)
        z = model.hyper.z  # nor is the z density: refitted, it gives back the shipped tables
        z.update()
        assert torch.equal(z.table_offsets, shipped["hyper.z.table_offsets"].int())
        assert torch.equal(z.table_sizes, shipped["hyper.z.table_sizes"].int())
        pmf = [t.double() / t.double().sum(1, keepdim=True) for t in (z.table_freqs, shipped["hyper.z.table_freqs"])]
        assert (pmf[0] - pmf[1]).abs().max() < 2e-3  # the fit starts from a random density


def test_cli_parser_and_recipe_lookup():
    parser = argparse.ArgumentParser()
    train_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["train", "shallow-jpeglike", "--data", "x", "--steps", "5", "--resume"])
    assert args.func is train_cli.run and args.steps == 5 and args.resume
    recipe = training.recipe_for("shallow-jpeglike")
    assert recipe.steps > 0 and recipe.crop % 64 == 0
    args = parser.parse_args(["train", "mbt2018-mean", "--data", "x", "--loss", "psnr"])  # the rate would run away
    with pytest.raises(NeurocodecError, match="--train-only"):
        args.func(args)


@pytest.mark.parametrize("codec", ["mbt2018-mean", "bmshj2018-hyperprior", "shallow-jpeglike", "shallow-2layer"])
def test_image_codec_recipes_train_a_step(codec, image_folder, tmp_path):
    """Each learned image codec's own recipe runs through the loop (tiny crops, one step)."""
    torch.set_num_threads(1)
    recipe = training.recipe_for(codec)
    config = training.TrainConfig(data=[str(image_folder)], out=str(tmp_path / "run"), steps=1, lr=recipe.lr,
                                  batch=1, crop=64, checkpoint_every=1)
    state = training.train(recipe, config)
    assert state["step"] == 1 and np.isfinite(state["history"][0]["loss"])


def test_shallow_2layer_trains_from_a_jpeglike_weights_file(image_folder, tmp_path, tmp_path_factory):
    """--init with a shallow-jpeglike weights file: shallow-2layer's recipe converts it, and every
    tensor but the z tables (rebuilt by update()) comes from it."""
    from conftest import untrained_weights_file

    from neurocodec.codecs.shallow.codec import ShallowJpegLike

    torch.set_num_threads(1)
    path = untrained_weights_file(tmp_path_factory, "shallow-jpeglike.safetensors", ShallowJpegLike.build_model,
                                  ShallowJpegLike.export_state)
    recipe = training.recipe_for("shallow-2layer")
    config = training.TrainConfig(data=[str(image_folder)], out=str(tmp_path / "run"), steps=1, lr=1e-3,
                                  batch=1, crop=64, checkpoint_every=1, init=str(path))
    state = training.train(recipe, config)
    assert state["init_missing"] and all(k.startswith("hyper.z.table") for k in state["init_missing"])
