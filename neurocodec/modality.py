"""Modality metadata: the leading container fields of each modality, with sanity limits.

Limits are checked when a file is parsed, before a decoder allocates anything, so an absurd
header (a 10^9 x 10^9 image) is a clear error rather than an out-of-memory.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

from .errors import NeurocodecError

MAX_IMAGE_SIDE = 1 << 16
MAX_IMAGE_PIXELS = 1 << 28
MAX_VIDEO_FRAMES = 10_000_000
MAX_AUDIO_RATE = 768_000
MAX_AUDIO_CHANNELS = 8
MAX_AUDIO_SAMPLES = 1 << 36


class _Meta:
    @classmethod
    def size(cls) -> int:
        return len(fields(cls))

    @classmethod
    def from_fields(cls, values: tuple[int, ...]):
        """Split ``values`` into this metadata and the codec's own remaining fields."""
        n = cls.size()
        if len(values) < n:
            raise NeurocodecError(f"corrupt .ncs header: {cls.__name__} needs {n} fields")
        meta = cls(*values[:n])
        meta.check()
        return meta, tuple(values[n:])

    def to_fields(self) -> tuple[int, ...]:
        self.check()
        return astuple(self)


@dataclass(frozen=True)
class ImageMeta(_Meta):
    width: int
    height: int
    channels: int

    def check(self) -> None:
        if not (1 <= self.width <= MAX_IMAGE_SIDE and 1 <= self.height <= MAX_IMAGE_SIDE
                and self.width * self.height <= MAX_IMAGE_PIXELS):
            raise NeurocodecError(f"image size {self.width}x{self.height} is outside the supported range")
        if self.channels not in (1, 3):
            raise NeurocodecError(f"images have 1 or 3 channels, not {self.channels}")


@dataclass(frozen=True)
class AudioMeta(_Meta):
    rate: int
    channels: int
    samples: int

    def check(self) -> None:
        if not (1 <= self.rate <= MAX_AUDIO_RATE and 1 <= self.channels <= MAX_AUDIO_CHANNELS
                and self.samples <= MAX_AUDIO_SAMPLES):
            raise NeurocodecError(f"audio {self.rate} Hz x {self.channels} ch x {self.samples} samples is outside the supported range")


@dataclass(frozen=True)
class VideoMeta(_Meta):
    width: int
    height: int
    frames: int
    fps_num: int
    fps_den: int

    def check(self) -> None:
        ImageMeta(self.width, self.height, 3).check()
        if not (1 <= self.frames <= MAX_VIDEO_FRAMES and self.fps_num >= 1 and self.fps_den >= 1):
            raise NeurocodecError("video frame count or rate is outside the supported range")


MODALITIES = {"image": ImageMeta, "audio": AudioMeta, "video": VideoMeta, "features": ImageMeta}
