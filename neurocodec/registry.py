"""Codec registry: codec families register themselves; nothing here lists them by hand.

Discovery imports every module of :mod:`neurocodec.codecs` (each calls :func:`register`) and
every ``neurocodec.codecs`` entry point of installed plugins, once, on first lookup.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from . import container
from .codec import Codec
from .errors import NeurocodecError

_BY_NAME: dict[str, type[Codec]] = {}
_BY_ID: dict[int, type[Codec]] = {}
_discovered = False


@dataclass(frozen=True)
class CodecInfo:
    """What ``neurocodec list`` shows about a codec."""

    name: str
    codec_id: int
    modality: str
    qualities: tuple[int, ...]
    default_quality: int | None
    description: str


def register(cls: type[Codec]) -> type[Codec]:
    """Class decorator: make ``cls`` available by name and by id."""
    for table, key in ((_BY_NAME, cls.name), (_BY_ID, cls.codec_id)):
        if key in table and table[key] is not cls:
            raise RuntimeError(f"codec {key!r} is registered twice ({table[key].__name__}, {cls.__name__})")
    _BY_NAME[cls.name] = cls
    _BY_ID[cls.codec_id] = cls
    return cls


def unregister(cls: type[Codec]) -> None:
    """Remove ``cls`` (for tests that register throwaway codecs)."""
    _BY_NAME.pop(cls.name, None)
    _BY_ID.pop(cls.codec_id, None)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    import neurocodec.codecs as package

    for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
    for ep in entry_points(group="neurocodec.codecs"):
        ep.load()


def codec_class(name: str) -> type[Codec]:
    _discover()
    if name not in _BY_NAME:
        raise NeurocodecError(f"unknown codec {name!r}; `neurocodec list` shows the available ones")
    return _BY_NAME[name]


def class_for_id(codec_id: int) -> type[Codec] | None:
    """The codec class registered under ``codec_id``, or None."""
    _discover()
    return _BY_ID.get(codec_id)


def info(cls: type[Codec]) -> CodecInfo:
    return CodecInfo(cls.name, cls.codec_id, cls.modality, tuple(cls.qualities), cls.default_quality,
                     cls.description)


def available() -> list[CodecInfo]:
    """Every registered codec, sorted by id."""
    _discover()
    return [info(_BY_ID[i]) for i in sorted(_BY_ID)]


def default_codec(modality: str) -> str:
    """Name of the default codec for ``modality`` (the registered one with the highest rank)."""
    _discover()
    ranked = [c for c in _BY_ID.values() if c.modality == modality and c.default_rank > 0]
    if not ranked:
        raise NeurocodecError(f"no default codec for {modality} is installed; pick one with --codec")
    return max(ranked, key=lambda c: c.default_rank).name


def load(name: str, quality: int | None = None, **options: Any) -> Codec:
    """A ready codec: ``load("mbt2018-mean", quality=3).encode(image)``."""
    return codec_class(name)(quality=quality, **options)


def codec_for(data: bytes, **options: Any) -> Codec:
    """The codec instance that decodes the ``.ncs`` bytes ``data`` (read from its header)."""
    parsed = container.unpack(data)
    cls = class_for_id(parsed.codec_id)
    if cls is None:
        raise NeurocodecError(f"unknown codec id {parsed.codec_id}: written by a newer neurocodec or a missing plugin")
    return cls.for_container(parsed, **options)


def decode(data: bytes, **options: Any) -> Any:
    """Decode any ``.ncs`` file; the codec and its weights are chosen from the header."""
    return codec_for(data, **options).decode(data)
