"""Video bench: x264, x265 and SVT-AV1 through PyAV, and learned video codecs from the registry.

Frames are streamed, never held as a whole video: a coder's `encode(path)` decodes the source
and feeds the encoder frame by frame, and the metrics re-decode the source alongside the
decoded output, one frame of each at a time.

Exact: bpp = 8 * bytes / (frames * width * height) and kbps, where bytes is the whole raw
bitstream (Annex B for H.264/H.265, low-overhead OBUs for AV1: no container, headers
included). PSNR-Y is computed on the 8-bit Y planes: the source converted to yuv420p (what the
encoder was given) against the decoded yuv420p. PSNR-RGB compares rgb24 frames made by
swscale's default conversion (BT.601 unless the stream says otherwise) of both sides. Both are
means over frames of per-frame PSNR. encoding_fps includes decoding the source (small next to
encoding); decoding_fps times a decoding pass of its own (frames discarded), before the pass
that computes the metrics.

With --frames or --scale, the first N frames (scaled by area averaging to even sizes) are first
written to a lossless FFV1 clip, which then is the source for every codec and every metric.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from neurocodec import media
from neurocodec.bench.classical import BenchCodec, pyav_missing, resolve
from neurocodec.bench.metrics import bpp, kbps, psnr
from neurocodec.bench.report import Layout, Metric, list_inputs, parse_qualities, prepare_out_dir, summarize, sweep, write_report
from neurocodec.errors import NeurocodecError
from neurocodec.media import VIDEO_EXTENSIONS

SVT_AV1_PRESET = 6  # see the svtav1 description

LAYOUT = Layout(
    modality="video",
    rate="bpp",
    rate_label="bits per pixel (per frame)",
    metrics=(Metric("psnr-y", "PSNR Y (dB)"), Metric("psnr-rgb", "PSNR RGB (dB)")),
    times=("encoding_fps", "decoding_fps"),
    extra=("kbps",),
    description=(
        "Video bench: bpp = 8 * whole raw bitstream bytes / (frames * width * height) per clip, "
        "kbps at the source frame rate; psnr-y on the 8-bit Y planes (yuv420p) and psnr-rgb on rgb24 "
        "(swscale default conversion), each the mean over frames of per-frame PSNR; all values are "
        "means over clips; encoding_fps includes decoding the source, decoding_fps only the decoder"
    ),
)


@dataclass(frozen=True)
class PyAVVideoCoder:
    """Encode a video file with a PyAV encoder into a raw bitstream; decode it to frames."""

    encoder: str
    muxer: str  # raw bitstream format: h264, hevc or obu
    options: dict[str, str]

    def encode(self, source: str | Path) -> bytes:
        buffer = io.BytesIO()
        with media.open_av(source) as src, media.open_av(buffer, "w", format=self.muxer) as dst:
            rate = frame_rate(src)
            stream = None
            for index, frame in enumerate(src.decode(video=0)):
                if stream is None:
                    stream = dst.add_stream(self.encoder, rate=rate, options=self.options)
                    stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "yuv420p"
                    stream.time_base = 1 / rate
                frame = frame.reformat(format="yuv420p")
                frame.pts, frame.time_base = index, stream.time_base
                dst.mux(stream.encode(frame))
            if stream is None:
                raise NeurocodecError(f"{source}: no video frames")
            dst.mux(stream.encode(None))
        return buffer.getvalue()

    def decode(self, data: bytes) -> Iterator:
        with media.open_av(io.BytesIO(data), format=self.muxer) as container:
            yield from container.decode(video=0)


def _pyav(name: str, encoder: str, muxer: str, description: str, qualities: Sequence[int], options: dict) -> BenchCodec:
    def load(crf: int) -> PyAVVideoCoder:
        return PyAVVideoCoder(encoder, muxer, {**options, "crf": str(crf)})

    return BenchCodec(name, description, tuple(qualities), load, functools.partial(pyav_missing, encoder))


def _video_codecs() -> dict[str, BenchCodec]:
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its configuration unless told to log errors only
    crfs = (17, 22, 27, 32, 37, 42, 47)
    codecs = [
        _pyav("x264", "libx264", "h264", "H.264 by x264 (libx264), preset medium, yuv420p, 8 bit; quality = CRF",
              crfs, {"preset": "medium"}),
        _pyav("x265", "libx265", "hevc", "H.265 by x265 (libx265), preset medium, yuv420p, 8 bit; quality = CRF",
              crfs, {"preset": "medium", "x265-params": "log-level=error"}),
        _pyav("svtav1", "libsvtav1", "obu",
              f"AV1 by SVT-AV1 (libsvtav1), preset {SVT_AV1_PRESET}, yuv420p, 8 bit; quality = CRF. Preset "
              f"{SVT_AV1_PRESET} is the middle of SVT-AV1's 0-13 range; on 640x272 with 2 threads it encodes at "
              "about 90 fps, between x264 medium (about 200) and x265 medium (about 55)",
              (20, 27, 34, 41, 48, 55, 62), {"preset": str(SVT_AV1_PRESET)}),
    ]
    return {c.name: c for c in codecs}


VIDEO_CODECS = _video_codecs()


def frame_rate(container) -> Fraction:
    """The video stream's average frame rate; 25 where the stream has none (raw bitstreams)."""
    stream = container.streams.video[0]
    return Fraction(stream.average_rate or stream.guessed_rate or 25)


