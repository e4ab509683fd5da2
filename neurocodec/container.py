"""The ``.ncs`` container: one compact binary layout for every codec (spec: FORMAT.md).

    magic "NC" | version | codec id | fingerprint (2 B) | counts | fields | stream sizes | streams | CRC32

``fields`` are unsigned integers whose meaning the codec's modality fixes (image: width, height,
channels) followed by codec-specific ones. An image with one stream costs 16 bytes beyond it.
Parsing checks the CRC before reading anything else, bounds every number, and never allocates
more than the input's size.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from .errors import NeurocodecError

MAGIC = b"NC"
VERSION = 1
_FIXED = 7  # magic, version, codec id, fingerprint, counts
_CRC = 4
MIN_SIZE = _FIXED + _CRC
MAX_VARINT_BYTES = 9  # values below 2**63
_MANY = 15  # a count nibble of 15 means "a varint count follows"


@dataclass(frozen=True)
class Container:
    """A parsed or to-be-written ``.ncs`` file."""

    codec_id: int
    fingerprint: int = 0
    fields: tuple[int, ...] = ()
    streams: tuple[bytes, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not 0 <= self.codec_id <= 255:
            raise ValueError("codec id must fit in one byte")
        if not 0 <= self.fingerprint <= 0xFFFF:
            raise ValueError("fingerprint must fit in two bytes")
        if any(not 0 <= f < 2**63 for f in self.fields):
            raise ValueError("fields must be integers in [0, 2**63)")
        if not self.streams:
            raise ValueError("a container holds at least one stream")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _count_bytes(count: int, nibble_bias: int) -> tuple[int, bytes]:
    n = count - nibble_bias
    return (n, b"") if n < _MANY else (_MANY, _varint(n - _MANY))


def pack(c: Container) -> bytes:
    """Serialize a container (the inverse of :func:`unpack`)."""
    n_fields, more_fields = _count_bytes(len(c.fields), 0)
    n_streams, more_streams = _count_bytes(len(c.streams), 1)
    head = bytearray(MAGIC)
    head += bytes([VERSION, c.codec_id]) + c.fingerprint.to_bytes(2, "big")
    head.append(n_fields << 4 | n_streams)
    head += more_fields + more_streams
    for f in c.fields:
        head += _varint(f)
    for s in c.streams[:-1]:
        head += _varint(len(s))
    body = bytes(head) + b"".join(c.streams)
    return body + zlib.crc32(body).to_bytes(4, "big")


class _Reader:
    def __init__(self, data: bytes, pos: int, end: int):
        self.data, self.pos, self.end = data, pos, end

    def varint(self, what: str) -> int:
        value = 0
        for i in range(MAX_VARINT_BYTES):
            if self.pos >= self.end:
                raise NeurocodecError(f"corrupt .ncs header: {what} runs past the end")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                return value
        raise NeurocodecError(f"corrupt .ncs header: {what} is too large")


def peek_version(data: bytes) -> int:
    """Format version byte after checking the magic (no CRC check)."""
    if len(data) < 3 or bytes(data[:2]) != MAGIC:
        raise NeurocodecError("not a neurocodec file (bad magic)")
    return data[2]


def unpack(data: bytes) -> Container:
    """Parse and verify a ``.ncs`` file; raises :class:`NeurocodecError` on any defect."""
    data = bytes(data)
    version = peek_version(data)
    if version != VERSION:
        raise NeurocodecError(f"unsupported .ncs format version {version} (this neurocodec reads {VERSION})")
    if len(data) < MIN_SIZE:
        raise NeurocodecError("file is truncated (shorter than the smallest .ncs header)")
    end = len(data) - _CRC
    if zlib.crc32(data[:end]) != int.from_bytes(data[end:], "big"):
        raise NeurocodecError("file is truncated or corrupted (CRC mismatch)")
    codec_id, fingerprint, counts = data[3], int.from_bytes(data[4:6], "big"), data[6]
    r = _Reader(data, _FIXED, end)
    n_fields, n_streams = counts >> 4, (counts & 0xF)
    if n_fields == _MANY:
        n_fields += r.varint("field count")
    if n_streams == _MANY:
        n_streams += r.varint("stream count")
    n_streams += 1
    if n_fields + n_streams > end:  # every field and stream size takes at least one byte
        raise NeurocodecError("corrupt .ncs header: too many fields or streams for the file size")
    fields = tuple(r.varint("field") for _ in range(n_fields))
    sizes = [r.varint("stream size") for _ in range(n_streams - 1)]
    if sum(sizes) > end - r.pos:
        raise NeurocodecError("file is truncated (streams are shorter than the header says)")
    sizes.append(end - r.pos - sum(sizes))
    streams, pos = [], r.pos
    for size in sizes:
        streams.append(data[pos:pos + size])
        pos += size
    return Container(codec_id, fingerprint, fields, tuple(streams))


def overhead(c: Container) -> int:
    """Bytes the container adds beyond the streams."""
    return len(pack(c)) - sum(len(s) for s in c.streams)
