"""The ``pc-lossless`` codec: exact lossless coding of 28x28 grayscale images with an HCLT circuit.

Quality selects the model: 1 = MNIST digits, 2 = Fashion-MNIST. One file holds one image as a
single ANS stream of its 784 pixels in the tree's pre-order, each coded under its exact
conditional from :mod:`.exact`. Images of another size or with colour are refused: the circuit
only defines a distribution over the 28x28 grayscale images it was trained on.

Speed: coding is many small exact matrix products; :meth:`PcLossless.encode_batch` and
:meth:`PcLossless.decode_batch` share that work across images (decoding is sequential per pixel,
batched across images). On a small or shared CPU, ``torch.set_num_threads(1)`` avoids threads
waiting on each other. Thread count and batch size never change the bytes.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import numpy as np

from neurocodec import weights
from neurocodec.codec import WeightsCodec
from neurocodec.entropy import TOTAL, Decoder, Encoder, PerSymbolCategorical, StreamCorrupt
from neurocodec.errors import NeurocodecError
from neurocodec.modality import ImageMeta
from neurocodec.registry import register

from .exact import ExactHCLT

CHUNK = 64  # images whose conditionals are built at once when encoding (bounds memory)


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

    @property
    def _fields(self) -> tuple[int, ...]:
        return ImageMeta(width=self.shape[1], height=self.shape[0], channels=1).to_fields()

    def _pixels(self, images: Any) -> np.ndarray:
        """[N, D] pixels of a stack of images, or a clear refusal."""
        x = np.asarray(images)
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != self.shape:
            got = f"{x.dtype} array of shape {x.shape[1:] if x.ndim >= 3 else x.shape}"
            raise NeurocodecError(f"{self.name} codes only {self.shape[1]}x{self.shape[0]} grayscale uint8 "
                                  f"images (what its circuit was trained on), got a {got}")
        return x.reshape(len(x), -1)

    # --- single images (the Codec interface) ---------------------------------------------
    def encode_payload(self, x: Any) -> tuple[tuple[int, ...], list[bytes]]:
        return self._fields, self._encode_streams(self._pixels(np.asarray(x)[None]))

    def decode_payload(self, meta: ImageMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> np.ndarray:
        return self._decode_streams([self._stream(meta, extra, streams)])[0]

    def _stream(self, meta: ImageMeta, extra: tuple[int, ...], streams: tuple[bytes, ...]) -> bytes:
        """The one stream of a parsed file, after checking it is a file this circuit codes."""
        if meta.to_fields() != self._fields or extra or len(streams) != 1:
            raise NeurocodecError(f"corrupt {self.name} file: unexpected image metadata or streams")
        return streams[0]

    # --- batches ---------------------------------------------------------------------------
    def encode_batch(self, images: Any, stats: dict | None = None) -> list[bytes]:
        """Complete ``.ncs`` files for a stack of images [N, H, W] (or [N, H, W, 1]).

        ``stats``, when given, receives ``circuit_s``, ``coder_s`` and ``ideal_bits`` (per image,
        -log2 p under the exact coded model).
        """
        streams = self._encode_streams(self._pixels(images), stats)
        return [self.pack(self._fields, [s]) for s in streams]

    def decode_batch(self, files: list[bytes], stats: dict | None = None) -> np.ndarray:
        """Images [N, H, W] uint8 of ``.ncs`` files written by this codec and weights."""
        return self._decode_streams([self._stream(*self.parse(data)) for data in files], stats)

    def _encode_streams(self, x: np.ndarray, stats: dict | None = None) -> list[bytes]:
        circuit = coder = 0.0
        streams, bits = [], []
        for i in range(0, len(x), CHUNK):
            t0 = time.perf_counter()
            freqs = self.model.conditionals(x[i:i + CHUNK])
            symbols = x[i:i + CHUNK][:, self._order]
            t1 = time.perf_counter()
            for f, s in zip(freqs, symbols):
                enc = Encoder()
                enc.encode(s, PerSymbolCategorical(f))
                streams.append(enc.finish())
            t2 = time.perf_counter()
            if stats is not None:
                picked = np.take_along_axis(freqs, symbols[..., None].astype(np.int64), -1)[..., 0]
                bits.extend((np.log2(TOTAL) * picked.shape[1] - np.log2(picked).sum(1)).tolist())
            circuit, coder = circuit + t1 - t0, coder + t2 - t1
        if stats is not None:
            stats.update(circuit_s=circuit, coder_s=coder, ideal_bits=np.array(bits))
        return streams

    def _decode_streams(self, streams: list[bytes], stats: dict | None = None) -> np.ndarray:
        coder = 0.0

        def next_symbols(freqs: np.ndarray) -> np.ndarray:
            nonlocal coder
            t0 = time.perf_counter()
            out = [dec.decode(row)[0] for dec, row in zip(decoders, PerSymbolCategorical(freqs).rows())]
            coder += time.perf_counter() - t0
            return np.array(out, dtype=np.int64)

        t0 = time.perf_counter()
        try:
            decoders = [Decoder(s) for s in streams]
            x = self.model.decode(len(streams), next_symbols)
        except StreamCorrupt as exc:
            raise NeurocodecError(f"corrupt {self.name} stream ({exc})") from None
        if stats is not None:
            stats.update(circuit_s=time.perf_counter() - t0 - coder, coder_s=coder)
        return x.astype(np.uint8).reshape(len(streams), *self.shape)
