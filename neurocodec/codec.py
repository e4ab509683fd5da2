"""The interface every codec implements, and the container plumbing they all share.

A codec subclass declares its registry name, numeric id and modality, and implements two
methods: :meth:`Codec.encode_payload` (input -> container fields and entropy-coded streams) and
:meth:`Codec.decode_payload` (the inverse). It never writes bytes itself: streams come from
:mod:`neurocodec.entropy`, the file layout from :mod:`neurocodec.container`.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from . import container, weights
from .errors import NeurocodecError
from .modality import MODALITIES


class Codec:
    """Base class: ``encode(x) -> bytes`` and ``decode(bytes) -> x`` for one codec setting."""

    name: ClassVar[str]
    codec_id: ClassVar[int]
    modality: ClassVar[str]  # a key of neurocodec.modality.MODALITIES
    description: ClassVar[str] = ""
    qualities: ClassVar[tuple[int, ...]] = ()  # empty: the codec has no quality setting
    default_quality: ClassVar[int | None] = None
    default_rank: ClassVar[int] = 0  # > 0: candidate default for its modality; highest wins

    def __init__(self, quality: int | None = None):
        if self.qualities and quality is None:
            quality = self.default_quality
        if quality is not None and quality not in self.qualities:
            choices = ", ".join(map(str, self.qualities)) or "none"
            raise NeurocodecError(f"{self.name} has no quality {quality} (available: {choices})")
        self.quality = quality

    # --- what subclasses implement -------------------------------------------------------
    @property
    def fingerprint(self) -> int:
        """16-bit fingerprint of the weights in use (0 for codecs without weights)."""
        return 0

    def encode_payload(self, x: Any) -> tuple[tuple[int, ...], list[bytes]]:
        """Modality fields (+ codec fields) and the streams for input ``x``."""
        raise NotImplementedError

    def decode_payload(self, meta: Any, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> Any:
        """Reconstruction from parsed modality metadata, codec fields and streams."""
        raise NotImplementedError

    @classmethod
    def for_container(cls, parsed: container.Container, **options: Any) -> "Codec":
        """The codec instance that decodes ``parsed``: the quality whose weights fingerprint
        matches, among the shipped weights or a ``weights=`` file; or, for codecs without
        weights (fingerprint 0), the default instance."""
        path = options.get("weights")
        if path is not None:
            sha = weights.sha256_file(path)
            candidates = [(q, weights.fingerprint(sha, q)) for q in cls.qualities or (None,)]
        elif parsed.fingerprint == 0:
            return cls(**options)
        else:
            candidates = [(e.quality, e.fingerprint) for e in weights.manifest() if e.codec == cls.name]
        for quality, print_ in candidates:
            if print_ == parsed.fingerprint:
                return cls(quality=quality, **options)
        where = f"the weights file {path}" if path is not None else "the installed weights"
        raise NeurocodecError(f"this {cls.name} file was encoded with weights (fingerprint "
                              f"{parsed.fingerprint:04x}) that are not {where}")

    @classmethod
    def training_recipe(cls, lmbda: float | None = None) -> Any:
        """The :class:`neurocodec.training.Recipe` that trains this codec (``neurocodec train``)."""
        raise NeurocodecError(f"{cls.name} has no training recipe")

    def describe(self, meta: Any, extra: tuple[int, ...]) -> dict:
        """Codec-specific facts for ``neurocodec info`` (e.g. latent shape); none by default."""
        return {}

    @classmethod
    def coded_pixels(cls, meta: Any, extra: tuple[int, ...]) -> int | None:
        """Pixels that a file with these fields codes (for bits per pixel); None for audio."""
        if cls.modality in ("image", "features"):
            return meta.width * meta.height
        return meta.width * meta.height * meta.frames if cls.modality == "video" else None

    # --- files (override to stream long media) ------------------------------------------
    def encode_file(self, path: str | Path) -> bytes:
        """Read a media file of this codec's modality and encode it."""
        from . import media

        if self.modality in ("image", "features"):
            return self.encode(media.read_image(path))
        if self.modality == "audio":
            return self.encode(media.read_audio(path))
        return self.encode(path)  # video codecs stream frames from the path themselves

    def decode_file(self, data: bytes, path: str | Path) -> None:
        """Decode ``data`` and write the reconstruction to ``path`` (format from the extension)."""
        from . import media

        x = self.decode(data)
        if self.modality == "image":
            media.write_image(path, x)
        elif self.modality == "audio":
            media.write_audio(path, x)
        elif self.modality == "video":
            media.write_video(path, x.frames, x.fps)
        else:
            raise NeurocodecError(f"{self.name} files decode to features, not to a media file")

    # --- shared plumbing -----------------------------------------------------------------
    def pack(self, fields: tuple[int, ...], streams: list[bytes]) -> bytes:
        """A complete ``.ncs`` file of this codec and weights (``fields`` validated first)."""
        fields = tuple(fields)
        MODALITIES[self.modality].from_fields(fields)
        return container.pack(container.Container(self.codec_id, self.fingerprint, fields, tuple(streams)))

    def parse(self, data: bytes) -> tuple[Any, tuple[int, ...], tuple[bytes, ...]]:
        """Modality metadata, codec fields and streams of a file written by this codec with these
        weights, after every container check (CRC, codec id, fingerprint, modality limits)."""
        parsed = container.unpack(data)
        if parsed.codec_id != self.codec_id:
            raise NeurocodecError(f"file is for codec id {parsed.codec_id}, not {self.name}")
        if parsed.fingerprint != self.fingerprint:
            raise NeurocodecError(f"file was encoded with other weights (fingerprint {parsed.fingerprint:04x}, "
                                  f"these are {self.fingerprint:04x})")
        meta, extra = MODALITIES[self.modality].from_fields(parsed.fields)
        return meta, extra, parsed.streams

    def encode(self, x: Any) -> bytes:
        """A complete ``.ncs`` file for ``x``."""
        return self.pack(*self.encode_payload(x))

    def decode(self, data: bytes) -> Any:
        """Reconstruction of a ``.ncs`` file written by this codec with these weights."""
        return self.decode_payload(*self.parse(data))


class WeightsCodec(Codec):
    """A codec whose decoder needs a weights file: the shipped one for its quality (manifest), or
    one given with ``weights=PATH``. The fingerprint covers the file's hash and the quality."""

    def __init__(self, quality: int | None = None, weights: str | Path | None = None):
        super().__init__(quality)
        self._weights_path = weights

    @cached_property
    def weights_file(self) -> tuple[str, str]:
        """Path and SHA-256 of the weights in use (loaders check the hash)."""
        if self._weights_path is not None:
            return str(self._weights_path), weights.sha256_file(self._weights_path)
        entry = weights.find(self.name, self.quality)
        return str(entry.path), entry.sha256

    @property
    def fingerprint(self) -> int:
        return weights.fingerprint(self.weights_file[1], self.quality)
