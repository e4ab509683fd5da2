"""shallow-jpeglike: exact round trips, determinism across threads/processes/batches, bad input."""

import numpy as np
import pytest
import torch

from conftest import decode_in_fresh_process, smooth_image, untrained_weights_file

import neurocodec
from neurocodec import weights
from neurocodec.codecs.shallow.codec import ShallowJpegLike, build_model
from neurocodec.container import Container, overhead, pack, unpack
from neurocodec.registry import codec_for


@pytest.fixture(scope="module")
def untrained_weights(tmp_path_factory):
    """Exported weights of the initial (DCT) model."""
    return untrained_weights_file(tmp_path_factory, "shallow-jpeglike.safetensors", build_model, ShallowJpegLike.export_state)


def _image(h=70, w=90, seed=0):
    return smooth_image(h, w, seed)


def test_round_trip_is_close_and_exactly_repeatable(untrained_weights):
    codec = ShallowJpegLike(quality=7, weights=untrained_weights)
    x = _image()
    data = codec.encode(x)
    x_hat = codec.decode(data)
    assert x_hat.shape == x.shape and x_hat.dtype == np.uint8
    mse = np.mean((x_hat.astype(float) - x) ** 2)
    assert 10 * np.log10(255**2 / mse) > 30
    assert np.array_equal(codec.decode(data), x_hat)
    # The quality travels in the fingerprint: the header alone names it; 16 bytes of overhead.
    assert codec_for(data, weights=untrained_weights).quality == 7
    assert overhead(unpack(data)) <= 16


def test_exact_decoder_follows_float_model(untrained_weights):
    model = ShallowJpegLike.load_model(untrained_weights)
    float_model = build_model().eval()  # same initial weights, float synthesis
    x = torch.from_numpy(_image(64, 64).transpose(2, 0, 1).copy()).float()[None] / 255
    from neurocodec.entropy import Encoder

    with torch.no_grad():
        y_hat_fx = model.compress(model.encode_latents(x, torch.tensor([3])), 3, Encoder())
        exact = model.decode_exact(y_hat_fx, 3)[0].astype(float)
        y_hat = y_hat_fx.float() * 2.0**-model.hyper.frac_bits
        ref = float_model.synthesis(y_hat / float_model._gain(torch.tensor([3]))) * 255
    ref = ref[0].permute(1, 2, 0).clamp(0, 255).numpy()
    assert np.abs(exact - ref).max() <= 1.0  # fp16 encoder weights aside, only rounding differs


def test_decode_in_fresh_process_one_thread_and_in_a_batch(untrained_weights, tmp_path):
    torch.set_num_threads(2)
    codec = ShallowJpegLike(quality=4, weights=untrained_weights)
    images = [_image(70, 90, 1), _image(64, 128, 2)]
    files = []
    for i, x in enumerate(images):
        files.append(tmp_path / f"{i}.ncs")
        files[-1].write_bytes(codec.encode(x))
    here = [codec.decode(f.read_bytes()) for f in files]
    there = decode_in_fresh_process(files, threads=1, weights=untrained_weights)
    assert all(np.array_equal(a, b) for a, b in zip(here, there))
    # one latent alone vs stacked with another: the exact decoder gives identical pixels
    model = codec.model
    y = torch.randint(-30, 30, (2, 768, 4, 4)).double() * 2.0**model.hyper.frac_bits
    batch = model.decode_exact(y, 2)
    assert all(np.array_equal(batch[i], model.decode_exact(y[i:i + 1], 2)[0]) for i in range(2))


def test_bad_input_and_bad_files(untrained_weights):
    codec = ShallowJpegLike(quality=2, weights=untrained_weights)
    with pytest.raises(neurocodec.NeurocodecError):
        codec.encode(np.zeros((8, 8), np.uint8))
    parsed = unpack(codec.encode(_image(20, 20)))
    for fields in (parsed.fields + (99,), parsed.fields[:2] + (1,)):  # extra field, grayscale
        bad = pack(Container(parsed.codec_id, parsed.fingerprint, fields, parsed.streams))
        with pytest.raises(neurocodec.NeurocodecError):
            codec.decode(bad)
    cut = pack(Container(parsed.codec_id, parsed.fingerprint, parsed.fields, (parsed.streams[0][:5],)))
    try:  # a truncated stream decodes to something or fails clearly, never anything else
        codec.decode(cut)
    except neurocodec.NeurocodecError:
        pass


shipped = [e for e in weights.manifest() if e.codec == "shallow-jpeglike"]


@pytest.mark.skipif(not shipped, reason="no shipped shallow-jpeglike weights")
@pytest.mark.parametrize("quality", sorted({e.quality for e in shipped}))
def test_shipped_codec_round_trips(quality):
    x = _image(40, 50)
    data = neurocodec.load("shallow-jpeglike", quality=quality).encode(x)
    x_hat = neurocodec.decode(data)
    assert x_hat.shape == x.shape and np.array_equal(neurocodec.decode(data), x_hat)
    assert codec_for(data).quality == quality
