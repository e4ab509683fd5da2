"""Iterative encoding: lowers the rounded RD loss, repeatable, decodes with the usual decoder."""

import numpy as np
import pytest
import torch

from conftest import smooth_image, untrained_weights_file

import neurocodec
from neurocodec.codecs.learned_image import to_tensor
from neurocodec.codecs.refine import _loss, refine_latents
from neurocodec.codecs.shallow.codec import ShallowJpegLike, build_model


@pytest.fixture(scope="module")
def weights_path(tmp_path_factory):
    return untrained_weights_file(tmp_path_factory, "shallow-jpeglike.safetensors", build_model,
                                  ShallowJpegLike.export_state)


def test_refinement_lowers_the_rounded_loss(weights_path):
    torch.set_num_threads(1)
    model = ShallowJpegLike.load_model(weights_path)
    x = to_tensor(smooth_image(64, 64, seed=4))
    q = torch.tensor([2])
    offset = model.position_offset[q][:, :, None, None]
    with torch.no_grad():
        before = _loss(model, model.encode_latents(x, q), x, q, offset, None).item()
        y = refine_latents(model, x, 2, steps=20)
        after = _loss(model, y, x, q, offset, None).item()
    assert after < 0.99 * before
    assert not model.training and all(p.requires_grad for p in model.parameters())


def test_refined_files_are_repeatable_and_decode(weights_path):
    torch.set_num_threads(1)
    x = smooth_image(40, 70, seed=5)
    codec = ShallowJpegLike(quality=3, weights=weights_path, effort=10)
    data = codec.encode(x)
    assert codec.encode(x) == data
    x_hat = ShallowJpegLike(quality=3, weights=weights_path).decode(data)
    assert x_hat.shape == x.shape
    with pytest.raises(neurocodec.NeurocodecError):
        ShallowJpegLike(quality=3, weights=weights_path, effort=-1)


def test_cli_effort_option(tmp_path, capsys):
    from neurocodec import media
    from neurocodec.cli.main import main

    src = tmp_path / "x.png"
    media.write_image(src, smooth_image(64, 64, seed=7))
    assert main(["encode", str(src), "-o", str(tmp_path / "x.ncs"), "--codec", "shallow-jpeglike", "--effort", "3"]) == 0
    assert main(["decode", str(tmp_path / "x.ncs"), "-o", str(tmp_path / "y.png")]) == 0
    capsys.readouterr()
    assert main(["encode", str(src), "-o", str(tmp_path / "z.ncs"), "--codec", "pc-lossless", "--effort", "3"]) == 2
    assert "takes no --effort" in capsys.readouterr().err
