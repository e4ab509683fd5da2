"""The ``pc-lossless`` codec: exact lossless coding of 28x28 grayscale images with an HCLT circuit.

Quality selects the model: 1 = MNIST digits, 2 = Fashion-MNIST. Every pixel is coded under its
exact conditional from :mod:`.exact`, in the tree's pre-order. A file holds one image, or a stack
of N images (:meth:`PcLossless.encode_images`; the CLI reads and writes them as ``.npy``):

- fields: width, height, 1, then N only when N > 1;
- streams: one ANS stream per group of ``GROUP`` = 64 images (the last group may be smaller);
  inside a stream, pixel-major: the first pixel of each image of the group, then the second...

So a one-image file is the N = 1 case, and a stack pays the coder's flush (about 2 bytes) and a
stream size once per 64 images instead of once per image. Images of another size or with colour
are refused: the circuit only defines a distribution over the images it was trained on.

Speed: coding is many small exact matrix products, shared across images in batches; decoding
is sequential per pixel and batched across images (and streams). On a small or shared CPU,
``torch.set_num_threads(1)`` avoids threads waiting on each other. Thread count and batch size
never change the bytes.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from neurocodec import media, weights
from neurocodec.codec import WeightsCodec
from neurocodec.entropy import TOTAL, Decoder, Encoder, PerSymbolCategorical, StreamCorrupt
from neurocodec.errors import NeurocodecError
from neurocodec.modality import MAX_IMAGE_PIXELS, ImageMeta
from neurocodec.registry import register

from .exact import SYMBOLS, ExactHCLT

GROUP = 64  # images per stream in a multi-image file: part of the format
CHUNK = GROUP  # images whose conditionals are built at once when encoding (bounds memory to ~300 MB)
DECODE_BATCH = 8 * GROUP  # images decoded at once (the circuit's state: about 0.4 MB per image)


def load_model(state: dict) -> tuple[ExactHCLT, tuple[int, int]]:
    """Exact circuit and image shape (height, width) from a shipped weights file's tensors."""
    names = ("parent", "prior", "transition", "leaves")
    model = ExactHCLT(*(state[n].numpy().astype(np.int64 if n == "parent" else np.uint8) for n in names))
    return model, tuple(int(v) for v in state["shape"])


@lru_cache(maxsize=4)
def _cached_model(path: str, sha256: str) -> tuple[ExactHCLT, tuple[int, int]]:
    return load_model(weights.load_state(path, sha256))


