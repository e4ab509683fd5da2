"""walloc-rgb / walloc-stereo: wavelet packets vs PyWavelets, round trips, determinism across
threads and processes, latent access, streaming audio in bounded memory, bad input."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from conftest import smooth_image, untrained_weights_file

import neurocodec
from neurocodec import container, media, weights
from neurocodec.codecs.walloc import context, wavelets
from neurocodec.codecs.walloc.codec import CONTEXT, WallocRGB, WallocStereo, build_rgb, build_stereo, export_state
from neurocodec.codecs.walloc.train_audio import audio_loss
from neurocodec.entropy import Decoder, Encoder
from neurocodec.errors import NeurocodecError
from neurocodec.modality import ImageMeta
from neurocodec.training import rd_loss

pywt = pytest.importorskip("pywt")


@pytest.fixture(scope="module")
def rgb_weights(tmp_path_factory):
    """Exported weights of the initial (low-pass) model."""
    return untrained_weights_file(tmp_path_factory, "walloc-rgb.safetensors", lambda: build_rgb().eval(), export_state)


@pytest.fixture(scope="module")
def stereo_weights(tmp_path_factory):
    return untrained_weights_file(tmp_path_factory, "walloc-stereo.safetensors", lambda: build_stereo().eval(), export_state)


def _image(h=70, w=90, seed=0):
    return smooth_image(h, w, seed, noise=6)


def _music(seconds=1.0, rate=44100, channels=2, seed=0):
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    tones = [0.2 * np.sin(2 * np.pi * f * t + p) for f, p in zip((220, 330, 440), rng.random(3))]
    x = np.stack([sum(tones) * (0.8 + 0.2 * c) + rng.normal(0, 0.002, t.size) for c in range(channels)])
    return media.Audio(x.astype(np.float32), rate)


# --- wavelet packets ----------------------------------------------------------------------
def test_one_level_matches_pywavelets_periodization():
    x = torch.randn(2, 3, 32, 48, dtype=torch.float64)
    c_a, (c_h, c_v, c_d) = pywt.dwt2(x.numpy(), "bior4.4", mode="periodization")
    ref = np.stack([c_a, c_v, c_h, c_d], 2).reshape(2, 12, 16, 24)
    assert np.abs(wavelets.forward(x, 1, 2).numpy() - ref).max() < 1e-12
    a = torch.randn(2, 2, 64, dtype=torch.float64)
    c_a, c_d = pywt.dwt(a.numpy(), "bior4.4", mode="periodization")
    assert np.abs(wavelets.forward(a, 1, 1).numpy() - np.stack([c_a, c_d], 2).reshape(2, 4, 32)).max() < 1e-12


def test_packets_split_every_subband_and_invert():
    x = torch.randn(1, 1, 32, 32, dtype=torch.float64)
    level1 = wavelets.forward(x, 1, 2)
    two = wavelets.forward(x, 2, 2)
    for band in range(4):  # level 2 is level 1 applied to each level-1 subband
        assert torch.allclose(two[:, 4 * band:4 * band + 4], wavelets.forward(level1[:, band:band + 1], 1, 2))
    assert (wavelets.inverse(wavelets.forward(x, 3, 2), 3, 2) - x).abs().max() < 1e-9
    a = torch.randn(2, 2, 4096)
    assert (wavelets.inverse(wavelets.forward(a, 6, 1), 6, 1) - a).abs().max() < 1e-4


# --- images -------------------------------------------------------------------------------
def test_rgb_round_trip_latents_and_describe(rgb_weights):
    codec = WallocRGB(quality=5, weights=rgb_weights)
    x = _image()
    data = codec.encode(x)
    x_hat = codec.decode(data)
    assert x_hat.shape == x.shape and x_hat.dtype == np.uint8
    assert 10 * np.log10(255**2 / np.mean((x_hat.astype(float) - x) ** 2)) > 25
    assert np.array_equal(codec.decode(data), x_hat)
    parsed = container.unpack(data)
    assert np.array_equal(neurocodec.decode(data, weights=rgb_weights), x_hat)  # quality from the fingerprint
    latents = codec.latents(data)
    assert latents.shape == (1, 48, 9, 12) and latents.dtype == torch.float64
    projection = codec.model.project(torch.from_numpy(np.pad(x, ((0, 2), (0, 6), (0, 0)), mode="edge")
                                                      .transpose(2, 0, 1).copy()).double()[None] / 255 - 0.5)
    assert (latents - projection).abs().mean() < 0.1  # dequantized ~ the encoder's projection
    facts = codec.describe(*ImageMeta.from_fields(parsed.fields))
    assert facts["dimensionality_reduction"] == 4.0 and facts["latent_shape"] == [1, 48, 9, 12]


def test_rgb_training_forward_fits_the_shared_loss():
    model = build_rgb()
    x = torch.rand(4, 3, 32, 32)
    out = model(x - 0.5)
    losses = rd_loss(x - 0.5, out)
    losses.loss.backward()
    assert out["x_hat"].shape == x.shape and out["likelihoods"]["y"].shape == (4, 48, 4, 4)
    assert model.log_gain.grad is not None and model.encoder.weight.grad is not None


def test_rgb_bad_input(rgb_weights):
    codec = WallocRGB(weights=rgb_weights)
    with pytest.raises(NeurocodecError):
        codec.encode(np.zeros((8, 8), np.uint8))
    data = container.unpack(codec.encode(_image(16, 16)))
    for fields in (data.fields[:3] + (9,), data.fields[:3], data.fields[:3] + (0, 0)):
        with pytest.raises(NeurocodecError):
            codec.decode(container.pack(container.Container(5, data.fingerprint, fields, data.streams)))
    with pytest.raises(NeurocodecError):
        codec.decode(container.pack(container.Container(5, data.fingerprint, data.fields, data.streams * 2)))


# --- audio --------------------------------------------------------------------------------
def test_stereo_and_mono_round_trip(stereo_weights):
    codec = WallocStereo(quality=5, weights=stereo_weights)
    for channels in (2, 1):
        clip = _music(0.5, 16000 if channels == 1 else 44100, channels)
        out = codec.decode(codec.encode(clip))
        assert out.samples.shape == clip.samples.shape and out.rate == clip.rate
        snr = 10 * np.log10(np.mean(clip.samples**2) / np.mean((out.samples - clip.samples) ** 2))
        assert snr > 10
        assert np.array_equal(np.round(out.samples * 32767), out.samples * 32767)  # on the PCM grid


def test_audio_chunks_are_streams_and_latents_concatenate(stereo_weights, monkeypatch):
    import neurocodec.codecs.walloc.codec as walloc

    monkeypatch.setattr(walloc, "STEREO_CHUNK_LOG2", 12)
    codec = WallocStereo(weights=stereo_weights)
    clip = _music(0.25, 44100)  # 11025 samples: chunks of 4096, 4096, 2833
    data = codec.encode(clip)
    parsed = container.unpack(data)
    assert len(parsed.streams) == 3 and parsed.fields[2:] == (11025, 12)
    assert codec.latents(data).shape == (1, 32, 64 + 64 + 45)
    assert codec.decode(data).samples.shape == (2, 11025)
    bad = container.Container(6, parsed.fingerprint, parsed.fields, parsed.streams[:2])
    with pytest.raises(NeurocodecError, match="streams"):
        codec.decode(container.pack(bad))


def test_audio_training_step():
    model = build_stereo()
    x = _music(0.1).samples[None, :, :4096]
    losses = audio_loss(torch.from_numpy(x), model(torch.from_numpy(x)))
    losses.loss.backward()
    assert losses.bpp > 0 and model.encoder.weight.grad is not None


# --- determinism and streaming ----------------------------------------------------------
def _fresh_process(script: str) -> None:
    subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=True)


def test_decode_in_fresh_process_one_thread_is_identical(rgb_weights, stereo_weights, tmp_path):
    torch.set_num_threads(2)
    rgb, stereo = WallocRGB(quality=3, weights=rgb_weights), WallocStereo(quality=3, weights=stereo_weights)
    (tmp_path / "i.ncs").write_bytes(rgb.encode(_image(64, 96, 1)))
    (tmp_path / "a.ncs").write_bytes(stereo.encode(_music(0.3)))
    here_image = rgb.decode((tmp_path / "i.ncs").read_bytes())
    here_audio = stereo.decode((tmp_path / "a.ncs").read_bytes()).samples
    _fresh_process(f"""
        import numpy as np, torch
        torch.set_num_threads(1)
        from neurocodec.codecs.walloc.codec import WallocRGB, WallocStereo
        d = {str(tmp_path)!r}
        np.save(d + "/i.npy", WallocRGB(weights={str(rgb_weights)!r}).decode(open(d + "/i.ncs", "rb").read()))
        a = WallocStereo(weights={str(stereo_weights)!r}).decode(open(d + "/a.ncs", "rb").read())
        np.save(d + "/a.npy", a.samples)
    """)
    assert np.array_equal(np.load(tmp_path / "i.npy"), here_image)
    assert np.array_equal(np.load(tmp_path / "a.npy"), here_audio)


def test_two_minute_file_streams_in_bounded_memory(stereo_weights, tmp_path):
    """Encode and decode a 2-minute stereo wav file by file; decoding's peak memory grows by
    less than half of what the decoded signal takes as float32 (42 MB)."""
    rate, seconds = 44100, 120
    wav, out = tmp_path / "long.wav", tmp_path / "back.wav"
    with media.AudioWriter(wav, rate, 2) as writer:
        for k in range(seconds // 10):
            writer.write(_music(10, rate, 2, seed=k).samples)
    _fresh_process(f"""
        import resource, torch
        torch.set_num_threads(1)
        from neurocodec.codecs.walloc.codec import WallocStereo
        codec = WallocStereo(quality=1, weights={str(stereo_weights)!r})
        data = codec.encode_file({str(wav)!r})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        codec.decode_file(data, {str(out)!r})
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert grown < 21, f"peak memory grew by {{grown:.0f}} MB while decoding"
    """)
    back = media.read_audio(out)
    assert back.samples.shape == (2, rate * seconds) and back.rate == rate


def test_pca_init_is_an_orthonormal_projection_that_beats_the_default_start(tmp_path):
    from PIL import Image

    from neurocodec.codecs.walloc.pca_init import pca_initialised, principal_components
    from neurocodec.training import RandomCrops

    for i in range(3):
        Image.fromarray(_image(64, 80, seed=i)).save(tmp_path / f"{i}.png")
    crops = RandomCrops(sorted(tmp_path.glob("*.png")), 32, seed=0)
    default = build_rgb().double()
    model = pca_initialised(build_rgb().double(), *principal_components(default, crops, 12))
    basis = model.encoder.weight[:, :, 0, 0]  # [latent, channels]
    torch.testing.assert_close(basis @ basis.T, torch.eye(model.latent, dtype=basis.dtype))
    torch.testing.assert_close(model.decoder_linear.weight[:, :, 0, 0], basis.T)
    x = torch.stack([crops[100 + i] for i in range(4)]).double() - 0.5  # crops it was not fitted on
    packets = wavelets.forward(x, model.levels, 2)

    def linear_error(m) -> float:
        with torch.no_grad():
            return float((m.decoder_linear(m.project(x)) - packets).square().mean())

    assert linear_error(model) < 0.8 * linear_error(default)


# --- spatial context model ----------------------------------------------------------------
def _correlated_plane(c, h, w, seed, amplitude=20.0):
    """Integer latents with spatial correlation: a smoothed random field per channel."""
    rng = np.random.default_rng(seed)
    field = rng.normal(0, 1, (c, h + 4, w + 4)).cumsum(1).cumsum(2)
    field = field[:, 4:, 4:] - field[:, :-4, 4:] - field[:, 4:, :-4] + field[:, :-4, :-4]  # 4x4 box sums
    return np.rint(field * amplitude / 4 * np.linspace(1, 0.1, c)[:, None, None]).astype(np.int64)


@pytest.mark.parametrize("shape", [(3, 2, 2), (2, 2, 7), (4, 5, 2), (6, 9, 13)])
def test_context_model_round_trips_exactly(shape):
    plane = _correlated_plane(*shape, seed=sum(shape))
    plane[0, -1, -1] = 5000  # far outside every table: escape-coded
    scales = np.random.default_rng(1).integers(0, context.LAPLACE.num_tables, (2, shape[0], context.BINS)).astype(np.uint8)
    enc = Encoder()
    context.encode(plane, scales, enc)
    assert np.array_equal(context.decode(Decoder(enc.finish()), scales, shape), plane)


def test_context_fit_picks_the_cheapest_tables_and_the_stream_matches_their_cost():
    train, test = _correlated_plane(8, 24, 32, seed=0), _correlated_plane(8, 24, 32, seed=1)
    bits = context.table_bits(64)
    hist = context.residual_histograms(train, span=64)
    scales = context.fit_scale_indexes(hist, bits)
    cost = np.einsum("kcbr,tr->kcbt", hist, bits)
    chosen = np.take_along_axis(cost, scales[..., None].astype(np.int64), -1)[..., 0]
    assert np.all(chosen <= cost.min(-1) + 1e-6)
    flat = np.zeros_like(scales) + np.bincount(scales.ravel()).argmax()  # one table for every context
    sizes = []
    for s in (scales, flat):
        enc = Encoder()
        context.encode(test, s, enc)
        sizes.append(len(enc.finish()))
    predicted = (context.residual_histograms(test, span=64) * bits[scales.astype(np.int64)]).sum() / 8
    assert abs(sizes[0] - predicted) < 0.01 * predicted + 8
    assert sizes[0] < sizes[1]  # per-context tables beat one table for all


def test_fit_context_fills_every_quality(tmp_path):
    from neurocodec.codecs.walloc import ship

    for seed in range(2):
        media.write_image(tmp_path / f"train{seed}.png", smooth_image(64, 80, seed, noise=8))
    torch.manual_seed(0)
    model = build_rgb().eval()
    ship.fit_context(model, [str(tmp_path)], 2)
    assert all(model.context_scales[q].any() for q in range(model.num_qualities))


def test_shipped_rgb_codes_a_photo_with_the_context_model():
    """On a real photo the fitted context model beats the factorized prior (the encoder keeps the smaller)."""
    codec = WallocRGB(quality=3)
    x = media.read_image(weights.weights_dir().parent / "samples" / "chelsea.png")
    data = codec.encode(x)
    assert container.unpack(data).fields[-1] == CONTEXT
    assert 10 * np.log10(255**2 / np.mean((codec.decode(data).astype(float) - x) ** 2)) > 25
