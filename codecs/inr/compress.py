"""The compression pipeline both INR codecs share: global magnitude pruning, quantization
(per-tensor or per-channel, whichever errs less) and entropy coding of the integer symbols.

Exact: everything here after the float weights. A tensor becomes integer symbols
``q in [-Q, Q]`` (``Q = 2**(bits-1) - 1``, so pruned zeros stay exact zeros) times a step
``(1 + (k & 15) / 16) * 2**(k >> 4)`` named by an integer exponent ``k`` (per tensor, or per
output channel): dequantization is exact float arithmetic, identical on every machine.
Symbols are coded with ANS under one categorical table per group (network or embeddings) whose
integer frequencies travel in the stream as log-scale levels (:func:`count_levels`): a used/unused
flag per symbol, then each used symbol's level as its difference from the previous used one,
under fixed tables; so no probability depends on a float computed from network output.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from neurocodec.entropy import Decoder, Encoder, StreamCorrupt, TableModel, quantize_pmf

LEVELS = 128  # log-scale count levels
_MANTISSA = np.array([8, 10, 11, 13], dtype=np.int64)  # 8 * 2**(j/4), rounded
K_LOW = -640  # smallest exponent (steps below 2**-40 are never needed)
K_DELTA = 64  # per-channel exponents lie within 64 below the tensor's largest
_FLAG = TableModel.categorical(np.ones(2))
_USED = TableModel.categorical(np.array([1.0, 6.0]))  # is a symbol's count nonzero (usually yes)
_LEVEL_STEP = TableModel.categorical(0.5 ** np.abs(np.arange(-16, 17)), offset=-16)  # level deltas
_LEVEL_START = 32  # the first used level is coded relative to this (a count of about 2**8)
# Fixed tables (escapes beyond): tensor exponents as differences from the previous tensor's
# (the first from -160). Per-channel exponents are their distances below the tensor's largest:
# the tensor's widest distance ``w`` (uniform over 0..63), then each distance uniform over 0..w.
_KMAX = TableModel.categorical(0.8 ** np.abs(np.arange(-64, 65)), offset=-64)
_KWIDTH = TableModel.categorical(np.ones(K_DELTA))
_KDELTA = [TableModel.categorical(np.ones(w + 1)) for w in range(K_DELTA)]
_K_START = -160


def step_of(k: np.ndarray) -> np.ndarray:
    """Quantization step for integer exponents ``k`` (exact: a 5-bit mantissa times a power of two)."""
    k = np.asarray(k, dtype=np.int64)
    return np.ldexp(1.0 + (k & 15) / 16.0, (k >> 4).astype(np.int32))


def exponent_for(maxabs: np.ndarray, qmax: int) -> np.ndarray:
    """Smallest exponent whose step covers ``maxabs`` in ``qmax`` steps (no clipping)."""
    maxabs = np.asarray(maxabs, dtype=np.float64)
    k = np.floor(16 * np.log2(np.maximum(maxabs, 1e-30) / qmax)).astype(np.int64) - 2
    for _ in range(4):
        k = np.where(step_of(k) * qmax < maxabs, k + 1, k)
    return np.maximum(k, K_LOW)


@dataclass
class Quantized:
    """Integer symbols of one tensor, its step exponent(s) and the axis they run along (-1: per tensor)."""

    symbols: np.ndarray  # int64, the tensor's shape
    exps: np.ndarray  # int64: one exponent, or one per slice along ``axis``
    axis: int

    def dequantize(self) -> np.ndarray:
        step = step_of(self.exps)
        if self.axis >= 0:
            step = step.reshape([-1 if d == self.axis else 1 for d in range(self.symbols.ndim)])
        return (self.symbols * step).astype(np.float32)


def quantize(x: np.ndarray, bits: int, axis: int = 0) -> Quantized:
    """Per-tensor or per-channel (along ``axis``) quantization, whichever has less squared error."""
    x = np.asarray(x, dtype=np.float64)
    qmax = 2 ** (bits - 1) - 1

    def at(exps: np.ndarray, ax: int) -> Quantized:
        step = step_of(exps)
        if ax >= 0:
            step = step.reshape([-1 if d == ax else 1 for d in range(x.ndim)])
        return Quantized(np.clip(np.rint(x / step), -qmax, qmax).astype(np.int64), exps, ax)

    best = at(exponent_for(np.abs(x).max(initial=0.0), qmax).reshape(1), -1)
    if x.ndim >= 2 and x.shape[axis] > 1:
        maxabs = np.abs(np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)).max(axis=1)
        exps = np.maximum(exponent_for(maxabs, qmax), best.exps[0] - (K_DELTA - 1))
        channel = at(exps, axis)
        if ((channel.dequantize() - x) ** 2).sum() < ((best.dequantize() - x) ** 2).sum():
            best = channel
    return best


def global_prune_masks(weights: Iterable[torch.Tensor], ratio: float) -> list[torch.Tensor]:
    """Masks keeping the largest ``1 - ratio`` of all weights by magnitude (one global threshold)."""
    weights = list(weights)
    if ratio <= 0:
        return [torch.ones_like(w, dtype=torch.bool) for w in weights]
    flat = torch.cat([w.detach().abs().flatten() for w in weights])
    threshold = torch.kthvalue(flat.cpu(), max(1, int(ratio * flat.numel()))).values
    return [w.detach().abs() > threshold.to(w.device) for w in weights]


# --- frequency tables --------------------------------------------------------------------------
def level_counts(levels: np.ndarray) -> np.ndarray:
    """Integer counts of 7-bit levels: 0 -> 0, v -> about 2**((v - 1) / 4) (exact integer arithmetic)."""
    v = np.asarray(levels, dtype=np.int64) - 1
    return np.where(v < 0, 0, (_MANTISSA[v & 3] << (np.maximum(v, 0) >> 2)) >> 3)


def count_levels(counts: np.ndarray) -> np.ndarray:
    """The level whose :func:`level_counts` is nearest each count in log scale (0 for 0)."""
    grid = level_counts(np.arange(LEVELS))
    logs = np.log2(np.maximum(grid, 1).astype(np.float64))
    target = np.log2(np.maximum(counts, 1).astype(np.float64))
    levels = np.abs(target[:, None] - logs[None, 1:]).argmin(axis=1) + 1
    return np.where(np.asarray(counts) > 0, levels, 0)


def encode_levels(enc: Encoder, levels: np.ndarray) -> None:
    """Queue a table's levels: used flags, then the used levels as successive differences."""
    used = levels[levels > 0]
    enc.encode((levels > 0).astype(np.int64), _USED)
    enc.encode(np.diff(used, prepend=_LEVEL_START), _LEVEL_STEP)


