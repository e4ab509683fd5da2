"""Codec adapters for the benches: what a bench codec is, the classical image codecs through
Pillow, the PyAV helpers that the video and audio adapters share, and the lookup that resolves
any other name through `neurocodec.registry`.

Every bench codec is a `BenchCodec`: a name, a description, a default quality sweep and
`load(quality)`, which returns a coder with `encode(x) -> bytes` and `decode(bytes) -> x_hat`,
the contract of `neurocodec.load`. The harnesses only ever see this interface, so a learned
codec needs no code here: `resolve` wraps whatever the registry lists.

Pillow settings are fixed and written into each description, so a run can be repeated:
JPEG is libjpeg-turbo baseline with standard Huffman tables (Pillow's defaults, as CompressAI
ran it); JPEG 2000 uses the 9/7 wavelet with the colour transform (Pillow's default is no
colour transform, which costs about 2.5 dB) and OpenJPEG's rate allocation to a target PSNR.
"""

from __future__ import annotations

import functools
import importlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from neurocodec.errors import NeurocodecError


class Coder(Protocol):
    def encode(self, x: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


@dataclass(frozen=True)
class BenchCodec:
    """A codec as the benches see it. `probe` says why it cannot run here (None: it can); it is
    called only when a bench asks, so listing the codecs loads no codec library."""

    name: str
    description: str
    qualities: tuple[int, ...]
    load: Callable[[int], Coder]
    probe: Callable[[], str | None] = lambda: None

    @property
    def missing(self) -> str | None:
        return self.probe()


@dataclass(frozen=True)
class PillowCoder:
    """Encode a uint8 array (HxW or HxWx3) with Pillow's `format` and `options`; decode back to an array."""

    format: str
    options: Mapping[str, Any]

    def encode(self, image: np.ndarray) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format=self.format, **self.options)
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        """The decoded image as Pillow stores it: grayscale stays HxW, anything else becomes HxWx3."""
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("L" if image.mode in ("1", "L", "I;16") else "RGB"))


def _pillow_missing(feature: str) -> str | None:
    if feature == "jxl":
        try:
            import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)
        except ImportError:
            return "JPEG XL needs the pillow-jxl-plugin package (pip install pillow-jxl-plugin)"
        return None
    from PIL import features

    return None if features.check(feature) else f"this Pillow was built without {feature}"


def _library_version(feature: str) -> str:
    """The codec library behind a Pillow format, with its version, for the JSON descriptions."""
    import PIL
    from PIL import features

    if feature == "jxl":
        from importlib.metadata import version

        return f"pillow-jxl-plugin {version('pillow-jxl-plugin')}"
    if feature == "jpg" and features.check_feature("libjpeg_turbo"):
        return f"libjpeg-turbo {features.version_feature('libjpeg_turbo')}, Pillow {PIL.__version__}"
    library = {"webp": "libwebp", "avif": "libavif", "jpg_2000": "OpenJPEG", "zlib": "zlib"}.get(feature, feature)
    return f"{library} {features.version(feature)}, Pillow {PIL.__version__}"


def _pillow(
    name: str, feature: str, fmt: str, description: str, qualities: Sequence[int], options: Callable[[int], dict]
) -> BenchCodec:
    missing = _pillow_missing(feature)
    if missing is None:
        description = f"{description}; {_library_version(feature)}"
    return BenchCodec(name, description, tuple(qualities), lambda q: PillowCoder(fmt, options(q)), lambda: missing)


def _image_codecs() -> dict[str, BenchCodec]:
    jpeg_qualities = (3, 5, 8, 10, 15, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95)
    codecs = [
        _pillow("jpeg", "jpg", "JPEG", "JPEG 4:2:0, baseline, standard Huffman tables; quality = libjpeg quality",
                jpeg_qualities, lambda q: {"quality": q, "subsampling": "4:2:0"}),
        _pillow("jpeg444", "jpg", "JPEG", "JPEG 4:4:4, baseline, standard Huffman tables; quality = libjpeg quality",
                jpeg_qualities, lambda q: {"quality": q, "subsampling": "4:4:4"}),
        _pillow("webp", "webp", "WEBP", "WebP lossy, method 6; quality = libwebp quality",
                (0, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95), lambda q: {"quality": q, "method": 6}),
        _pillow("avif", "avif", "AVIF", "AVIF 4:2:0, speed 6 (libavif default); quality = libavif quality 0-100",
                (0, 10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95),
                lambda q: {"quality": q, "speed": 6, "subsampling": "4:2:0"}),
        _pillow("jpeg2000", "jpg_2000", "JPEG2000",
                "JPEG 2000 (OpenJPEG), 9/7 irreversible wavelet, colour transform on, one layer; "
                "quality = the target PSNR in dB given to OpenJPEG's rate allocation (quality_mode='dB')",
                tuple(range(24, 48, 2)),
                lambda q: {"quality_mode": "dB", "quality_layers": [q], "irreversible": True, "mct": 1}),
        _pillow("jxl", "jxl", "JXL", "JPEG XL (libjxl via pillow-jxl-plugin), effort 7; quality = libjxl quality",
                (5, 10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95), lambda q: {"quality": q, "effort": 7}),
    ]
    return {c.name: c for c in codecs}


