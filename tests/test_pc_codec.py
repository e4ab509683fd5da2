"""pc-lossless codec: round trips with the shipped weights, determinism across processes, refusals."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurocodec
from neurocodec import NeurocodecError, container

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
MNIST_TEST = DATASETS / "mnist" / "t10k-images-idx3-ubyte.gz"
FASHION_TEST = DATASETS / "fashion_mnist" / "t10k-images-idx3-ubyte.gz"


def _digits(path: Path, n: int) -> np.ndarray:
    if not path.is_file():
        pytest.skip(f"dataset not found at {path}")
    from neurocodec.codecs.pc.datasets import load_images
    return load_images(path)[:n]


@pytest.fixture(scope="module")
def codec():
    return neurocodec.load("pc-lossless", quality=1)


def test_round_trip_of_real_digits(codec):
    digits = _digits(MNIST_TEST, 6)
    for img in digits[:3]:
        data = codec.encode(img)
        np.testing.assert_array_equal(neurocodec.decode(data), img)
        np.testing.assert_array_equal(codec.decode(codec.encode(img[..., None])), img)
        assert container.overhead(container.unpack(data)) <= 14
        assert len(data) < 0.3 * img.size  # well below 2.4 bits/dim
    files = codec.encode_batch(digits)
    np.testing.assert_array_equal(codec.decode_batch(files), digits)


def test_fashion_model_round_trip():
    items = _digits(FASHION_TEST, 2)
    codec = neurocodec.load("pc-lossless", quality=2)
    files = codec.encode_batch(items)
    np.testing.assert_array_equal(neurocodec.decode(files[1]), items[1])
    with pytest.raises(NeurocodecError):
        neurocodec.load("pc-lossless", quality=1).decode(files[0])


_CHILD = """
import sys, numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
from neurocodec.codecs.pc import PcLossless
from neurocodec.codecs.pc.datasets import load_images
codec = PcLossless(quality=1)
digits = load_images(sys.argv[2])[:5]
if sys.argv[3] == "encode-batch":
    print(",".join(f.hex() for f in codec.encode_batch(digits)))
else:
    files = [codec.encode(d) for d in digits]  # one at a time
    out = np.stack([codec.decode(bytes.fromhex(h)) for h in sys.argv[4].split(",")])
    print(",".join(f.hex() for f in files), int(np.array_equal(out, digits)))
"""


def _child(threads: int, *args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    return subprocess.run([sys.executable, "-c", _CHILD, str(threads), *args], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_identical_bytes_across_processes_threads_and_batching():
    _digits(MNIST_TEST, 1)
    batch_files = _child(2, str(MNIST_TEST), "encode-batch")
    single_files, decoded_ok = _child(1, str(MNIST_TEST), "encode-single", batch_files).split()
    assert single_files == batch_files
    assert decoded_ok == "1"


def test_refuses_images_it_was_not_trained_for(codec):
    for bad in (np.zeros((32, 32), np.uint8), np.zeros((28, 28, 3), np.uint8), np.zeros((28, 28), np.float32),
                np.zeros((28,), np.uint8)):
        with pytest.raises(NeurocodecError, match="28x28 grayscale"):
            codec.encode(bad)


def test_corrupt_or_foreign_files_fail_clearly(codec):
    data = bytearray(codec.encode(np.zeros((28, 28), np.uint8)))
    data[-6] ^= 0xFF
    with pytest.raises(NeurocodecError):
        codec.decode(bytes(data))
    other = container.pack(container.Container(codec.codec_id, codec.fingerprint, (32, 32, 1), (b"\1",)))
    with pytest.raises(NeurocodecError):
        codec.decode(other)
    with pytest.raises(NeurocodecError):
        codec.decode_batch([other])


def test_many_images_in_one_file(codec, tmp_path):
    """A stack is one file, one stream per 64 images, pixel-major inside; it costs less than one
    file per image and decodes to the same pixels, also through the CLI's .npy path."""
    digits = _digits(MNIST_TEST, 70)
    data = codec.encode_images(digits)
    parsed = container.unpack(data)
    assert parsed.fields == (28, 28, 1, 70) and len(parsed.streams) == 2
    np.testing.assert_array_equal(codec.decode_images(data), digits)
    np.testing.assert_array_equal(neurocodec.decode(data), digits)
    singles = codec.encode_batch(digits)
    assert len(data) < sum(len(f) for f in singles) - 70 * 14  # container and flush paid per 64 images
    assert codec.encode_images(digits[:1]) == singles[0]  # a one-image stack is a one-image file
    np.testing.assert_array_equal(codec.decode_images(singles[3]), digits[3:4])
    from neurocodec.cli.coding import describe
    facts = describe(data)
    assert facts["images"] == 70 and facts["bpp"] == 8 * len(data) / (70 * 28 * 28)  # per image, not per file

    from neurocodec.cli.main import main
    np.save(tmp_path / "digits.npy", digits)
    assert main(["encode", str(tmp_path / "digits.npy"), "-o", str(tmp_path / "d.ncs"), "--codec", "pc-lossless"]) == 0
    assert (tmp_path / "d.ncs").read_bytes() == data
    assert main(["decode", str(tmp_path / "d.ncs"), "-o", str(tmp_path / "back.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "back.npy"), digits)
    assert main(["decode", str(tmp_path / "d.ncs"), "-o", str(tmp_path / "one.png")]) == 2  # 70 images


def test_multi_image_headers_are_checked(codec):
    digits = _digits(MNIST_TEST, 3)
    parsed = container.unpack(codec.encode_images(digits))
    for fields, streams in (((28, 28, 1, 65), parsed.streams),  # 65 images need two streams
                            ((28, 28, 1, 1), parsed.streams),  # a count of 1 is never written
                            ((28, 28, 1, 3, 3), parsed.streams),
                            ((28, 28, 1, 1 << 30), parsed.streams)):
        bad = container.pack(container.Container(codec.codec_id, codec.fingerprint, fields, streams))
        with pytest.raises(NeurocodecError, match="corrupt"):
            codec.decode(bad)
    with pytest.raises(NeurocodecError, match="one-image files"):
        codec.decode_batch([codec.encode_images(digits)])
