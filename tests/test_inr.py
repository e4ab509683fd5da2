"""INR video codecs (hnerv, nerv++): compression pipeline, container round trip, CLI, bad input.

Fast: tiny synthetic clips (8 frames of 32x64) and a few seconds of fitting each.
"""

from fractions import Fraction

import numpy as np
import pytest
import torch

from conftest import datasets
from neurocodec import NeurocodecError, media, registry
from neurocodec.cli.main import main
from neurocodec.codecs.inr import compress
from neurocodec.entropy import Decoder, Encoder

torch.set_num_threads(1)


def smooth_clip(frames: int = 8, h: int = 32, w: int = 64) -> list[np.ndarray]:
    yy, xx = np.mgrid[:h, :w]
    return [np.clip(np.stack([128 + 100 * np.sin(xx / 9 + t / 3), 128 + 80 * np.cos(yy / 7 - t / 4),
                              100 + 60 * np.sin((xx + yy) / 11 + t / 5)], -1), 0, 255).astype(np.uint8)
            for t in range(frames)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("inr") / "clip.mkv"
    media.write_video(path, smooth_clip(), Fraction(25))
    return path


@pytest.fixture(scope="module", params=["hnerv", "nerv++"])
def encoded(request, clip):
    codec = registry.load(request.param, size=4000, epochs=30, progress=False)
    return codec, codec.encode_file(clip)


def test_round_trip_equals_encoder_reconstruction(encoded, clip):
    codec, data = encoded
    video = registry.decode(data)
    decoded = list(video.frames)
    assert len(decoded) == 8 and decoded[0].shape == (32, 64, 3) and video.fps == 25
    own = list(codec.fitted_frames())
    assert all(np.array_equal(a, b) for a, b in zip(decoded, own))
    assert codec.reconstruction_psnr(clip) > 15  # it learned something in 30 epochs


def test_single_frame_and_range_equal_full_decode(encoded):
    codec, data = encoded
    full = list(registry.decode(data).frames)
    meta, extra, streams = codec.parse(data)
    one = list(codec.decode_frames(meta, extra, streams, range(5, 6)).frames)
    part = list(codec.decode_frames(meta, extra, streams, range(2, 4)).frames)
    assert len(one) == 1 and np.array_equal(one[0], full[5])
    assert all(np.array_equal(a, b) for a, b in zip(part, full[2:4]))
    with pytest.raises(NeurocodecError):
        codec.decode_frames(meta, extra, streams, range(7, 9))


def test_corrupt_files_fail_cleanly(encoded):
    _, data = encoded
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    for bad in (data[:-5], bytes(flipped), data[:20]):
        with pytest.raises(NeurocodecError):
            list(registry.decode(bad).frames)


def test_corrupt_stream_with_valid_crc_fails_cleanly(encoded):
    """A payload that passes the CRC but does not decode (forged file) is still one clean error."""
    from neurocodec import container

    codec, data = encoded
    parsed = container.unpack(data)
    garbage = tuple(bytes(len(s)) for s in parsed.streams)
    forged = container.pack(container.Container(parsed.codec_id, parsed.fingerprint, parsed.fields, garbage))
    with pytest.raises(NeurocodecError):
        list(registry.decode(forged).frames)
    huge = (*parsed.fields[:5], 5, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 1024, 1024, 1024, 1024, 1024, *parsed.fields[-4:])
    with pytest.raises(NeurocodecError, match="too large|corrupt"):
        registry.decode(container.pack(container.Container(parsed.codec_id, 0, huge, parsed.streams)))


def test_fresh_hnerv_output_follows_its_input_frame():
    """The decoder's init keeps the frame-dependent signal through five stages (PyTorch's default
    init left 0.03 % of it, and fits learnt only the mean frame)."""
    from neurocodec.codecs.inr.hnerv import HNeRV, HNeRVArch

    torch.manual_seed(0)
    frames = torch.rand(4, 3, 160, 320)
    model = HNeRV(HNeRVArch((5, 4, 4, 2, 2), (1, 3, 5, 5, 5), (20, 17, 14, 12, 12), 16), 160, 320)
    with torch.no_grad():
        out = model.fit_forward(frames, torch.arange(4))
    assert out.std(0).mean() > 0.05 * frames.std(0).mean()


@pytest.mark.parametrize("bits", [4, 6, 8])
def test_quantization_symbols_round_trip_exactly(bits):
    rng = np.random.default_rng(bits)
    w = rng.laplace(0, 0.05, (24, 12, 3, 3)).astype(np.float32)
    w[:3] *= 20  # a few loud channels: per-channel steps err less
    b = rng.normal(0, 0.1, 24).astype(np.float32)
    qs = [compress.quantize(w, bits), compress.quantize(b, bits)]
    assert qs[0].axis == 0 and qs[1].axis == -1
    qmax = 2 ** (bits - 1) - 1
    assert all(np.abs(q.symbols).max() <= qmax for q in qs)
    step = compress.step_of(qs[0].exps).reshape(-1, 1, 1, 1)
    assert np.abs(qs[0].dequantize() - w).max() <= step.max() / 2 + 1e-7
    enc = Encoder()
    compress.encode_group(enc, qs, bits)
    out = compress.decode_group(Decoder(enc.finish()), [w.shape, b.shape], [0, 0], bits)
    for q, o in zip(qs, out):
        assert np.array_equal(q.symbols, o.symbols) and np.array_equal(q.exps, o.exps) and q.axis == o.axis
        assert np.array_equal(q.dequantize(), o.dequantize())


def test_per_tensor_chosen_when_channels_alike():
    w = np.tile(np.linspace(-1, 1, 50, dtype=np.float32), (4, 1))  # identical channels
    assert compress.quantize(w, 6).axis == -1


def test_step_is_exact_and_covers_the_range():
    k = np.arange(-400, 40)
    steps = compress.step_of(k)
    assert np.all(np.diff(steps) > 0)
    maxabs = np.abs(np.random.default_rng(0).normal(0, 1, 1000)) + 1e-6
    e = compress.exponent_for(maxabs, 31)
    assert np.all(compress.step_of(e) * 31 >= maxabs) and np.all(compress.step_of(e - 1) * 31 < maxabs)


def test_entropy_coding_beats_raw_and_huffman_on_pruned_weights():
    rng = np.random.default_rng(1)
    w = torch.from_numpy(rng.laplace(0, 0.05, (96, 64, 5, 5)).astype(np.float32))
    mask = compress.global_prune_masks([w], 0.4)[0]
    assert abs(1 - mask.float().mean().item() - 0.4) < 0.01
    q = compress.quantize((w * mask).numpy(), 8)
    enc = Encoder()
    compress.encode_group(enc, [q], 8)
    coded = len(enc.finish())
    huffman = compress.huffman_reference_bytes([q], 8)
    raw = q.symbols.size  # 8 bits a weight
    assert coded < 0.9 * raw
    assert coded < huffman
    # the reference is the same side information plus a real Huffman code of the symbols
    assert huffman > compress.huffman_bits(np.bincount(q.symbols.ravel() + 127)) / 8


def test_tables_and_exponents_round_trip():
    rng = np.random.default_rng(2)
    qs = [compress.quantize(rng.normal(0, s, (12, 5, 3)) * (rng.random((12, 5, 3)) < 0.7), 6)
          for s in (0.01, 1.0, 30.0)]
    qs.append(compress.Quantized(np.zeros((4, 2), dtype=np.int64), np.array([-200]), -1))  # few used symbols
    enc = Encoder()
    compress.encode_group(enc, qs, 6)
    back = compress.decode_group(Decoder(enc.finish()), [q.symbols.shape for q in qs], [0] * len(qs), 6)
    for q, b in zip(qs, back):
        assert q.axis == b.axis and np.array_equal(q.symbols, b.symbols) and np.array_equal(q.exps, b.exps)


def test_huffman_bits_known_case():
    assert compress.huffman_bits(np.array([5, 0, 3, 1, 1])) == 5 * 1 + 3 * 2 + 1 * 3 + 1 * 3
    assert compress.huffman_bits(np.array([0, 7])) == 7


def test_level_counts_are_monotone_integers():
    counts = compress.level_counts(np.arange(compress.LEVELS))
    assert counts[0] == 0 and np.all(np.diff(counts) >= 0) and counts.dtype == np.int64
    x = np.array([1, 7, 1000, 123456])
    approx = compress.level_counts(compress.count_levels(x))
    assert np.all(np.abs(np.log2(approx / x)) < 0.2)


def test_options_validated():
    with pytest.raises(NeurocodecError):
        registry.load("hnerv", bpp=0.01, size=100)
    with pytest.raises(NeurocodecError):
        registry.load("nerv++", preset="slow")
    with pytest.raises(NeurocodecError):
        registry.load("hnerv", epochs=0)
    with pytest.raises(NeurocodecError):
        registry.load("hnerv", batch=0)
    with pytest.raises(NeurocodecError):
        registry.load("hnerv").encode(np.zeros((8, 8, 3), np.uint8))


def test_time_budget_stops_fitting(clip):
    codec = registry.load("nerv++", size=4000, minutes=0.02, progress=False)
    codec.encode_file(clip)
    assert codec.fitted.report.seconds < 20
    assert codec.fitted.report.epochs < 30


def test_cli_encode_decode_single_frame(clip, tmp_path, capsys):
    ncs = tmp_path / "c.ncs"
    assert main(["encode", str(clip), "-o", str(ncs), "--codec", "hnerv", "--size", "4000", "--minutes", "0.05"]) == 0
    assert main(["decode", str(ncs), "-o", str(tmp_path / "all.y4m")]) == 0
    assert main(["decode", str(ncs), "-o", str(tmp_path / "f3.png"), "--frames", "3"]) == 0
    assert main(["decode", str(ncs), "-o", str(tmp_path / "part.y4m"), "--frames", "2:4"]) == 0
    full = list(media.iter_frames(tmp_path / "all.y4m"))
    assert len(full) == 8 and len(list(media.iter_frames(tmp_path / "part.y4m"))) == 2
    codec = registry.codec_for(ncs.read_bytes())
    expected = next(iter(codec.decode_frames(*codec.parse(ncs.read_bytes()), range(3, 4)).frames))
    assert np.array_equal(media.read_image(tmp_path / "f3.png"), expected)
    capsys.readouterr()
    assert main(["decode", str(ncs), "-o", str(tmp_path / "x.png"), "--frames", "1:x"]) == 2
    assert main(["decode", str(ncs), "-o", str(tmp_path / "y.png"), "--frames", "2:4"]) == 2
    assert main(["encode", str(tmp_path / "f3.png"), "-o", str(tmp_path / "i.ncs"), "--bpp", "0.1"]) == 2
    assert "takes no --bpp" in capsys.readouterr().err


def test_cli_epochs_and_batch_replace_the_presets(clip, tmp_path):
    ncs = tmp_path / "e.ncs"
    assert main(["encode", str(clip), "-o", str(ncs), "--codec", "nerv++", "--size", "4000", "--epochs", "2",
                 "--batch", "3"]) == 0
    codec = registry.codec_for(ncs.read_bytes())
    meta, extra, _ = codec.parse(ncs.read_bytes())
    assert codec.describe(meta, extra)["epochs"] == 2
    assert registry.load("hnerv", batch=3).schedule.batch == 3


@pytest.mark.slow
def test_bikes_end_to_end(tmp_path):
    """A short fit on the first 25 frames of bikes.mp4 at full size, through the CLI."""
    from neurocodec.bench.video import prepare_clip

    src = prepare_clip(datasets("video") / "bikes.mp4", tmp_path / "bikes25.mkv", 25, None)
    ncs = tmp_path / "bikes.ncs"
    assert main(["encode", str(src), "-o", str(ncs), "--codec", "hnerv", "--bpp", "0.05", "--minutes", "2"]) == 0
    assert main(["decode", str(ncs), "-o", str(tmp_path / "out.y4m")]) == 0
    frames = list(media.iter_frames(tmp_path / "out.y4m"))
    assert len(frames) == 25 and frames[0].shape == (272, 640, 3)
    codec = registry.codec_for(ncs.read_bytes())
    assert 8 * ncs.stat().st_size / (640 * 272 * 25) < 0.1
    assert np.mean([np.mean(np.abs(a.astype(int) - b)) for a, b in zip(frames, media.iter_frames(src))]) < 40
    assert codec.name == "hnerv"