@register
class PcLossless(WeightsCodec):
    name = "pc-lossless"
    codec_id = 9
    modality = "image"
    description = "probabilistic circuit (hidden Chow-Liu tree) + ANS, exact lossless; q1 MNIST, q2 Fashion-MNIST"
    qualities = (1, 2)
    default_quality = 1

    def __init__(self, quality: int | None = None, weights: str | None = None):
        super().__init__(quality, weights)
        self.model, self.shape = _cached_model(*self.weights_file)
        self._order = np.asarray(self.model.tree.preorder)

    def _fields(self, count: int = 1) -> tuple[int, ...]:
        meta = ImageMeta(width=self.shape[1], height=self.shape[0], channels=1).to_fields()
        return meta if count == 1 else meta + (count,)

    def _pixels(self, images: Any) -> np.ndarray:
        """[N, D] pixels of a stack of images, or a clear refusal."""
        x = np.asarray(images)
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != self.shape or not len(x):
            got = f"{x.dtype} array of shape {x.shape[1:] if x.ndim >= 3 else x.shape}"
            raise NeurocodecError(f"{self.name} codes only {self.shape[1]}x{self.shape[0]} grayscale uint8 "
                                  f"images (what its circuit was trained on), got a {got}")
        return x.reshape(len(x), -1)

    @staticmethod
    def _stack(extra: tuple[int, ...]) -> int:
        """Images in a file, as its codec fields say (unchecked)."""
        return extra[0] if extra else 1

    def _count(self, meta: ImageMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> int:
        """Images in a parsed file, after checking it is a file this circuit codes."""
        count = self._stack(extra)
        if (meta.to_fields() != self._fields() or len(extra) > 1 or extra == (1,) or count < 1
                or count * meta.width * meta.height > MAX_IMAGE_PIXELS or len(streams) != -(-count // GROUP)):
            raise NeurocodecError(f"corrupt {self.name} file: unexpected image metadata or streams")
        return count

    # --- the Codec interface: one image per file (a stack from a multi-image file) ---------
    def encode_payload(self, x: Any) -> tuple[tuple[int, ...], list[bytes]]:
        return self._fields(), self._encode_streams(self._pixels(np.asarray(x)[None]), 1)

    def decode_payload(self, meta: ImageMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> np.ndarray:
        images = self._decode_groups(streams, self._count(meta, extra, streams))
        return images if extra else images[0]

    def encode_file(self, path: str | Path) -> bytes:
        """An image file, or a ``.npy`` stack [N, H, W] of images (one multi-image file)."""
        if Path(path).suffix.lower() == ".npy":
            return self.encode_images(np.load(path, allow_pickle=False))
        return super().encode_file(path)

    def decode_file(self, data: bytes, path: str | Path) -> None:
        """To an image file, or to a ``.npy`` stack [N, H, W] (required for a multi-image file)."""
        images = self.decode_images(data)
        if Path(path).suffix.lower() == ".npy":
            np.save(path, images)
        elif len(images) > 1:
            raise NeurocodecError(f"this file holds {len(images)} images: decode it to a .npy file")
        else:
            media.write_image(path, images[0])

    def describe(self, meta: ImageMeta, extra: tuple[int, ...]) -> dict:
        return {"images": self._stack(extra)}

    @classmethod
    def coded_pixels(cls, meta: ImageMeta, extra: tuple[int, ...]) -> int:
        return meta.width * meta.height * max(1, cls._stack(extra))

    # --- many images --------------------------------------------------------------------------
    def encode_images(self, images: Any, stats: dict | None = None) -> bytes:
        """One ``.ncs`` file holding a stack of images [N, H, W] (or [N, H, W, 1]).

        ``stats``, when given, receives ``circuit_s``, ``coder_s`` and ``ideal_bits`` (per image,
        -log2 p under the exact coded model)."""
        x = self._pixels(images)
        return self.pack(self._fields(len(x)), self._encode_streams(x, GROUP, stats))

    def decode_images(self, data: bytes, stats: dict | None = None) -> np.ndarray:
        """Images [N, H, W] uint8 of any file of this codec and weights (N = 1 for one image)."""
        meta, extra, streams = self.parse(data)
        return self._decode_groups(streams, self._count(meta, extra, streams), stats)

    def encode_batch(self, images: Any, stats: dict | None = None) -> list[bytes]:
        """One complete ``.ncs`` file per image of a stack (``stats`` as in :meth:`encode_images`)."""
        return [self.pack(self._fields(), [s]) for s in self._encode_streams(self._pixels(images), 1, stats)]

    def decode_batch(self, files: list[bytes], stats: dict | None = None) -> np.ndarray:
        """Images [N, H, W] uint8 of one-image ``.ncs`` files, decoded together."""
        streams = []
        for data in files:
            meta, extra, file_streams = self.parse(data)
            if self._count(meta, extra, file_streams) != 1:
                raise NeurocodecError("decode_batch takes one-image files; use decode_images for a stack")
            streams.append(file_streams[0])
        return self._decode_streams(streams, [1] * len(streams), stats).reshape(-1, *self.shape)

    # --- the streams ----------------------------------------------------------------------------
    def _encode_streams(self, x: np.ndarray, group: int, stats: dict | None = None) -> list[bytes]:
        """One stream per ``group`` images of ``x`` [N, D] (``group`` is 1 or ``GROUP``)."""
        circuit = coder = 0.0
        streams, bits = [], []
        for i in range(0, len(x), CHUNK):
            t0 = time.perf_counter()
            freqs = self.model.conditionals(x[i:i + CHUNK])  # [D, B, 256], pixel-major
            symbols = x[i:i + CHUNK, self._order].T  # [D, B]
            t1 = time.perf_counter()
            for j in range(0, symbols.shape[1], group):
                enc = Encoder()
                enc.encode(symbols[:, j:j + group].ravel(),
                           PerSymbolCategorical(freqs[:, j:j + group].reshape(-1, SYMBOLS)))
                streams.append(enc.finish())
            t2 = time.perf_counter()
            if stats is not None:
                picked = np.take_along_axis(freqs, symbols[..., None].astype(np.int64), -1)[..., 0]
                bits.extend((np.log2(TOTAL) * len(picked) - np.log2(picked).sum(0)).tolist())
            circuit, coder = circuit + t1 - t0, coder + t2 - t1
        if stats is not None:
            stats.update(circuit_s=circuit, coder_s=coder, ideal_bits=np.array(bits))
        return streams

    def _decode_groups(self, streams: tuple[bytes, ...], count: int, stats: dict | None = None) -> np.ndarray:
        """Images [count, H, W] of a file's streams (groups of ``GROUP``), ``DECODE_BATCH`` at a time."""
        sizes = [min(GROUP, count - i) for i in range(0, count, GROUP)]
        per_batch = DECODE_BATCH // GROUP
        parts, total = [], {"circuit_s": 0.0, "coder_s": 0.0}
        for i in range(0, len(streams), per_batch):
            part: dict = {}
            parts.append(self._decode_streams(list(streams[i:i + per_batch]), sizes[i:i + per_batch], part))
            total = {k: v + part[k] for k, v in total.items()}
        if stats is not None:
            stats.update(total)
        return np.concatenate(parts).reshape(count, *self.shape)

    def _decode_streams(self, streams: list[bytes], sizes: list[int], stats: dict | None = None) -> np.ndarray:
        """Pixels [sum(sizes), D] uint8 of streams holding ``sizes`` images each, decoded together."""
        coder = 0.0

        def next_symbols(freqs: np.ndarray) -> np.ndarray:
            nonlocal coder
            t0 = time.perf_counter()
            blocks = PerSymbolCategorical(freqs).blocks(sizes)
            out = np.concatenate([dec.decode(block) for dec, block in zip(decoders, blocks)])
            coder += time.perf_counter() - t0
            return out

        t0 = time.perf_counter()
        try:
            decoders = [Decoder(s) for s in streams]
            x = self.model.decode(sum(sizes), next_symbols)
        except StreamCorrupt as exc:
            raise NeurocodecError(f"corrupt {self.name} stream ({exc})") from None
        if stats is not None:
            stats.update(circuit_s=time.perf_counter() - t0 - coder, coder_s=coder)
        return x.astype(np.uint8)