def prepare_clip(path: Path, clip: Path, frames: int | None, scale: float | None) -> Path:
    """`path` itself, or `clip`: a lossless FFV1 copy of the first `frames` frames scaled by `scale` (even sizes)."""
    if frames is None and scale is None:
        return path
    with media.open_av(path) as src, media.open_av(clip, "w") as dst:
        stream = None
        for index, frame in enumerate(src.decode(video=0)):
            if frames is not None and index >= frames:
                break
            if scale is not None:
                width, height = (max(2, round(side * scale / 2) * 2) for side in (frame.width, frame.height))
                frame = frame.reformat(width=width, height=height, interpolation="AREA")
            if stream is None:
                stream = dst.add_stream("ffv1", rate=frame_rate(src))
                stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, frame.format.name
            frame.pts = None
            dst.mux(stream.encode(frame))
        if stream is None:
            raise NeurocodecError(f"{path}: no video frames")
        dst.mux(stream.encode(None))
    return clip


def _planes(frame) -> tuple[np.ndarray, np.ndarray]:
    """(rgb24 HxWx3, Y plane HxW) of a decoded frame or of an RGB uint8 array."""
    import av

    if isinstance(frame, np.ndarray):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24")
    rgb = frame.reformat(format="rgb24").to_ndarray()
    y = frame.reformat(format="yuv420p").to_ndarray()[: frame.height]
    return rgb, y


def _measure(coder, clip: Path) -> dict[str, float]:
    start = time.perf_counter()
    data = coder.encode(clip)
    middle = time.perf_counter()
    for _ in coder.decode(data):  # timed on its own: decoders work ahead in threads while metrics run
        pass
    decode_seconds, encode_seconds = time.perf_counter() - middle, middle - start
    decoded = iter(coder.decode(data))
    psnr_rgb, psnr_y = [], []
    with media.open_av(clip) as src:
        rate = frame_rate(src)
        for frame in src.decode(video=0):
            output = next(decoded, None)
            if output is None:
                raise NeurocodecError(f"{clip}: the decoder stopped after {len(psnr_y)} frames")
            (ref_rgb, ref_y), (out_rgb, out_y) = _planes(frame), _planes(output)
            psnr_rgb.append(psnr(ref_rgb, out_rgb))
            psnr_y.append(psnr(ref_y, out_y))
    if next(decoded, None) is not None:
        raise NeurocodecError(f"{clip}: the decoder gave more frames than the source has")
    frames, (height, width) = len(psnr_y), ref_y.shape
    return {
        "bytes": len(data),
        "frames": frames,
        "width": width,
        "height": height,
        "bpp": bpp(len(data), height, width * frames),
        "kbps": kbps(len(data), float(frames / rate)),
        "psnr-y": float(np.mean(psnr_y)),
        "psnr-rgb": float(np.mean(psnr_rgb)),
        "encoding_fps": frames / encode_seconds,
        "decoding_fps": frames / decode_seconds,
    }


def run(
    codecs: str | None,
    data: Sequence[str | Path],
    out: Path,
    qualities: Sequence[str] | None = None,
    limit: int | None = None,
    frames: int | None = None,
    scale: float | None = None,
    anchor: str | None = "x264",
    force: bool = False,
) -> str:
    """Run the video bench over the clips in `data`, write the results into `out`; return the table."""
    if frames is not None and frames < 1:
        raise NeurocodecError("--frames must be at least 1")
    if scale is not None and not 0 < scale <= 1:
        raise NeurocodecError("--scale must be in (0, 1]")
    selected = resolve(codecs, VIDEO_CODECS, ("video",))
    sweep_qualities = parse_qualities(qualities, selected)
    files = list_inputs(data, VIDEO_EXTENSIONS, limit)
    prepare_out_dir(out, selected, force)
    with tempfile.TemporaryDirectory(prefix="neurocodec-bench-") as folder:
        clips = [(f.name, prepare_clip(f, Path(folder) / f"{i}.mkv", frames, scale)) for i, f in enumerate(files)]
        rows = sweep(selected, sweep_qualities, clips, _measure, unit="clip")
    summary = summarize(rows, ["bpp", "kbps", "psnr-y", "psnr-rgb", "encoding_fps", "decoding_fps"])
    return write_report(out, LAYOUT, selected, rows, summary, anchor)
