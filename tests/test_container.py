"""The .ncs container: round trips, overhead, and every kind of bad input."""

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurocodec
from neurocodec import container
from neurocodec.container import Container, pack, unpack
from neurocodec.errors import NeurocodecError

containers = st.builds(
    Container,
    codec_id=st.integers(0, 255),
    fingerprint=st.integers(0, 0xFFFF),
    fields=st.lists(st.integers(0, 2**63 - 1), max_size=40).map(tuple),
    streams=st.lists(st.binary(max_size=300), min_size=1, max_size=40).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(containers)
def test_any_valid_container_round_trips(c):
    assert unpack(pack(c)) == c


def test_image_overhead_is_at_most_16_bytes():
    # A Kodak-sized image with one 5 KB stream: the common case.
    c = Container(4, 0xBEEF, (768, 512, 3), (bytes(5000),))
    assert container.overhead(c) <= 16
    assert container.overhead(Container(4, 0xBEEF, (768, 512, 3, 2), (bytes(5000),))) <= 17


def _valid() -> bytes:
    return pack(Container(7, 0x0102, (640, 480, 3), (b"abc" * 10, b"xyz" * 50)))


@pytest.mark.parametrize("cut", [0, 1, 2, 5, 10, 20, -1, -4])
def test_truncated_files_are_rejected(cut):
    data = _valid()
    with pytest.raises(NeurocodecError):
        unpack(data[:cut])


def test_every_single_byte_flip_is_rejected():
    data = _valid()
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x40
        with pytest.raises(NeurocodecError):
            unpack(bytes(bad))


def test_bad_magic_and_unknown_version():
    data = bytearray(_valid())
    with pytest.raises(NeurocodecError, match="magic"):
        unpack(b"PK" + bytes(data[2:]))
    data[2] = 99
    with pytest.raises(NeurocodecError, match="version 99"):
        unpack(bytes(data))


def _with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "big")


def test_lying_header_with_valid_crc_is_rejected():
    # Claims 15+huge fields and streams: must fail fast, without allocating.
    body = b"NC\x01\x07\x00\x00\xff" + b"\xff" * 8 + b"\x7f" + b"\x01"
    with pytest.raises(NeurocodecError):
        unpack(_with_crc(body))
    # A stream size larger than the file.
    body = b"NC\x01\x07\x00\x00\x11" + b"\x05" + b"\xff\xff\x03" + b"abc"  # 1 field, 2 streams
    with pytest.raises(NeurocodecError, match="truncated"):
        unpack(_with_crc(body))


def test_unknown_codec_id(toy):
    data = pack(Container(199, 0, (8, 8, 3), (b"x",)))
    with pytest.raises(NeurocodecError, match="unknown codec id 199"):
        neurocodec.decode(data)


def test_absurd_dimensions_rejected_before_decoding(toy):
    data = pack(Container(toy.codec_id, 0x1234, (10**9, 10**9, 3, 1, 1, 1), (b"x",)))
    with pytest.raises(NeurocodecError, match="outside the supported range"):
        neurocodec.decode(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_only_raise_the_documented_error(data):
    try:
        unpack(data)
    except NeurocodecError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_files_only_raise_the_documented_error(toy, data):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    good = bytearray(toy().encode(image))
    mutations = data.draw(st.lists(st.tuples(st.integers(0, len(good) - 1), st.integers(0, 255)), min_size=1, max_size=4))
    for pos, value in mutations:
        good[pos] = value
    if data.draw(st.booleans()):
        good = good[: data.draw(st.integers(0, len(good)))]
    try:
        neurocodec.decode(bytes(good))
    except NeurocodecError:
        pass
