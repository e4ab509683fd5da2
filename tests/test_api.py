"""Library API: load/encode/decode, header-driven decode, weights fingerprints, determinism."""

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import neurocodec
from neurocodec import container, registry
from neurocodec.errors import NeurocodecError


def test_round_trip_equals_the_models_own_reconstruction(toy, image):
    codec = neurocodec.load("toy-test", quality=2)
    data = codec.encode(image)
    expected = codec.reconstruct(codec.latents(image), *image.shape[:2])
    np.testing.assert_array_equal(codec.decode(data), expected)
    np.testing.assert_array_equal(neurocodec.decode(data), expected)  # codec and quality from the header
    assert container.overhead(container.unpack(data)) <= 17  # 16 + the toy's own extra fields


def test_unknown_codec_and_quality(toy):
    with pytest.raises(NeurocodecError, match="unknown codec"):
        neurocodec.load("no-such-codec")
    with pytest.raises(NeurocodecError, match="no quality 9"):
        neurocodec.load("toy-test", quality=9)


def test_mismatched_weights_give_a_clear_error(toy, image):
    data = neurocodec.load("toy-test").encode(image)
    parsed = container.unpack(data)
    other = container.pack(container.Container(parsed.codec_id, 0x9999, parsed.fields, parsed.streams))
    with pytest.raises(NeurocodecError, match="other weights"):
        neurocodec.load("toy-test").decode(other)


def test_wrong_codec_for_file(toy, image):
    data = neurocodec.load("toy-test").encode(image)
    parsed = container.unpack(data)
    other = container.pack(container.Container(251, parsed.fingerprint, parsed.fields, parsed.streams))
    with pytest.raises(NeurocodecError):
        neurocodec.load("toy-test").decode(other)


def test_registry_lists_and_defaults(toy):
    names = [c.name for c in neurocodec.available()]
    assert "toy-test" in names
    assert registry.default_codec("image")  # some image codec is the default
    with pytest.raises(RuntimeError, match="twice"):
        registry.register(type("Clash", (toy,), {}))


DECODE_IN_FRESH_PROCESS = textwrap.dedent("""
    import sys, hashlib, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    import toy_codec
    from neurocodec import registry
    registry.register(toy_codec.ToyCodec)
    import neurocodec
    out = neurocodec.decode(open({path!r}, 'rb').read())
    print(hashlib.sha256(out.tobytes()).hexdigest())
""")


def test_decoding_is_identical_in_a_fresh_process_with_another_thread_count(toy, image, tmp_path):
    torch.set_num_threads(2)
    data = neurocodec.load("toy-test").encode(image)
    here = hashlib.sha256(neurocodec.decode(data).tobytes()).hexdigest()
    path = tmp_path / "x.ncs"
    path.write_bytes(data)
    script = DECODE_IN_FRESH_PROCESS.format(tests=str(Path(__file__).parent), path=str(path))
    there = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    assert there == here


def test_one_image_alone_or_tiled_in_a_batch_decodes_the_same(toy, image):
    """Exactness must not depend on what else is decoded: the same image inside a larger one."""
    codec = neurocodec.load("toy-test")
    alone = codec.decode(codec.encode(image[:36, :52]))
    big = np.concatenate([image[:36, :52]] * 3, axis=0)
    tiled = codec.decode(codec.encode(big))
    np.testing.assert_array_equal(tiled[:36], alone)
