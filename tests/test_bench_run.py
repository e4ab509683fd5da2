"""End-to-end bench runs on tiny generated inputs (and on Kodak where ../shared/datasets exists)."""

import argparse
import csv
import gzip
import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neurocodec.bench import audio, image, video
from neurocodec.bench.classical import IMAGE_CODECS, resolve
from neurocodec.bench.report import parse_qualities
from neurocodec.errors import NeurocodecError

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _photo(seed: int, height: int = 176, width: int = 192) -> np.ndarray:
    """A smooth, slightly noisy colour image (MS-SSIM needs sides of at least 161)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / 40.0
    channels = [np.sin(x * (1 + c) + seed) * np.cos(y * (2 - c / 2)) for c in range(3)]
    picture = 127 + 100 * np.stack(channels, axis=-1) + rng.normal(0, 6, (height, width, 3))
    return np.clip(picture, 0, 255).astype(np.uint8)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(_photo(i)).save(folder / f"photo{i}.png")
    return folder


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_image_bench_writes_every_result_file(photos: Path, tmp_path: Path):
    out = tmp_path / "out"
    table = image.run("jpeg,webp", [photos], out, qualities=["30,70"], limit=2)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["jpeg.json", "webp.json", "summary.csv", "per_file.csv", "rd.png", "summary.txt"])
    document = _json(out / "webp.json")
    assert document["name"] == "webp" and "mean over images of per-image PSNR" in document["description"]
    results = document["results"]
    assert results["quality"] == [30, 70]
    assert set(results) >= {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}
    assert results["bpp"][0] < results["bpp"][1] and results["psnr-rgb"][0] < results["psnr-rgb"][1]
    assert 0 < results["ms-ssim-rgb"][0] < 1
    assert {"cpu", "python", "torch", "pillow", "av", "numpy", "date"} <= set(document["machine"])
    assert len((out / "per_file.csv").read_text().splitlines()) == 1 + 2 * 2 * 2
    assert len((out / "summary.csv").read_text().splitlines()) == 1 + 2 * 2
    assert (out / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "BD-rate" in table and "anchor" in table

    # bpp comes from the real encoded size: re-encode one image and compare.
    data = IMAGE_CODECS["jpeg"].load(30).encode(_photo(0))
    first = _rows(out / "per_file.csv")[0]
    assert (first["codec"], first["quality"], first["file"], first["bytes"]) == ("jpeg", "30", "photo0.png", str(len(data)))


def test_existing_results_are_not_overwritten_without_force(photos: Path, tmp_path: Path):
    out = tmp_path / "out"
    image.run("jpeg", [photos], out, qualities=["50"], limit=1)
    before = (out / "jpeg.json").read_text()
    with pytest.raises(NeurocodecError, match="--force"):
        image.run("jpeg", [photos], out, qualities=["50"], limit=1)
    assert (out / "jpeg.json").read_text() == before
    image.run("jpeg", [photos], out, qualities=["60"], limit=1, force=True)
    assert _json(out / "jpeg.json")["results"]["quality"] == [60]


def test_bad_requests_give_clear_errors(photos: Path, tmp_path: Path):
    with pytest.raises(NeurocodecError, match="unknown"):
        image.run("jpeg,no-such-codec", [photos], tmp_path / "o")
    with pytest.raises(NeurocodecError, match="no such file"):
        image.run("jpeg", [tmp_path / "missing"], tmp_path / "o")
    with pytest.raises(NeurocodecError, match="integers"):
        parse_qualities(["jpeg=high"], resolve("jpeg", IMAGE_CODECS, ("image",)))
    with pytest.raises(NeurocodecError, match="not among"):
        parse_qualities(["webp=10"], resolve("jpeg", IMAGE_CODECS, ("image",)))


def test_quality_specs_override_per_codec():
    codecs = resolve("jpeg,webp", IMAGE_CODECS, ("image",))
    assert parse_qualities(["10,20", "webp=5"], codecs) == {"jpeg": (10, 20), "webp": (5,)}
    assert parse_qualities(None, codecs)["jpeg"] == IMAGE_CODECS["jpeg"].qualities


class _Quantizer:
    """A stand-in learned codec: keep the top bits of every sample, zlib the rest away."""

    def __init__(self, quality: int):
        self.shift = 8 - quality

    def encode(self, x: np.ndarray) -> bytes:
        header = struct.pack(">3H", *x.shape) if x.ndim == 3 else struct.pack(">2H", *x.shape)
        return bytes([x.ndim]) + header + zlib.compress((x >> self.shift).tobytes(), 9)

    def decode(self, data: bytes) -> np.ndarray:
        ndim = data[0]
        shape = struct.unpack(f">{ndim}H", data[1 : 1 + 2 * ndim])
        top = np.frombuffer(zlib.decompress(data[1 + 2 * ndim :]), np.uint8).reshape(shape)
        return (top << self.shift) + (1 << self.shift >> 1)


def test_learned_codecs_come_through_the_registry(photos: Path, tmp_path: Path, monkeypatch):
    import neurocodec
    from neurocodec import registry

    fake = argparse.Namespace(name="test-quantizer", modality="image", qualities=(3, 4, 5, 6),
                              description="test codec")
    real_load = getattr(neurocodec, "load", None)
    monkeypatch.setattr(registry, "available", lambda: [fake])
    monkeypatch.setattr(neurocodec, "load", lambda name, quality=None: _Quantizer(quality) if name == fake.name
                        else real_load(name, quality=quality), raising=False)
    out = tmp_path / "out"
    table = image.run("jpeg,test-quantizer", [photos], out, qualities=["jpeg=20,40,60,80,95"], limit=2)
    results = _json(out / "test-quantizer.json")["results"]
    assert results["quality"] == [3, 4, 5, 6]
    assert results["psnr-rgb"] == sorted(results["psnr-rgb"])
    line = next(row for row in table.splitlines() if row.startswith("test-quantizer"))
    assert "n/a" not in line  # its curve overlaps JPEG's: BD-rates exist

    fake.modality = "audio"
    with pytest.raises(NeurocodecError, match="audio codec"):
        image.run("test-quantizer", [photos], tmp_path / "other")


@pytest.mark.skipif(not (DATASETS / "kodak").is_dir(), reason="../shared/datasets/kodak is not here")
def test_kodak_two_images_two_qualities(tmp_path: Path):
    out = tmp_path / "kodak"
    image.run("jpeg,jpeg444", [DATASETS / "kodak"], out, qualities=["50,90"], limit=2)
    results = _json(out / "jpeg.json")["results"]
    assert 0.5 < results["bpp"][0] < results["bpp"][1] < 4
    assert 28 < results["psnr-rgb"][0] < results["psnr-rgb"][1] < 45


def test_lossless_bench_counts_bits_per_dimension_over_the_set(tmp_path: Path):
    rng = np.random.default_rng(0)
    digits = (rng.random((5, 28, 28)) > 0.7).astype(np.uint8) * 255
    np.savez(tmp_path / "digits.npz", x=digits)
    raw = b"\0\0\x08\x03" + struct.pack(">3I", 5, 28, 28) + digits.tobytes()
    (tmp_path / "digits-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    assert [a.tolist() for _, a in image.load_images([tmp_path / "digits-idx3-ubyte.gz"])] == digits.tolist()

    out = tmp_path / "out"
    table = image.run_lossless("png,webp-lossless", [tmp_path / "digits.npz"], out, limit=4)
    assert "WARNING" not in table
    png = [r for r in _rows(out / "per_file.csv") if r["codec"] == "png"]
    assert len(png) == 4 and all(r["exact"] == "True" and r["dims"] == "784" for r in png)
    results = _json(out / "png.json")["results"]
    assert results["bpd"][0] == pytest.approx(8 * sum(int(r["bytes"]) for r in png) / (4 * 784))


def _write_clip(path: Path, frames: int = 12, width: int = 64, height: int = 48) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        y, x = np.mgrid[0:height, 0:width]
        for t in range(frames):
            rgb = np.stack([(x * 4 + t * 3) % 256, (y * 5) % 256, ((x + y) * 2 + t) % 256], -1).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))


def test_video_bench_limits_frames_and_downscales(tmp_path: Path):
    clip = tmp_path / "clip.mkv"
    _write_clip(clip)
    out = tmp_path / "out"
    video.run("x264", [clip], out, qualities=["20,40"], frames=8, scale=0.5)
    first = _rows(out / "per_file.csv")[0]
    assert (first["frames"], first["width"], first["height"]) == ("8", "32", "24")
    assert float(first["bpp"]) == pytest.approx(8 * int(first["bytes"]) / (8 * 32 * 24))
    assert float(first["kbps"]) == pytest.approx(8 * int(first["bytes"]) / (8 / 25) / 1000)
    results = _json(out / "x264.json")["results"]
    assert results["psnr-y"][0] > results["psnr-y"][1] > 20
    assert "preset medium" in _json(out / "x264.json")["description"]


def test_audio_bench_opus_and_flac(tmp_path: Path):
    import av

    rate = 16000
    t = np.arange(int(1.5 * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    with av.open(str(tmp_path / "tone.wav"), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
        pcm = (signal * 32767).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    out = tmp_path / "out"
    audio.run("opus,flac", [tmp_path], out, qualities=["opus=12,64"])
    opus, flac = _json(out / "opus.json")["results"], _json(out / "flac.json")["results"]
    assert opus["kbps"][0] < opus["kbps"][1] < flac["kbps"][0]
    assert opus["lsd"][0] > opus["lsd"][1]
    assert flac["snr"] == [None]  # exact on a 16-bit source: infinite SNR, which JSON writes as null
    assert _rows(out / "per_file.csv")[-1]["snr"] == "inf"
    clip = audio.read_audio(tmp_path / "tone.wav")
    assert clip.rate == rate and clip.samples.shape == (1, t.size)


def test_cli_registers_every_bench_kind(photos: Path, tmp_path: Path, capsys):
    from neurocodec.cli import bench

    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "image", "--codecs", "jpeg", "--data", str(photos), "--out",
                              str(tmp_path / "cli"), "--limit", "1", "--qualities", "50"])
    assert args.func(args) == 0
    assert "jpeg" in capsys.readouterr().out
    for kind in ("lossless", "video", "audio"):
        assert callable(parser.parse_args(["bench", kind, "--data", "x", "--out", "y"]).func)
    assert math.isfinite(_json(tmp_path / "cli" / "jpeg.json")["results"]["psnr-rgb"][0])
