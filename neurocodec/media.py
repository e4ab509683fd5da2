"""Reading and writing media: images through Pillow, audio and video through PyAV.

Arrays: images are uint8 HxWx3 (RGB) or HxW (grayscale); audio is :class:`Audio` (float32
samples in [-1, 1], shape [channels, n]); video frames are uint8 HxWx3 read and written one at a
time, so a long video never sits whole in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .errors import NeurocodecError
from .files import atomic_path

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pnm"}
AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".opus", ".m4a"}
VIDEO_EXTENSIONS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".264", ".h264", ".y4m"}


def modality_of(path: str | Path) -> str:
    """'image', 'audio' or 'video' from the file extension."""
    ext = Path(path).suffix.lower()
    for name, exts in (("image", IMAGE_EXTENSIONS), ("audio", AUDIO_EXTENSIONS), ("video", VIDEO_EXTENSIONS)):
        if ext in exts:
            return name
    raise NeurocodecError(f"cannot tell the media type of {Path(path).name} from its extension")


# --- images ----------------------------------------------------------------------------------
def read_image(path: str | Path) -> np.ndarray:
    """uint8 HxWx3 for colour images, HxW for grayscale; alpha is refused, not dropped silently."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                raise NeurocodecError(f"{Path(path).name} has an alpha channel; neurocodec codes RGB or grayscale")
            if im.mode in ("1", "L", "I;16", "I", "F"):
                if im.mode not in ("1", "L"):
                    raise NeurocodecError(f"{Path(path).name} is a {im.mode} image; only 8-bit images are supported")
                return np.asarray(im.convert("L"))
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NeurocodecError(f"cannot read image {Path(path).name}: {exc}") from None


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write atomically; the format follows the extension (PNG recommended: lossless)."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise NeurocodecError("images are uint8 HxW or HxWx3 arrays")
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format=_pil_format(path))


def _pil_format(path: str | Path) -> str:
    ext = Path(path).suffix.lower()
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
               ".tif": "TIFF", ".tiff": "TIFF", ".ppm": "PPM", ".pgm": "PPM", ".pnm": "PPM"}
    if ext not in formats:
        raise NeurocodecError(f"cannot write images as {ext or 'files without an extension'}; use .png")
    return formats[ext]


# --- audio -----------------------------------------------------------------------------------
@dataclass
class Audio:
    """Float32 samples, shape [channels, n], nominally in [-1, 1], at ``rate`` Hz."""

    samples: np.ndarray
    rate: int

    @property
    def channels(self) -> int:
        return self.samples.shape[0]


def _name(source) -> str:
    return Path(source).name if isinstance(source, (str, Path)) else "in-memory data"


def open_av(source, mode: str = "r", what: str = "file", **options):
    """``av.open`` of a path or a binary file object; failure is a one-line NeurocodecError."""
    import av

    try:
        return av.open(source if isinstance(source, io.IOBase) else str(source), mode, **options)
    except (av.error.FFmpegError, OSError) as exc:
        raise NeurocodecError(f"cannot open {what} {_name(source)}: {exc}") from None


def iter_audio(path: str | Path | io.IOBase, chunk: int = 1 << 16) -> Iterator[Audio]:
    """Chunks of about ``chunk`` samples per channel, streamed from a file (path or file object)."""
    import av

    with open_av(path, what="audio") as box:
        if not box.streams.audio:
            raise NeurocodecError(f"{_name(path)} has no audio stream")
        stream = box.streams.audio[0]
        rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
        layout = "mono" if channels == 1 else "stereo" if channels == 2 else None
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        pending, have = [], 0
        try:
            for frame in box.decode(stream):
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray().reshape(channels, -1))
                    have += pending[-1].shape[1]
                    if have >= chunk:
                        yield Audio(np.concatenate(pending, axis=1).astype(np.float32), rate)
                        pending, have = [], 0
            for out in resampler.resample(None):
                pending.append(out.to_ndarray().reshape(channels, -1))
        except av.error.FFmpegError as exc:
            raise NeurocodecError(f"cannot decode audio {_name(path)}: {exc}") from None
        if pending:
            yield Audio(np.concatenate(pending, axis=1).astype(np.float32), rate)


