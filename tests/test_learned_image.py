"""The variable-rate learned image codecs (bmshj2018-hyperprior, mbt2018-mean, shallow-jpeglike,
shallow-2layer): round trips, rate estimate vs file size, determinism, bad input, the
encoder-side latent correction, the hyperpriors' per-quality synthesis modulation."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from conftest import decode_in_fresh_process, smooth_image, untrained_weights_file

import neurocodec
from neurocodec import training, weights
from neurocodec.codecs.hyperprior.codec import MeanScaleHyperprior, ScaleHyperprior
from neurocodec.codecs.learned_image import to_tensor
from neurocodec.codecs.shallow.codec import ShallowJpegLike, ShallowTwoLayer
from neurocodec.container import Container, overhead, pack, unpack
from neurocodec.entropy import Decoder, Encoder
from neurocodec.registry import codec_for

CODECS = {cls.name: cls for cls in (MeanScaleHyperprior, ScaleHyperprior, ShallowJpegLike, ShallowTwoLayer)}
CORRECTED = [MeanScaleHyperprior, ShallowTwoLayer]  # the codecs with an encoder-side latent correction


@pytest.fixture(scope="module", params=sorted(CODECS))
def codec_and_weights(request, tmp_path_factory):
    """(codec class, exported weights of the seeded untrained model)."""
    cls = CODECS[request.param]
    return cls, untrained_weights_file(tmp_path_factory, f"{cls.name}.safetensors", cls.build_model, cls.export_state)


def test_round_trip_repeatable_with_quality_in_fingerprint(codec_and_weights):
    cls, path = codec_and_weights
    codec = cls(quality=6, weights=path)
    x = smooth_image(70, 90)
    data = codec.encode(x)
    x_hat = codec.decode(data)
    assert x_hat.shape == x.shape and x_hat.dtype == np.uint8
    assert np.array_equal(codec.decode(data), x_hat)
    assert codec_for(data, weights=path).quality == 6
    assert overhead(unpack(data)) <= 16


@pytest.mark.parametrize("name", sorted(CODECS))
def test_file_size_matches_likelihood_estimate(name):
    """With the shipped (trained) weights at the top quality, the whole file (header included) is
    within 2 % of the float model's likelihood bits. (Untrained models are no test of this: the
    JPEG-like start's tiny scales send many symbols to the escape code, which the likelihoods
    price at their 1e-9 floor.)"""
    entries = [e for e in weights.manifest() if e.codec == name]
    if not entries:
        pytest.skip(f"no shipped {name} weights")
    cls, entry = CODECS[name], max(entries, key=lambda e: e.quality)
    codec = cls(quality=entry.quality)
    float_model = cls.training_start(entry.path).eval()  # fp16-rounded weights, z density fitted to its tables
    x = smooth_image(128, 192, seed=3)
    with torch.no_grad():
        out = float_model(to_tensor(x), torch.tensor([entry.quality - 1]))
    estimate = training.rd_loss(to_tensor(x), out).bpp.item() * x.shape[0] * x.shape[1] / 8
    size = len(codec.encode(x))
    assert abs(size - estimate) <= 0.02 * estimate, (size, estimate)


def test_exact_latents_follow_the_float_model(codec_and_weights):
    """Coding's y_hat (fixed-point h_s means) is within fixed-point error of the float path's."""
    cls, path = codec_and_weights
    model = cls.load_model(path)
    x = to_tensor(smooth_image(64, 128, seed=1))
    with torch.no_grad():
        y_hat_fx = model.compress(model.encode_latents(x, torch.tensor([2])), 2, Encoder())
        y_hat_float, _ = model.hyper(model.encode_latents(x, torch.tensor([2])), model.position_offset[[2]][:, :, None, None])
    diff = (y_hat_fx * 2.0**-model.hyper.frac_bits - y_hat_float.double()).abs()
    assert diff.max() < 1.1 and (diff > 0.1).float().mean() < 0.01  # a rare mean rounds across .5


def test_decode_in_fresh_process_one_thread_and_in_a_batch(codec_and_weights, tmp_path):
    cls, path = codec_and_weights
    torch.set_num_threads(2)
    codec = cls(quality=3, weights=path)
    images = [smooth_image(70, 90, 1), smooth_image(64, 128, 2)]
    for i, x in enumerate(images):
        (tmp_path / f"{i}.ncs").write_bytes(codec.encode(x))
    here = [codec.decode((tmp_path / f"{i}.ncs").read_bytes()) for i in range(len(images))]
    there = decode_in_fresh_process([tmp_path / f"{i}.ncs" for i in range(len(images))], threads=1, weights=path)
    assert all(np.array_equal(a, b) for a, b in zip(here, there))
    # one latent alone vs stacked with another: identical pixels
    model = codec.model
    y = torch.randint(-20, 20, (2, model.log_gain.shape[1], 4, 6)).double() * 2.0**model.hyper.frac_bits
    batch = model.synthesize(y, 2)
    assert all(np.array_equal(batch[i], model.synthesize(y[i:i + 1], 2)[0]) for i in range(2))


def test_bad_input_and_bad_files(codec_and_weights):
    cls, path = codec_and_weights
    codec = cls(quality=1, weights=path)
    with pytest.raises(neurocodec.NeurocodecError):
        codec.encode(np.zeros((8, 8), np.uint8))
    parsed = unpack(codec.encode(smooth_image(20, 20)))
    for fields in (parsed.fields + (99,), parsed.fields[:2] + (1,)):  # extra field, grayscale
        with pytest.raises(neurocodec.NeurocodecError):
            codec.decode(pack(Container(parsed.codec_id, parsed.fingerprint, fields, parsed.streams)))
    with pytest.raises(neurocodec.NeurocodecError, match="variable-rate"):
        cls.training_recipe(lmbda=0.01)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_encode_on_gpu_decode_on_cpu(codec_and_weights):
    """The analysis on the GPU chooses (nearly) the same symbols; the file decodes on the CPU."""
    cls, path = codec_and_weights
    x = smooth_image(70, 90, seed=6)
    on_gpu = cls(quality=4, weights=path, device="cuda").encode(x)
    on_cpu = cls(quality=4, weights=path).encode(x)
    codec = cls(quality=4, weights=path)
    a, b = codec.decode(on_gpu).astype(float), codec.decode(on_cpu).astype(float)
    assert abs(len(on_gpu) - len(on_cpu)) <= 0.01 * len(on_cpu) + 4
    assert 10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-9)) > 40


@pytest.fixture(scope="module", params=CORRECTED, ids=lambda cls: cls.name)
def corrected_weights(request, tmp_path_factory):
    """(codec class, weights whose latent correction is not the identity: a random last layer)."""
    cls = request.param
    torch.manual_seed(3)
    model = cls.build_model()
    with torch.no_grad():
        model.correction.out[-1].weight.normal_(0, 0.05)
    path = tmp_path_factory.mktemp("w") / f"{cls.name}-corrected.safetensors"
    save_file(cls.export_state(model), str(path))
    return cls, path


def test_latent_correction_moves_the_symbols_and_leaves_the_decoder_alone(corrected_weights):
    """The correction changes what is coded; decoding never runs it and gives the coded latents' pixels."""
    cls, path = corrected_weights
    model = cls.load_model(path)
    x, q = to_tensor(smooth_image(64, 128, seed=4)), 3
    y = model.encode_latents(x, torch.tensor([q]))
    streams, y_hats = [], []
    for correct in (True, False):
        encoder = Encoder()
        y_hats.append(model.compress(y, q, encoder, correct=correct))
        streams.append(encoder.finish())
    assert not torch.equal(*y_hats)
    decoded = model.decompress(Decoder(streams[0]), q, 64, 128)
    model.correction = None  # the decoder never runs it
    assert np.array_equal(model.decompress(Decoder(streams[0]), q, 64, 128), decoded)
    assert np.array_equal(decoded, model.synthesize(y_hats[0], q))


