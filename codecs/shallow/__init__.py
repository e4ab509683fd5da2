"""Shallow-decoder image codecs (Yang & Mandt 2023): ``shallow-jpeglike``."""

from .codec import ShallowJpegLike

__all__ = ["ShallowJpegLike"]
