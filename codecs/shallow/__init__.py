"""Shallow-decoder image codecs (Yang & Mandt 2023): ``shallow-jpeglike`` and ``shallow-2layer``."""

from .codec import ShallowJpegLike, ShallowTwoLayer

__all__ = ["ShallowJpegLike", "ShallowTwoLayer"]