def read_audio(path: str | Path | io.IOBase) -> Audio:
    """The whole file in memory (use :func:`iter_audio` for long files)."""
    chunks = list(iter_audio(path))
    if not chunks:
        raise NeurocodecError(f"{_name(path)} holds no audio samples")
    return Audio(np.concatenate([c.samples for c in chunks], axis=1), chunks[0].rate)


class AudioWriter:
    """Streaming writer for .wav (16-bit PCM) or .flac, written atomically on :meth:`close`."""

    _CODECS = {".wav": ("pcm_s16le", "s16"), ".flac": ("flac", "s16")}

    def __init__(self, path: str | Path, rate: int, channels: int):
        import av

        ext = Path(path).suffix.lower()
        if ext not in self._CODECS:
            raise NeurocodecError(f"cannot write audio as {ext}; use .wav or .flac")
        if channels not in (1, 2):
            raise NeurocodecError("audio output supports mono or stereo")
        self._atomic = atomic_path(path)
        self._tmp = self._atomic.__enter__()
        codec, self._format = self._CODECS[ext]
        self._box = av.open(str(self._tmp), "w", format=ext[1:])
        self._stream = self._box.add_stream(codec, rate=rate, layout="mono" if channels == 1 else "stereo")
        self._layout = self._stream.layout.name
        self._rate = rate

    def write(self, samples: np.ndarray) -> None:
        import av

        pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T.reshape(1, -1)), format="s16", layout=self._layout)
        frame.sample_rate = self._rate
        for packet in self._stream.encode(frame):
            self._box.mux(packet)

    def close(self, ok: bool = True) -> None:
        if ok:
            for packet in self._stream.encode(None):
                self._box.mux(packet)
        self._box.close()
        self._atomic.__exit__(None if ok else RuntimeError, None, None)

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)


def write_audio(path: str | Path, audio: Audio) -> None:
    with AudioWriter(path, audio.rate, audio.channels) as writer:
        writer.write(audio.samples)


# --- video -----------------------------------------------------------------------------------
@dataclass
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int | None  # None when the container does not say


@dataclass
class Video:
    """A decoded video: frames (uint8 HxWx3, produced lazily) and their rate."""

    frames: Iterable[np.ndarray]
    fps: Fraction


def video_info(path: str | Path) -> VideoInfo:
    with open_av(path, what="video") as box:
        if not box.streams.video:
            raise NeurocodecError(f"{Path(path).name} has no video stream")
        s = box.streams.video[0]
        fps = s.average_rate or s.guessed_rate or Fraction(25)
        return VideoInfo(s.codec_context.width, s.codec_context.height, Fraction(fps), s.frames or None)


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """uint8 HxWx3 RGB frames, one at a time."""
    import av

    with open_av(path, what="video") as box:
        if not box.streams.video:
            raise NeurocodecError(f"{Path(path).name} has no video stream")
        try:
            for frame in box.decode(box.streams.video[0]):
                yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise NeurocodecError(f"cannot decode video {Path(path).name}: {exc}") from None


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: Fraction) -> int:
    """Stream frames to .y4m (raw 4:4:4) or .mp4/.mkv (lossless x264 4:4:4); returns the count."""
    import av

    ext = Path(path).suffix.lower()
    if ext not in (".y4m", ".mp4", ".mkv"):
        raise NeurocodecError(f"cannot write video as {ext}; use .mp4, .mkv or .y4m")
    count = 0
    with atomic_path(path) as tmp:
        with av.open(str(tmp), "w", format="yuv4mpegpipe" if ext == ".y4m" else None) as box:
            stream = None
            for frame in frames:
                if stream is None:
                    if ext == ".y4m":
                        stream = box.add_stream("rawvideo", rate=fps)
                        stream.pix_fmt = "yuv444p"
                    else:
                        stream = box.add_stream("libx264rgb", rate=fps, options={"qp": "0", "preset": "medium"})
                        stream.pix_fmt = "rgb24"
                    stream.height, stream.width = frame.shape[:2]
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                for packet in stream.encode(vf):
                    box.mux(packet)
                count += 1
            if stream is not None:
                for packet in stream.encode(None):
                    box.mux(packet)
    return count
