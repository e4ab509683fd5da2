"""The registered INR video codecs ``hnerv`` (id 7) and ``nerv++`` (id 8), on one base class.

Encoding reads the whole clip (uint8 cache), picks the model size from a target (``size`` bytes,
``bpp``, or the quality's bpp), fits, prunes, quantizes and entropy-codes the stored network
(stream 1) and, for HNeRV, the per-frame embeddings (stream 2). Container fields after the
video's: the architecture (see :mod:`.hnerv`, :mod:`.nervpp`), then weight bits, embedding bits
(0 without embeddings) and the epochs fitted (informational). No weights files: fingerprint 0.

Exact: header, symbols, tables, dequantized weights (bit-identical on every machine). Approximate:
reconstructions are float network outputs rounded to uint8, equal across machines and thread
counts only up to float rounding; within one process a decode equals the encoder's own
quantized-model reconstruction. The size target is approximate (a per-weight bit estimate).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from neurocodec import media
from neurocodec.codec import Codec
from neurocodec.entropy import Decoder, Encoder, StreamCorrupt
from neurocodec.errors import NeurocodecError
from neurocodec.modality import VideoMeta
from neurocodec.registry import register

from .compress import Quantized, decode_group, encode_group, huffman_reference_bytes, quantize
from .fit import FitReport, Schedule, fit, psnr_of, read_frames
from .hnerv import HNeRV, HNeRVArch
from .layers import Decoder as StageDecoder
from .layers import channel_schedule, stage_sizes
from .nervpp import NeRVpp, NeRVppArch

# Pruning 40 % at 90 % of a 300-epoch run cost the smallest HNeRV 1.8 dB that the annealed learning
# rate never won back; 20 % at 80 % dips 0.2-0.4 dB and recovers, at 112 and at 300 epochs
# (results/inr/README.md), so both prune so.
PRESETS = {
    "fast": Schedule(epochs=30, lr=1e-3, warmup=0.1, prune=0.2, finetune=0.2),  # CPU default
    "quality": Schedule(epochs=300, lr=1e-3, warmup=0.2, prune=0.2, finetune=0.2),  # GPU default
}
QUALITY_BPP = {1: 0.01, 2: 0.02, 3: 0.04, 4: 0.08}
WEIGHT_BITS, EMBED_BITS = 6, 6  # 6-bit weights: about 30 % smaller than 8-bit for a small PSNR loss
BITS_PER_WEIGHT, BITS_PER_EMBED = 4.5, 4.5  # size-target estimates (approximate)
KERNELS = (1, 3, 5, 5, 5)
MAX_VALUES = 1 << 27  # stored weights + embeddings a file may declare (checked before allocating)


@dataclass
class Fitted:
    """What the encoder keeps of its last fit: the dequantized stored model and embeddings, the
    frame count, the fit report and the sizes (bytes and counts of weights and embeddings)."""

    model: nn.Module
    embeddings: torch.Tensor | None
    frames: int
    report: FitReport
    sizes: dict[str, float]


class INRCodec(Codec):
    """Shared encode/decode for INR video codecs; subclasses supply the networks."""

    modality = "video"
    qualities = (1, 2, 3, 4)
    default_quality = 2
    arch_class: ClassVar[type]
    embed_bits: ClassVar[int] = 0

    def __init__(self, quality: int | None = None, bpp: float | None = None, size: int | None = None,
                 minutes: float | None = None, device: str | None = None, preset: str | None = None,
                 progress: bool = True, epochs: int | None = None, batch: int | None = None):
        super().__init__(quality)
        if bpp is not None and size is not None:
            raise NeurocodecError("give a target --bpp or --size, not both")
        if any(v is not None and v <= 0 for v in (bpp, size, minutes, epochs, batch)):
            raise NeurocodecError("--bpp, --size, --minutes, --epochs and --batch must be positive")
        if preset is not None and preset not in PRESETS:
            raise NeurocodecError(f"unknown preset {preset!r}; choose {', '.join(PRESETS)}")
        if device not in (None, "cpu", "cuda"):
            raise NeurocodecError(f"unknown device {device!r}; choose cpu or cuda")
        if device == "cuda" and not torch.cuda.is_available():
            raise NeurocodecError("--device cuda: no CUDA device is available")
        self.bpp, self.size, self.minutes, self.progress = bpp, size, minutes, progress
        if bpp is not None or size is not None:
            self.quality = None  # the explicit target replaces the quality's
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        base = PRESETS[preset or ("quality" if self.device == "cuda" else "fast")]
        self.schedule = replace(base, minutes=minutes, epochs=epochs or base.epochs, batch=batch or base.batch)
        self.fitted: Fitted | None = None

    # --- what subclasses supply --------------------------------------------------------------
    def design(self, meta: VideoMeta, first: int) -> Any:
        """The architecture whose first stage has ``first`` channels."""
        raise NotImplementedError

    def fit_model(self, arch: Any, meta: VideoMeta) -> nn.Module:
        """The network that is fitted (``fit_forward``); :meth:`stored` picks the stored part."""
        raise NotImplementedError

    def stored(self, model: nn.Module) -> nn.Module:
        """The part of the fitted network that the file stores."""
        raise NotImplementedError

    def stored_model(self, arch: Any, meta: VideoMeta) -> nn.Module:
        """The stored part alone, as the decoder builds it."""
        raise NotImplementedError

    def embeddings(self, model: nn.Module, frames: torch.Tensor) -> np.ndarray | None:
        """Per-frame embeddings to store (None: the codec has none)."""
        return None

    def embed_shape(self, arch: Any, meta: VideoMeta) -> tuple[int, ...] | None:
        return None

    def render(self, model: nn.Module, embeddings: torch.Tensor | None, index: torch.Tensor) -> torch.Tensor:
        """Frames ``index`` in [0, 1] from the stored model."""
        raise NotImplementedError

    # --- encoding --------------------------------------------------------------------------
    def target_bytes(self, meta: VideoMeta) -> float:
        if self.size is not None:
            return float(self.size)
        bpp = self.bpp if self.bpp is not None else QUALITY_BPP[self.quality]
        return bpp * meta.width * meta.height * meta.frames / 8

    def choose_arch(self, meta: VideoMeta) -> Any:
        """The largest architecture whose estimated file size fits the target (approximate)."""
        target, best = self.target_bytes(meta), self.design(meta, 6)
        for first in range(6, 513):
            arch = self.design(meta, first)
            weights, embeds = _counts(self, arch, meta)
            if (weights * BITS_PER_WEIGHT + embeds * BITS_PER_EMBED) / 8 > target:
                break
            best = arch
        return best

    def encode_payload(self, path: str | Path) -> tuple[tuple[int, ...], list[bytes]]:
        if not isinstance(path, (str, Path)):
            raise NeurocodecError(f"{self.name} encodes a video file: pass its path")
        info = media.video_info(path)
        frames = read_frames(path)
        meta = VideoMeta(info.width, info.height, frames.shape[0], info.fps.numerator, info.fps.denominator)
        meta.check()
        arch = self.choose_arch(meta)
        torch.manual_seed(0)
        model = self.fit_model(arch, meta)
        stored = self.stored(model)
        prunable = [p for p in stored.parameters() if p.dim() > 1]
        _, report = fit(model, prunable, frames, self.schedule, self.device, self.progress)
        model.cpu()
        with torch.inference_mode():
            emb = self.embeddings(model, frames)
        params = [p.detach().numpy() for p in stored.parameters()]
        qs = [quantize(p, WEIGHT_BITS, axis=0) for p in params]
        streams, sizes = [_encode(qs, WEIGHT_BITS)], _sizes("weights", qs, WEIGHT_BITS)
        deq_emb = None
        if emb is not None:
            q = quantize(emb, self.embed_bits, axis=1)
            streams.append(_encode([q], self.embed_bits))
            sizes.update(_sizes("embeddings", [q], self.embed_bits))
            deq_emb = torch.from_numpy(q.dequantize())
        sizes["weights_coded_bytes"] = len(streams[0])
        sizes["embeddings_coded_bytes"] = len(streams[1]) if emb is not None else 0
        _load(stored, qs)
        stored.eval()
        self.fitted = Fitted(stored, deq_emb, meta.frames, report, sizes)
        extra = (*arch.to_fields(), WEIGHT_BITS, self.embed_bits, report.epochs)
        return (*meta.to_fields(), *extra), streams

    def reconstruction_psnr(self, path: str | Path) -> float:
        """Mean per-frame RGB PSNR of the encoder's quantized model against the source (after encoding)."""
        if self.fitted is None:
            raise NeurocodecError("nothing has been encoded yet")
        values = [psnr_of(float(np.mean((a / 255.0 - b / 255.0) ** 2)))
                  for a, b in zip(media.iter_frames(path), self.fitted_frames())]
        return float(np.mean(values))

    def fitted_frames(self, frames: range | None = None) -> Iterator[np.ndarray]:
        """The encoder's own quantized-model reconstruction (uint8 HxWx3 frames)."""
        if self.fitted is None:
            raise NeurocodecError("nothing has been encoded yet")
        return self._frames(self.fitted.model, self.fitted.embeddings, frames or range(self.fitted.frames))

    # --- decoding --------------------------------------------------------------------------
    def load(self, meta: VideoMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> tuple[nn.Module, torch.Tensor | None]:
        """The stored model with its dequantized weights, and the embeddings (None for NeRV++)."""
        arch, rest = self.arch_class.from_fields(extra)
        if len(rest) != 3 or not 2 <= rest[0] <= 16 or rest[1] != self.embed_bits:
            raise NeurocodecError(f"corrupt {self.name} header: bad quantization fields")
        if len(streams) != (2 if self.embed_bits else 1):
            raise NeurocodecError(f"corrupt {self.name} file: wrong number of streams")
        weights, embeds = _counts(self, arch, meta)
        if weights + embeds > MAX_VALUES:
            raise NeurocodecError(f"{self.name} file declares a network too large to decode")
        model = self.stored_model(arch, meta).eval()
        params = list(model.parameters())
        try:
            qs = decode_group(Decoder(streams[0]), [tuple(p.shape) for p in params], [0] * len(params), rest[0])
            emb = None
            if self.embed_bits:
                shape = self.embed_shape(arch, meta)
                emb = torch.from_numpy(decode_group(Decoder(streams[1]), [shape], [1], self.embed_bits)[0].dequantize())
        except StreamCorrupt as exc:
            raise NeurocodecError(f"corrupt {self.name} file: {exc}") from None
        _load(model, qs)
        return model, emb

    def decode_payload(self, meta: VideoMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> media.Video:
        return self.decode_frames(meta, extra, streams)

    def decode_frames(self, meta: VideoMeta, extra: tuple[int, ...], streams: tuple[bytes, ...],
                      frames: range | None = None) -> media.Video:
        """Frames ``frames`` (default all), produced lazily one forward pass each."""
        if frames is not None and (frames.start < 0 or frames.stop > meta.frames or len(frames) == 0):
            raise NeurocodecError(f"frames {frames.start}:{frames.stop} are outside 0:{meta.frames}")
        model, emb = self.load(meta, extra, streams)
        return media.Video(self._frames(model, emb, frames or range(meta.frames)), Fraction(meta.fps_num, meta.fps_den))

    def decode_file(self, data: bytes, path: str | Path, frames: range | None = None) -> None:
        """Write the decoded video (or, for one frame and an image extension, that frame)."""
        video = self.decode_frames(*self.parse(data), frames)
        if Path(path).suffix.lower() in media.IMAGE_EXTENSIONS:
            if frames is None or len(frames) != 1:
                raise NeurocodecError("an image output holds one frame: give --frames N")
            media.write_image(path, next(iter(video.frames)))
        else:
            media.write_video(path, video.frames, video.fps)

    def describe(self, meta: VideoMeta, extra: tuple[int, ...]) -> dict:
        arch, rest = self.arch_class.from_fields(extra)
        weights, embeds = _counts(self, arch, meta)
        return {"architecture": vars(arch), "weights": weights, "embedding_values": embeds,
                "weight_bits": rest[0], "embedding_bits": rest[1], "epochs": rest[2] if len(rest) > 2 else None}

    def _frames(self, model: nn.Module, emb: torch.Tensor | None, frames: range) -> Iterator[np.ndarray]:
        model = model.to(memory_format=torch.channels_last)
        for i in frames:
            with torch.inference_mode():
                out = self.render(model, emb, torch.tensor([i]))
                yield out[0].mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def _counts(codec: INRCodec, arch: Any, meta: VideoMeta) -> tuple[int, int]:
    """Stored weights and embedding values of an architecture, counted without allocating."""
    with torch.device("meta"):
        weights = sum(p.numel() for p in codec.stored_model(arch, meta).parameters())
    shape = codec.embed_shape(arch, meta)
    return weights, math.prod(shape) if shape else 0


def _encode(qs: list[Quantized], bits: int) -> bytes:
    enc = Encoder()
    encode_group(enc, qs, bits)
    return enc.finish()


def _sizes(group: str, qs: list[Quantized], bits: int) -> dict[str, float]:
    symbols = np.concatenate([q.symbols.reshape(-1) for q in qs])
    qmax = 2 ** (bits - 1) - 1
    return {f"{group}_count": symbols.size, f"{group}_nonzero": int(np.count_nonzero(symbols)),
            f"{group}_raw8_bytes": symbols.size,  # 8 bits a value
            f"{group}_raw_bytes": symbols.size * bits / 8,
            f"{group}_huffman_bytes": huffman_reference_bytes(qs, bits),
            f"{group}_per_channel": sum(q.axis >= 0 for q in qs), f"{group}_tensors": len(qs)}


def _load(model: nn.Module, qs: list[Quantized]) -> None:
    with torch.no_grad():
        for p, q in zip(model.parameters(), qs):
            p.copy_(torch.from_numpy(q.dequantize()))


def _strides(meta: VideoMeta) -> tuple[int, ...]:
    """HNeRV's strides 5,4,4,2,2 (a 1x2 grid at 272x640); 4,2,2,2 for clips under 160 pixels."""
    return (5, 4, 4, 2, 2) if min(meta.width, meta.height) >= 160 else (4, 2, 2, 2)


@register
class HNeRVCodec(INRCodec):
    name = "hnerv"
    codec_id = 7
    description = ("HNeRV video INR (ConvNeXt encoder, 16-channel per-frame embeddings, HNeRV blocks); "
                   "fitted at encode time; quality = target bpp 0.01/0.02/0.04/0.08, or --bpp/--size")
    arch_class = HNeRVArch
    embed_bits = EMBED_BITS

    def design(self, meta: VideoMeta, first: int) -> HNeRVArch:
        strides = _strides(meta)
        return HNeRVArch(strides, KERNELS[:len(strides)], channel_schedule(first, len(strides), floor=min(12, first)), 16)

    def fit_model(self, arch: HNeRVArch, meta: VideoMeta) -> HNeRV:
        return HNeRV(arch, meta.height, meta.width)

    def stored(self, model: HNeRV) -> nn.Module:
        return model.decoder

    def stored_model(self, arch: HNeRVArch, meta: VideoMeta) -> StageDecoder:
        return StageDecoder(arch.embed, arch.strides, arch.kernels, arch.channels, meta.height, meta.width)

    def embeddings(self, model: HNeRV, frames: torch.Tensor) -> np.ndarray:
        return torch.cat([model.embed(f.float() / 255) for f in frames.split(8)]).numpy()

    def embed_shape(self, arch: HNeRVArch, meta: VideoMeta) -> tuple[int, ...]:
        return (meta.frames, arch.embed, stage_sizes(meta.height, arch.strides)[0], stage_sizes(meta.width, arch.strides)[0])

    def render(self, model: nn.Module, embeddings: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return model(embeddings[index])


@register
class NeRVppCodec(INRCodec):
    name = "nerv++"
    codec_id = 8
    description = ("NeRV++ video INR (positional encoding, MLP, NeRV++ blocks with separable residuals and "
                   "bilinear skips); fitted at encode time; quality = target bpp 0.01/0.02/0.04/0.08")
    arch_class = NeRVppArch

    def design(self, meta: VideoMeta, first: int) -> NeRVppArch:
        strides = _strides(meta)
        return NeRVppArch(strides, KERNELS[:len(strides)], channel_schedule(first, len(strides), floor=min(12, first)), 32, 128, first)

    def fit_model(self, arch: NeRVppArch, meta: VideoMeta) -> NeRVpp:
        return self.stored_model(arch, meta)

    def stored(self, model: NeRVpp) -> nn.Module:
        return model

    def stored_model(self, arch: NeRVppArch, meta: VideoMeta) -> NeRVpp:
        return NeRVpp(arch, meta.height, meta.width, meta.frames)

    def render(self, model: nn.Module, embeddings: None, index: torch.Tensor) -> torch.Tensor:
        return model(index)