@pytest.mark.parametrize("cls", CORRECTED, ids=lambda cls: cls.name)
def test_training_reaches_the_latent_correction(cls):
    model = cls.build_model().train()
    out = model(torch.rand(2, 3, 64, 64), torch.tensor([0, 6]))
    (out["x_hat"].square().mean() + sum(-torch.log2(v).sum() for v in out["likelihoods"].values())).backward()
    assert model.correction.out[-1].weight.grad.abs().sum() > 0


def test_weights_without_a_correction_load_with_the_identity(corrected_weights, tmp_path):
    """Files from before the correction: the same symbols as a model without one."""
    cls, path = corrected_weights
    state = {k: v for k, v in weights.load_state(path).items() if not k.startswith("correction.")}
    save_file(state, str(tmp_path / "old.safetensors"))
    model = cls.load_model(tmp_path / "old.safetensors")
    y = model.encode_latents(to_tensor(smooth_image(64, 64, seed=5)), torch.tensor([2]))
    coded = model.compress(y, 2, Encoder())
    model.correction = None
    assert torch.equal(model.compress(y, 2, Encoder()), coded)


def test_weights_with_part_of_a_correction_do_not_load(corrected_weights, tmp_path):
    cls, path = corrected_weights
    state = weights.load_state(path)
    del state["correction.out.1.weight"]
    save_file(state, str(tmp_path / "partial.safetensors"))
    with pytest.raises(neurocodec.NeurocodecError, match="does not fit"):
        cls.load_model(tmp_path / "partial.safetensors")


