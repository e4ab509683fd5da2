"""``walloc-rgb`` (images, id 5) and ``walloc-stereo`` (audio, id 6): the registered codecs.

One variable-rate model per codec serves all its qualities (one weights file, one manifest row
per quality); the quality travels in the file's fingerprint (16 bits of SHA-256(weights,
quality)). Container fields after the modality's:

- ``walloc-rgb``: ``coding`` (0: our factorized prior; 2: our spatial context model, see
  :mod:`.context`; both ANS. 1 was lossless WebP of the tiled symbols until 2026-11-24, see
  :mod:`.png_latents`). The encoder codes both ways and keeps the smaller stream (the context
  model, but for latents smaller than 2x2). One stream. Images are padded (edge replication)
  to a multiple of 8 and cropped back after decoding.
- ``walloc-stereo``: ``log2(chunk)``. Audio is cut into chunks of ``chunk``
  samples per channel, each coded as its own stream (padded to a multiple of 64), so encoding
  and decoding stream through long files in bounded memory. Mono is coded as two equal
  channels and averaged back. Any sample rate is accepted (the model was trained at 44.1/48 kHz).

Compressed-domain access: :meth:`WallocCodec.latents` returns the dequantized latents (the
encoder's dimensionality-reduced projection, up to quantization) without running the decoder.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from neurocodec import media, weights
from neurocodec.codec import WeightsCodec
from neurocodec.entropy import Decoder, Encoder, StreamCorrupt
from neurocodec.errors import NeurocodecError
from neurocodec.modality import AudioMeta, ImageMeta
from neurocodec.registry import register
from neurocodec.training import AUX_SUFFIX, Recipe, refuse_lmbda

from . import context
from .model import WallocModel

TRAINING_ONLY = ".density."  # float densities: coding uses the integer tables instead
PRIOR, CONTEXT = 0, 2  # walloc-rgb's coding field
PCM_SCALE = 32767.0  # audio output lies on the 16-bit PCM grid, as .wav files store it

# Rate-distortion trade-offs per quality, low to high rate, and initial quantization steps.
RGB_LAMBDAS = (0.0025, 0.005, 0.01, 0.02, 0.04)
RGB_STEPS = (0.5, 0.3, 0.2, 0.12, 0.08)
STEREO_LAMBDAS = (4e3, 1.5e4, 6e4, 2.5e5, 1e6)  # loss = lambda * MSE + bits per sample frame
STEREO_STEPS = (0.04, 0.02, 0.01, 0.005, 0.0025)
STEREO_CHUNK_LOG2 = 17  # 131072 samples per channel per stream (~3 s at 44.1 kHz)
MAX_CHUNK_LOG2 = 20


def build_rgb() -> WallocModel:
    """3 levels of 2-D bior4.4 packets (192 channels at 1/8 size) -> 48 latents: 4x reduction."""
    return WallocModel(dims=2, channels=3, levels=3, latent=48, lambdas=RGB_LAMBDAS, initial_steps=RGB_STEPS)


def build_stereo() -> WallocModel:
    """6 levels of 1-D bior4.4 packets (128 channels at 1/64 rate) -> 32 latents: 4x reduction."""
    return WallocModel(dims=1, channels=2, levels=6, latent=32, lambdas=STEREO_LAMBDAS, initial_steps=STEREO_STEPS)


BUILDERS = {"walloc-rgb": build_rgb, "walloc-stereo": build_stereo}


def export_state(model: WallocModel) -> dict[str, torch.Tensor]:
    """Shipped tensors: the float32 networks and the integer entropy tables (densities dropped)."""
    model.update()
    return {k: v.contiguous() for k, v in model.state_dict().items() if TRAINING_ONLY not in k}


def load_model(name: str, path: str | Path, sha256: str | None = None) -> WallocModel:
    """A float64 model ready for coding from an exported weights file (checked against ``sha256``)."""
    model = BUILDERS[name]()
    missing, unexpected = model.load_state_dict(weights.load_state(path, sha256), strict=False)
    if unexpected or any(TRAINING_ONLY not in k for k in missing):
        raise NeurocodecError(f"weights file {Path(path).name} does not fit {name}")
    return model.double().eval()


@lru_cache(maxsize=4)
def _cached_model(name: str, path: str, sha256: str) -> WallocModel:
    return load_model(name, path, sha256)


def rgb_input(x: np.ndarray, stride: int) -> torch.Tensor:
    """uint8 HxWx3 pixels as the model's float64 (1, 3, H', W') input in [-0.5, 0.5], padded by
    edge replication to multiples of ``stride``."""
    padded = np.pad(x, ((0, -x.shape[0] % stride), (0, -x.shape[1] % stride), (0, 0)), mode="edge")
    return torch.from_numpy(padded.transpose(2, 0, 1).copy()).double()[None] / 255 - 0.5


def param_groups(model: WallocModel, lr: float, linear: float = 1.0) -> list[dict]:
    """Per-quality quantization steps learn 10x faster than the networks, the priors' densities
    5x (they start much wider than the latents; until they fit, the rate term has no grip), and
    the linear encoder and decoder ``linear`` times as fast (below 1 keeps a PCA start)."""
    named = [(n, p) for n, p in model.named_parameters() if not n.endswith(AUX_SUFFIX)]
    density = [p for n, p in named if TRAINING_ONLY in n]
    linear_params = [*model.encoder.parameters(), *model.decoder_linear.parameters()]
    special = {id(p) for p in [model.log_gain, *density, *linear_params]}
    rest = [p for _, p in named if id(p) not in special]
    return [{"params": rest, "lr": lr}, {"params": [model.log_gain], "lr": lr * 10},
            {"params": density, "lr": lr * 5}, {"params": linear_params, "lr": lr * linear}]


def rgb_param_groups(model: WallocModel, lr: float) -> list[dict]:
    """``walloc-rgb`` starts from a PCA (:mod:`.pca_init`): its linear maps move 10x slower."""
    return param_groups(model, lr, linear=0.1)


class WallocCodec(WeightsCodec):
    """Shared parts: weights, latent access and ``describe``."""

    qualities = tuple(range(1, 6))
    default_quality = 3

    @property
    def model(self) -> WallocModel:
        return _cached_model(self.name, *self.weights_file)


    def _coding(self, extra: tuple[int, ...]) -> int:
        return PRIOR

    def _symbols(self, stream: bytes, extra: tuple[int, ...], shape: tuple[int, ...]) -> torch.Tensor:
        """Integer symbols (float64) of ``shape`` from one stream; exact."""
        try:
            if self._coding(extra) == CONTEXT:
                scales = self.model.context_scales[self.quality - 1].numpy()
                return torch.from_numpy(context.decode(Decoder(stream), scales, shape[1:]).astype(np.float64))[None]
            return self.model.decompress_latents(Decoder(stream), self.quality - 1, shape)
        except (StreamCorrupt, ValueError, OSError) as exc:
            raise NeurocodecError(f"corrupt {self.name} stream: {exc}") from None

    def latents(self, data: bytes) -> torch.Tensor:
        """Dequantized latents of a file, float64 (1, C, ...) in the encoder's projection units,
        without running the decoder: a dimensionality-reduced signal to learn from. The symbols
        are exact; dequantizing them is elementwise float64 (the same on every machine). Audio:
        the chunks' latents concatenated in time (each chunk padded to a multiple of 64)."""
        meta, extra, streams = self.parse(data)
        shapes = self._latent_shapes(meta, extra, streams)
        parts = [self.model.dequantize(self._symbols(s, extra, shape), torch.tensor([self.quality - 1]))
                 for s, shape in zip(streams, shapes)]
        return torch.cat(parts, dim=-1)

    def describe(self, meta: object, extra: tuple[int, ...]) -> dict:
        m = self.model
        return {"latent_channels": m.latent, "latent_shape": self._describe_shape(meta, extra),
                "dimensionality_reduction": m.wavelet_channels / m.latent,
                "wavelet_levels": m.levels}