def _lossless_codecs() -> dict[str, BenchCodec]:
    """Lossless image codecs. They have no quality setting: their one 'quality' is 0."""
    codecs = [
        _pillow("png", "zlib", "PNG", "PNG, optimize=True (Pillow: zlib level 9 and its extra search)", (0,),
                lambda q: {"optimize": True}),
        _pillow("webp-lossless", "webp", "WEBP",
                "WebP lossless, method 6, effort ('quality') 90: on Kodak within 0.1 % of the size of effort 100, "
                "which takes 30 times longer", (0,),
                lambda q: {"lossless": True, "quality": 90, "method": 6}),
        _pillow("jpeg2000-lossless", "jpg_2000", "JPEG2000",
                "JPEG 2000 lossless (OpenJPEG), 5/3 reversible wavelet, reversible colour transform for RGB", (0,),
                lambda q: {"irreversible": False, "mct": 1}),
        _pillow("jxl-lossless", "jxl", "JXL", "JPEG XL lossless (libjxl via pillow-jxl-plugin), effort 7", (0,),
                lambda q: {"lossless": True, "effort": 7}),
    ]
    return {c.name: c for c in codecs}


IMAGE_CODECS = _image_codecs()
LOSSLESS_CODECS = _lossless_codecs()


@functools.cache
def pyav_missing(encoder: str) -> str | None:
    """Why PyAV cannot encode with `encoder` here, or None when it can."""
    import av

    try:
        av.codec.Codec(encoder, "w")
    except Exception:  # PyAV raises its own error types for unknown codecs
        return f"this PyAV/FFmpeg build has no {encoder} encoder"
    return None


def resolve(spec: str | None, classical: Mapping[str, BenchCodec], modalities: tuple[str, ...]) -> list[BenchCodec]:
    """The codecs named in a comma-separated `spec` (None: every classical codec that can run here).

    A classical name maps to its adapter; any other name is looked up in `neurocodec.registry`
    and must be of one of `modalities` (the first names the bench in messages).
    """
    if spec is None:
        return [c for c in classical.values() if c.missing is None]
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise NeurocodecError("--codecs lists no codec")
    if len(set(names)) != len(names):
        raise NeurocodecError(f"--codecs names a codec twice: {spec}")
    codecs = []
    for name in names:
        codec = classical.get(name) or _registry_codec(name, classical, modalities)
        if codec.missing:
            raise NeurocodecError(f"codec {name!r} cannot run here: {codec.missing}")
        codecs.append(codec)
    return codecs


def _registry_codec(name: str, classical: Mapping[str, BenchCodec], modalities: tuple[str, ...]) -> BenchCodec:
    known = ", ".join(classical)
    try:
        registry = importlib.import_module("neurocodec.registry")
    except ImportError as error:
        raise NeurocodecError(
            f"unknown codec {name!r}: not a classical {modalities[0]} codec ({known}) and the learned-codec "
            f"registry cannot be imported ({error})"
        ) from None
    infos = {info.name: info for info in registry.available()}
    info = infos.get(name)
    if info is None:
        learned = ", ".join(n for n, i in infos.items() if i.modality in modalities) or "none"
        raise NeurocodecError(f"unknown {modalities[0]} codec {name!r}; classical: {known}; learned: {learned}")
    if info.modality not in modalities:
        raise NeurocodecError(f"codec {name!r} is a {info.modality} codec, not a {modalities[0]} codec")
    load = importlib.import_module("neurocodec").load
    return BenchCodec(info.name, info.description, tuple(info.qualities), lambda q: load(name, quality=q))
