"""Probability models for the coders: integer tables that every machine rebuilds identically.

Two kinds cover every codec:

- :class:`TableModel`: a bank of integer frequency tables; each symbol names its table by an
  integer index. One table is a fixed categorical; one table per channel is a learned
  factorized prior (entropy bottleneck); one table per scale bin is a quantized Gaussian or
  Laplace (hyperpriors). The last entry of every table is an *escape*: a symbol outside the
  table is coded as the escape followed by its exact value in a bypass code, never clipped.
- :class:`PerSymbolCategorical`: each symbol has its own frequency row (e.g. a probabilistic
  circuit's conditional for one pixel), computed by the caller in exact integer arithmetic.

Frequencies are int64 and sum to ``2**PRECISION`` per table/row, every entry >= 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import constriction
import numpy as np

from . import tables as _tables
from .tables import PRECISION, TOTAL

_cm = constriction.stream.model

# Bypass code for escaped values: side bit, digit count, base-4096 digits (up to 72 bits).
ESCAPE_DIGIT_BITS = 12
ESCAPE_MAX_DIGITS = 6


def _check_frequencies(freqs: np.ndarray, what: str) -> np.ndarray:
    freqs = np.asarray(freqs)
    if freqs.dtype.kind not in "iu":
        raise TypeError(f"{what}: frequencies must be integers, got {freqs.dtype}")
    freqs = freqs.astype(np.int64)
    if freqs.shape[-1] < 1 or (freqs < 1).any() or (freqs.sum(axis=-1) != TOTAL).any():
        raise ValueError(f"{what}: frequencies must be >= 1 and sum to 2**{PRECISION}")
    return freqs


class TableModel:
    """A bank of integer tables with escape; symbol ``v`` under table ``t`` is ``v - offsets[t]``."""

    def __init__(self, tables: Sequence[np.ndarray], offsets: Sequence[int]):
        if len(tables) == 0 or len(tables) != len(offsets):
            raise ValueError("need one offset per table and at least one table")
        self.tables = [_check_frequencies(t, f"table {i}") for i, t in enumerate(tables)]
        if any(t.size < 2 for t in self.tables):
            raise ValueError("every table needs at least one symbol and the escape entry")
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.sizes = np.array([t.size - 1 for t in self.tables], dtype=np.int64)  # without escape

    @classmethod
    def categorical(cls, probabilities: np.ndarray, offset: int = 0) -> TableModel:
        """One table from float probabilities over ``offset, offset+1, ...`` (plus escape)."""
        return cls([_tables.quantize_pmf(probabilities)], [offset])

    @classmethod
    def gaussian(cls, scales: np.ndarray | None = None) -> TableModel:
        """Zero-mean quantized Gaussians, one table per scale bin (default :func:`scale_table`)."""
        return cls(*_tables.gaussian_tables(_tables.scale_table() if scales is None else scales))

    @classmethod
    def laplace(cls, scales: np.ndarray | None = None) -> TableModel:
        """Zero-mean quantized Laplace distributions, one table per scale bin."""
        return cls(*_tables.laplace_tables(_tables.scale_table() if scales is None else scales))

    @property
    def num_tables(self) -> int:
        return len(self.tables)

    @cached_property
    def coder_models(self) -> list:
        """constriction models, one per table; exact: frequencies / 2**24 are exact floats."""
        return [_cm.Categorical(t / TOTAL, perfect=False) for t in self.tables]

    def check_indexes(self, indexes: np.ndarray | None, count: int) -> np.ndarray:
        """Table index per symbol as uint8/int32 (all zeros for a single table)."""
        if indexes is None:
            if self.num_tables != 1:
                raise ValueError("this model has several tables: pass one index per symbol")
            return np.zeros(count, dtype=np.uint8)
        indexes = np.asarray(indexes).reshape(-1)
        if indexes.size != count:
            raise ValueError(f"got {indexes.size} indexes for {count} symbols")
        if indexes.size and (indexes.min() < 0 or indexes.max() >= self.num_tables):
            raise ValueError("table index out of range")
        # Small unsigned types make numpy's stable argsort a radix sort.
        return indexes.astype(np.uint8 if self.num_tables <= 256 else np.int32)

    def information(self, symbols: np.ndarray, indexes: np.ndarray | None = None) -> float:
        """Ideal code length in bits, -sum log2 p, escapes counted with their bypass bits."""
        symbols = np.asarray(symbols, dtype=np.int64).reshape(-1)
        indexes = self.check_indexes(indexes, symbols.size)
        rel, escaped = self.relative(symbols, indexes)
        probs = np.empty(symbols.size, dtype=np.float64)
        for t in np.unique(indexes):
            sel = indexes == t
            probs[sel] = self.tables[t][rel[sel]] / TOTAL
        return float(-np.log2(probs).sum()) + escape_bits(self.escape_distances(symbols[escaped], indexes[escaped]))

    def relative(self, symbols: np.ndarray, indexes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Table positions of ``symbols`` (escape position where out of range), escape mask."""
        rel = symbols - self.offsets[indexes]
        size = self.sizes[indexes]
        escaped = (rel < 0) | (rel >= size)
        return np.where(escaped, size, rel), escaped

    def escape_distances(self, values: np.ndarray, indexes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Side (1 = above the table) and distance beyond the table's edge of escaped values."""
        lo = self.offsets[indexes]
        hi = lo + self.sizes[indexes] - 1
        above = values > hi
        return above.astype(np.int32), np.where(above, values - hi - 1, lo - 1 - values)

    def escape_values(self, above: np.ndarray, distance: np.ndarray, indexes: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`escape_distances`."""
        lo = self.offsets[indexes]
        hi = lo + self.sizes[indexes] - 1
        return np.where(above == 1, hi + 1 + distance, lo - 1 - distance)


def escape_digits(distance: np.ndarray) -> np.ndarray:
    """Number of base-4096 digits (>= 1) for each non-negative distance."""
    digits = np.ones(distance.size, dtype=np.int32)
    rest = distance >> ESCAPE_DIGIT_BITS
    while rest.any():
        digits += rest > 0
        rest >>= ESCAPE_DIGIT_BITS
    return digits


def escape_bits(side_and_distance: tuple[np.ndarray, np.ndarray]) -> float:
    """Bits the bypass code spends on escaped values (exact)."""
    _, distance = side_and_distance
    if distance.size == 0:
        return 0.0
    return float(distance.size * (1 + np.log2(ESCAPE_MAX_DIGITS)) + ESCAPE_DIGIT_BITS * escape_digits(distance).sum())


class PerSymbolCategorical:
    """One integer frequency row per symbol over ``0..K-1``; no escape (rows cover the alphabet)."""

    def __init__(self, frequencies: np.ndarray):
        freqs = _check_frequencies(frequencies, "per-symbol rows")
        if freqs.ndim != 2:
            raise ValueError("per-symbol frequencies must be a 2-D array (symbols, alphabet)")
        self.frequencies = freqs
        self.probabilities = freqs / TOTAL  # exact: integers below 2**24 over a power of two

    def __len__(self) -> int:
        return self.frequencies.shape[0]

    def blocks(self, sizes: Sequence[int]) -> list[PerSymbolCategorical]:
        """Models of consecutive blocks of ``sizes`` rows, as views (no copies, no re-checks): for
        decoding many streams in lockstep, a few symbols each, without re-checking every row."""
        out, start = [], 0
        for size in sizes:
            block = object.__new__(PerSymbolCategorical)
            block.frequencies = self.frequencies[start:start + size]
            block.probabilities = self.probabilities[start:start + size]
            out.append(block)
            start += size
        if start != len(self):
            raise ValueError(f"blocks of {start} rows for a model of {len(self)}")
        return out

    def information(self, symbols: np.ndarray) -> float:
        """Ideal code length in bits, -sum log2 p."""
        symbols = np.asarray(symbols, dtype=np.int64).reshape(-1)
        return float(-np.log2(self.probabilities[np.arange(symbols.size), symbols]).sum())