@register
class WallocRGB(WallocCodec):
    """WaLLoC for RGB images."""

    name = "walloc-rgb"
    codec_id = 5
    modality = "image"
    description = "WaLLoC: 2-D wavelet packets, linear 1x1 encoder (4x reduction), conv decoder; latents: spatial context model"

    @classmethod
    def training_recipe(cls, lmbda: float | None = None) -> Recipe:
        """Variable rate: the lambdas are fixed per quality (``RGB_LAMBDAS``). Start from a PCA:
        ``python -m neurocodec.codecs.walloc.pca_init`` then ``--init`` (see that module)."""
        refuse_lmbda(cls.name, lmbda)
        return Recipe(build=build_rgb, param_groups=rgb_param_groups, steps=4000, lr=3e-4, batch=8, crop=128)

    def _padded(self, meta: ImageMeta) -> tuple[int, int]:
        s = self.model.stride
        return meta.height + -meta.height % s, meta.width + -meta.width % s

    def _latent_shapes(self, meta: ImageMeta, extra, streams) -> list[tuple[int, ...]]:
        if len(streams) != 1 or meta.channels != 3:
            raise NeurocodecError(f"corrupt {self.name} file: unexpected streams or channels")
        h, w = self._padded(meta)
        return [(1, self.model.latent, h // self.model.stride, w // self.model.stride)]

    def _describe_shape(self, meta: ImageMeta, extra) -> list[int]:
        return list(self._latent_shapes(meta, extra, [b""])[0])

    def encode_payload(self, x: np.ndarray) -> tuple[tuple[int, ...], list[bytes]]:
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 3:
            raise NeurocodecError(f"{self.name} encodes uint8 HxWx3 images, got {x.dtype} {x.shape}")
        meta = ImageMeta(x.shape[1], x.shape[0], 3)
        image = rgb_input(x, self.model.stride)
        encoder = Encoder()
        symbols = self.model.compress(image, self.quality - 1, encoder)
        plane = symbols[0].numpy().astype(np.int64)
        streams = {PRIOR: encoder.finish()}
        if min(plane.shape[1:]) >= 2:
            encoder = Encoder()
            context.encode(plane, self.model.context_scales[self.quality - 1].numpy(), encoder)
            streams[CONTEXT] = encoder.finish()
        coding = min(streams, key=lambda c: len(streams[c]))
        return meta.to_fields() + (coding,), [streams[coding]]

    def _coding(self, extra: tuple[int, ...]) -> int:
        if extra not in ((PRIOR,), (CONTEXT,)):
            raise NeurocodecError(f"corrupt {self.name} file: unknown latent coding {extra}")
        return extra[0]

    def decode_payload(self, meta: ImageMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> np.ndarray:
        (shape,) = self._latent_shapes(meta, extra, streams)
        out = self.model.decode_latents(self._symbols(streams[0], extra, shape), self.quality - 1)
        pixels = torch.floor((out[0] + 0.5) * 255 + 0.5).clamp_(0, 255).to(torch.uint8)
        return pixels.permute(1, 2, 0).numpy()[:meta.height, :meta.width]


@register
class WallocStereo(WallocCodec):
    """WaLLoC for stereo (and mono) audio, streamed in chunks."""

    name = "walloc-stereo"
    codec_id = 6
    modality = "audio"
    description = "WaLLoC: 1-D wavelet packets, linear 1x1 encoder (4x reduction), conv decoder, factorized prior"

    def _chunk_lengths(self, meta: AudioMeta, extra: tuple[int, ...], n_streams: int) -> list[int]:
        if len(extra) != 1 or not self.model.levels <= extra[0] <= MAX_CHUNK_LOG2:
            raise NeurocodecError(f"corrupt {self.name} file: unexpected codec fields")
        chunk = 1 << extra[0]
        lengths = [min(chunk, meta.samples - start) for start in range(0, meta.samples, chunk)]
        if len(lengths) != n_streams:
            raise NeurocodecError(f"corrupt {self.name} file: {n_streams} streams for {len(lengths)} chunks")
        return lengths

    def _latent_shapes(self, meta: AudioMeta, extra, streams) -> list[tuple[int, ...]]:
        s = self.model.stride
        return [(1, self.model.latent, math.ceil(n / s)) for n in self._chunk_lengths(meta, extra, len(streams))]

    def _describe_shape(self, meta: AudioMeta, extra) -> list[int]:
        return [1, self.model.latent, math.ceil(meta.samples / self.model.stride)]

    def _encode_chunk(self, samples: np.ndarray) -> bytes:
        if samples.ndim != 2 or samples.shape[0] not in (1, 2):
            raise NeurocodecError(f"{self.name} encodes mono or stereo audio, got shape {samples.shape}")
        x = np.broadcast_to(samples, (2, samples.shape[1]))
        x = np.pad(x, ((0, 0), (0, -x.shape[1] % self.model.stride)), mode="edge")
        encoder = Encoder()
        self.model.compress(torch.from_numpy(x.astype(np.float64))[None], self.quality - 1, encoder)
        return encoder.finish()

    def _encode_stream(self, chunks: Iterable[media.Audio]) -> tuple[tuple[int, ...], list[bytes]]:
        """Fields and streams from audio chunks of any size, re-cut into coding chunks."""
        size, streams, pending, rate, channels, samples = 1 << STEREO_CHUNK_LOG2, [], [], None, None, 0
        for audio in chunks:
            rate, channels = audio.rate, audio.channels
            pending.append(audio.samples)
            samples += audio.samples.shape[1]
            while sum(p.shape[1] for p in pending) >= size:
                block = np.concatenate(pending, axis=1)
                streams.append(self._encode_chunk(block[:, :size]))
                pending = [block[:, size:]]
        if samples == 0:
            raise NeurocodecError("no audio samples to encode")
        rest = np.concatenate(pending, axis=1)
        if rest.shape[1]:
            streams.append(self._encode_chunk(rest))
        return AudioMeta(rate, channels, samples).to_fields() + (STEREO_CHUNK_LOG2,), streams

    def _decode_chunks(self, meta: AudioMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> Iterator[np.ndarray]:
        """Float32 samples on the 16-bit PCM grid, one chunk at a time."""
        lengths = self._chunk_lengths(meta, extra, len(streams))
        for stream, shape, n in zip(streams, self._latent_shapes(meta, extra, streams), lengths):
            out = self.model.decode_latents(self._symbols(stream, extra, shape), self.quality - 1)[0, :, :n]
            if meta.channels == 1:
                out = out.mean(dim=0, keepdim=True)
            yield (torch.round(out.clamp(-1, 1) * PCM_SCALE) / PCM_SCALE).float().numpy()

    def encode_payload(self, x: media.Audio) -> tuple[tuple[int, ...], list[bytes]]:
        return self._encode_stream([x])

    def decode_payload(self, meta: AudioMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> media.Audio:
        return media.Audio(np.concatenate(list(self._decode_chunks(meta, extra, streams)), axis=1), meta.rate)

    def encode_file(self, path: str | Path) -> bytes:
        """Stream the file through the encoder; only one chunk of samples is in memory at a time."""
        return self.pack(*self._encode_stream(media.iter_audio(path)))

    def decode_file(self, data: bytes, path: str | Path) -> None:
        """Decode chunk by chunk into a streaming .wav/.flac writer (atomic on success)."""
        meta, extra, streams = self.parse(data)
        with media.AudioWriter(path, meta.rate, meta.channels) as writer:
            for samples in self._decode_chunks(meta, extra, streams):
                writer.write(samples)
