"""Audio bench: Opus and FLAC through PyAV, and learned audio codecs from the registry.

Sources are decoded to float32 at their own rate and kept whole in memory (minutes of audio
are small). Rates: kbps = 8 * bytes of the whole encoded file (Ogg/Opus or native FLAC,
container headers included) / duration. Opus codes at 48 kHz: its coder resamples the
source to 48 kHz (libswresample through PyAV's AudioResampler) and decodes to 48 kHz; the
bench then resamples every decoded clip that is not at the source rate back to it and trims or
zero-pads it to the source length (the Ogg granule positions already remove the encoder delay),
so metrics always compare signals at the original rate. FLAC is lossless on 16-bit PCM: its
only error is rounding float sources to 16 bits.

Metrics, each per clip (see `metrics`): SNR in dB; log-spectral distance in dB with a Hann STFT
of about 46 ms (n_fft 2048 at 44.1/48 kHz, 1024 at 16 kHz) and a quarter-window hop; for speech
(mono at 8 or 16 kHz) PESQ and STOI where the pesq and pystoi packages are installed.
Encoding time includes resampling for the codec; decoding time excludes resampling back.
"""

from __future__ import annotations

import functools
import io
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurocodec import media
from neurocodec.bench.classical import BenchCodec, Coder, pyav_missing, resolve
from neurocodec.bench.metrics import kbps, log_spectral_distance, pesq_score, snr_db, stoi_score
from neurocodec.bench.report import Layout, Metric, list_inputs, parse_qualities, prepare_out_dir, summarize, sweep, write_report
from neurocodec.errors import NeurocodecError
from neurocodec.media import AUDIO_EXTENSIONS, Audio

SPEECH_RATES = (8000, 16000)


def read_audio(source: str | Path | io.BytesIO, seconds: float | None = None) -> Audio:
    """Float32 samples of a mono or stereo file or file object at its own rate; the first `seconds` only."""
    clip = media.read_audio(source)
    _layout(clip.channels)
    return Audio(clip.samples[:, : int(seconds * clip.rate)], clip.rate) if seconds else clip


def _layout(channels: int) -> str:
    if channels not in (1, 2):
        raise NeurocodecError(f"the audio bench takes mono or stereo, not {channels} channels")
    return "mono" if channels == 1 else "stereo"


def resample(clip: Audio, rate: int) -> Audio:
    """`clip` at another rate through libswresample (its default filter: approximate, not bit exact)."""
    import av

    if clip.rate == rate:
        return clip
    layout = _layout(clip.samples.shape[0])
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(clip.samples, dtype=np.float32), format="fltp", layout=layout)
    frame.sample_rate = clip.rate
    chunks = [f.to_ndarray() for f in resampler.resample(frame)] + [f.to_ndarray() for f in resampler.resample(None)]
    return Audio(np.concatenate(chunks, axis=1), rate)


@dataclass(frozen=True)
class PyAVAudioCoder:
    """Encode `Audio` with a PyAV encoder into a whole file of `muxer` format; decode it back."""

    encoder: str
    muxer: str
    rate: int | None  # the codec's sample rate; None: the clip's own
    bit_rate: int | None
    options: dict[str, str]

    def encode(self, clip: Audio) -> bytes:
        import av

        clip = resample(clip, self.rate) if self.rate else clip
        layout = _layout(clip.samples.shape[0])
        buffer = io.BytesIO()
        with media.open_av(buffer, "w", format=self.muxer) as dst:
            stream = dst.add_stream(self.encoder, rate=clip.rate, layout=layout, options=self.options)
            if self.bit_rate:
                stream.bit_rate = self.bit_rate
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(clip.samples), format="fltp", layout=layout)
            frame.sample_rate, frame.pts = clip.rate, 0
            dst.mux(stream.encode(frame))
            dst.mux(stream.encode(None))
        return buffer.getvalue()

    def decode(self, data: bytes) -> Audio:
        return read_audio(io.BytesIO(data))