def decode_levels(dec: Decoder, size: int) -> np.ndarray:
    """Inverse of :func:`encode_levels` for a table of ``size`` symbols."""
    used = dec.decode(_USED, count=size).astype(bool)
    levels = np.zeros(size, dtype=np.int64)
    levels[used] = np.cumsum(dec.decode(_LEVEL_STEP, count=int(used.sum()))) + _LEVEL_START
    if not used.any() or levels[used].min() < 1 or levels.max() >= LEVELS:
        raise StreamCorrupt("INR frequency table out of range")
    return levels


def table_model(levels: np.ndarray, qmax: int) -> TableModel:
    """The categorical over ``[-qmax, qmax]`` (plus escape) that both sides build from the levels."""
    return TableModel([quantize_pmf(level_counts(levels).astype(np.float64))], [-qmax])


# --- coding ------------------------------------------------------------------------------------
def encode_group(enc: Encoder, tensors: list[Quantized], bits: int) -> None:
    """Queue a group of quantized tensors: axis flags, exponents, table levels, then all symbols."""
    qmax = 2 ** (bits - 1) - 1
    encode_steps(enc, tensors)
    symbols = np.concatenate([q.symbols.reshape(-1) for q in tensors])
    levels = count_levels(np.bincount(symbols + qmax, minlength=2 * qmax + 1))
    encode_levels(enc, levels)
    enc.encode(symbols, table_model(levels, qmax))