HYPERPRIORS = [MeanScaleHyperprior, ScaleHyperprior]  # the codecs with a per-quality synthesis modulation


def test_synthesis_modulation_acts_per_image_and_quality():
    """Each image of a mixed-quality batch gets its own quality's modulation, as alone; the
    identity modulation is the plain synthesis."""
    torch.manual_seed(6)
    g_s = MeanScaleHyperprior.build_model().g_s.eval()
    with torch.no_grad():
        g_s.quality_scale[2].uniform_(0.5, 1.5)
        g_s.quality_shift[2].normal_(0, 0.1)
        y, quality = torch.randn(3, 192, 4, 4), torch.tensor([0, 2, 5])
        batch = g_s(y, quality)
        for i, q in enumerate(quality.tolist()):
            assert torch.allclose(batch[i:i + 1], g_s(y[i:i + 1], q), atol=1e-6)
        plain = y
        for layer in g_s:
            plain = layer(plain)
    assert torch.allclose(batch[[0, 2]], plain[[0, 2]], atol=1e-6)
    assert not torch.allclose(batch[1], plain[1], atol=1e-3)


@pytest.mark.parametrize("cls", HYPERPRIORS, ids=lambda cls: cls.name)
def test_weights_without_synthesis_modulation_load_with_the_identity(cls, tmp_path):
    """Files from before the modulation load with scale 1 and shift 0; half of one does not load."""
    state = cls.export_state(cls.build_model())
    old = {k: v for k, v in state.items() if not k.startswith("g_s.quality_")}
    save_file(old, str(tmp_path / "old.safetensors"))
    g_s = cls.load_model(tmp_path / "old.safetensors").g_s
    assert torch.equal(g_s.quality_scale, torch.ones_like(g_s.quality_scale))
    assert torch.equal(g_s.quality_shift, torch.zeros_like(g_s.quality_shift))
    del state["g_s.quality_shift"]
    save_file(state, str(tmp_path / "partial.safetensors"))
    with pytest.raises(neurocodec.NeurocodecError, match="does not fit"):
        cls.load_model(tmp_path / "partial.safetensors")