AUDIO_CODECS = {
    c.name: c
    for c in (
        BenchCodec("opus",
                   "Opus (libopus) in Ogg at 48 kHz, VBR, application audio, complexity 10, 20 ms frames; "
                   "quality = target bit rate in kbit/s",
                   (6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256),
                   lambda q: PyAVAudioCoder("libopus", "ogg", 48000, q * 1000, {}),
                   functools.partial(pyav_missing, "libopus")),
        BenchCodec("flac", "FLAC (FFmpeg's encoder), 16-bit PCM at the source rate; quality = compression level 0-12",
                   (5,), lambda q: PyAVAudioCoder("flac", "flac", None, None, {"compression_level": str(q)}),
                   functools.partial(pyav_missing, "flac")),
    )
}


def _measure(coder: Coder, clip: Audio) -> dict[str, Any]:
    start = time.perf_counter()
    data = coder.encode(clip)
    middle = time.perf_counter()
    decoded = coder.decode(data)
    end = time.perf_counter()
    reference, length = clip.samples, clip.samples.shape[1]
    output = resample(decoded, clip.rate).samples[:, :length]
    if output.shape[0] != reference.shape[0]:
        raise NeurocodecError(f"decoded audio has {output.shape[0]} channels, the source {reference.shape[0]}")
    output = np.pad(output, ((0, 0), (0, length - output.shape[1])))
    n_fft = 2 ** round(math.log2(clip.rate * 0.046))
    speech = clip.rate in SPEECH_RATES and reference.shape[0] == 1
    return {
        "bytes": len(data),
        "seconds": length / clip.rate,
        "kbps": kbps(len(data), length / clip.rate),
        "snr": snr_db(reference, output),
        "lsd": log_spectral_distance(reference, output, n_fft=n_fft, hop=n_fft // 4),
        "pesq": pesq_score(reference, output, clip.rate) if speech else None,
        "stoi": stoi_score(reference, output, clip.rate) if speech else None,
        "encoding_time": middle - start,
        "decoding_time": end - middle,
    }


def _report_layout(rows: Sequence[dict[str, Any]]) -> Layout:
    """Speech metrics are reported only where every clip has them."""
    metrics = [Metric("snr", "SNR (dB)", bd=False), Metric("lsd", "log-spectral distance (dB)", higher_is_better=False)]
    metrics += [Metric(m, m.upper()) for m in ("pesq", "stoi") if all(r[m] is not None for r in rows)]
    return Layout(
        modality="audio",
        rate="kbps",
        rate_label="kbit/s",
        metrics=tuple(metrics),
        times=("encoding_time", "decoding_time"),
        log_rate=True,
        description=(
            "Audio bench: kbps = 8 * whole encoded file bytes / duration; metrics at the source rate after "
            "resampling decoded audio back to it: snr (dB), lsd (log-spectral distance in dB, Hann STFT of "
            "about 46 ms, hop a quarter window, power per bin normalised by the window energy, floor -80 dB), pesq (P.862 wide band at 16 kHz) and stoi "
            "for mono speech at 8 or 16 kHz; means over clips; times in seconds per clip"
        ),
    )


def run(
    codecs: str | None,
    data: Sequence[str | Path],
    out: Path,
    qualities: Sequence[str] | None = None,
    limit: int | None = None,
    seconds: float | None = None,
    anchor: str | None = "opus",
    force: bool = False,
) -> str:
    """Run the audio bench over the files in `data`, write the results into `out`; return the table."""
    if seconds is not None and seconds <= 0:
        raise NeurocodecError("--seconds must be positive")
    selected = resolve(codecs, AUDIO_CODECS, ("audio",))
    sweep_qualities = parse_qualities(qualities, selected)
    clips = [(f.name, read_audio(f, seconds)) for f in list_inputs(data, AUDIO_EXTENSIONS, limit)]
    prepare_out_dir(out, selected, force)
    rows = sweep(selected, sweep_qualities, clips, _measure, unit="clip")
    layout = _report_layout(rows)
    summary = summarize(rows, [layout.rate, *(m.column for m in layout.metrics), *layout.times])
    return write_report(out, layout, selected, rows, summary, anchor)