def encode_steps(enc: Encoder, tensors: list[Quantized]) -> None:
    """Queue the side information: per-channel flags and step exponents."""
    enc.encode(np.array([q.axis >= 0 for q in tensors], dtype=np.int64), _FLAG)
    enc.encode(np.diff([q.exps.max() for q in tensors], prepend=_K_START), _KMAX)
    for q in tensors:
        if q.axis >= 0:
            deltas = q.exps.max() - q.exps
            enc.encode(deltas.max(keepdims=True), _KWIDTH)
            enc.encode(deltas, _KDELTA[deltas.max()])


def decode_group(dec: Decoder, shapes: list[tuple[int, ...]], axes: list[int], bits: int) -> list[Quantized]:
    """Inverse of :func:`encode_group` for tensors of known ``shapes`` (``axes``: their channel axis)."""
    qmax = 2 ** (bits - 1) - 1
    flags = dec.decode(_FLAG, count=len(shapes))
    kmax = np.cumsum(dec.decode(_KMAX, count=len(shapes))) + _K_START
    exps = {}
    for i in np.flatnonzero(flags):
        width = int(dec.decode(_KWIDTH, count=1)[0])
        if not 0 <= width < K_DELTA:
            raise StreamCorrupt("INR exponent range out of bounds")
        exps[i] = kmax[i] - dec.decode(_KDELTA[width], count=shapes[i][axes[i]])
    levels = decode_levels(dec, 2 * qmax + 1)
    counts = [int(np.prod(s)) for s in shapes]
    symbols = np.split(dec.decode(table_model(levels, qmax), count=sum(counts)), np.cumsum(counts)[:-1])
    return [Quantized(s.reshape(shape), exps.get(i, kmax[i:i + 1]), axes[i] if flags[i] else -1)
            for i, (s, shape) in enumerate(zip(symbols, shapes))]


# A Huffman-coded stream must also carry its code: the reference counts a canonical code's
# lengths at 4 bits per alphabet symbol (DEFLATE's code-length range, before its own coding).
HUFFMAN_LENGTH_BITS = 4


def huffman_reference_bytes(tensors: list[Quantized], bits: int) -> int:
    """Size of the same group with its symbols Huffman-coded instead: our side information
    (:func:`encode_steps`), the code's lengths (:data:`HUFFMAN_LENGTH_BITS` per symbol), the codes."""
    enc = Encoder()
    encode_steps(enc, tensors)
    qmax = 2 ** (bits - 1) - 1
    symbols = np.concatenate([q.symbols.reshape(-1) for q in tensors])
    code_bits = (2 * qmax + 1) * HUFFMAN_LENGTH_BITS + huffman_bits(np.bincount(symbols + qmax))
    return len(enc.finish()) + -(-code_bits // 8)


def huffman_bits(counts: np.ndarray) -> int:
    """Bits a Huffman code built for these symbol counts spends on them (its table not counted)."""
    counts = [int(c) for c in counts if c > 0]
    if len(counts) <= 1:
        return sum(counts)  # one symbol still costs a bit each
    heap = [(c, i, 0) for i, c in enumerate(counts)]  # (weight, tiebreak, bits spent inside)
    heapq.heapify(heap)
    tiebreak = len(counts)
    while len(heap) > 1:
        a, _, ba = heapq.heappop(heap)
        b, _, bb = heapq.heappop(heap)
        heapq.heappush(heap, (a + b, tiebreak, ba + bb + a + b))
        tiebreak += 1
    return heap[0][2]
