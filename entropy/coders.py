"""Stream coders: the only place where symbols become bits and back (on constriction).

An :class:`Encoder` collects *segments* (symbols plus their model) in the order the decoder will
need them, then :meth:`Encoder.finish` writes one byte string. A :class:`Decoder` reads the
segments back in the same order. ``coder="ans"`` (default) is constriction's stack ANS coder:
segments are written in reverse so that the decoder still reads them first-in, first-out.
``coder="range"`` is constriction's range coder (a queue). Both cost about 0.002-0.03 % over the
information content plus a flush of at most a few bytes; trailing zero bytes are trimmed.

Decoding is exact when the decoder passes the same models and indexes as the encoder: tables are
integers (see :mod:`neurocodec.entropy.tables`), so no float reaches the coder unreproducibly.
"""

from __future__ import annotations

import constriction
import numpy as np

from .models import (ESCAPE_DIGIT_BITS, ESCAPE_MAX_DIGITS, PerSymbolCategorical, TableModel,
                     escape_digits)

_cm = constriction.stream.model
_SIDE = _cm.Uniform(2)
_NDIGITS = _cm.Uniform(ESCAPE_MAX_DIGITS)
_DIGIT = _cm.Uniform(1 << ESCAPE_DIGIT_BITS)
_ROW_MODEL = _cm.Categorical(perfect=False)
CODERS = ("ans", "range")


class StreamCorrupt(ValueError):
    """The byte string does not decode under the given models."""


def _check_coder(coder: str) -> str:
    if coder not in CODERS:
        raise ValueError(f"unknown coder {coder!r}; choose one of {', '.join(CODERS)}")
    return coder


def _groups(model: TableModel, indexes: np.ndarray | None, n: int) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Table indexes, an order grouping symbols by table (None: already grouped), boundaries."""
    if indexes is None and model.num_tables == 1:
        return None, np.array([0, n]), None
    if indexes is not None:
        indexes = np.asarray(indexes).reshape(-1)
        if indexes.dtype.kind in "iu" and indexes.size == n and (n < 2 or (indexes[1:] >= indexes[:-1]).all()):
            # Already grouped (e.g. channel-major latents): the range check is O(1), no sort.
            if n and (indexes[0] < 0 or indexes[-1] >= model.num_tables):
                raise ValueError("table index out of range")
            return None, np.searchsorted(indexes, np.arange(model.num_tables + 1)), indexes
    indexes = model.check_indexes(indexes, n)
    bounds = np.zeros(model.num_tables + 1, dtype=np.int64)
    np.cumsum(np.bincount(indexes, minlength=model.num_tables), out=bounds[1:])
    return np.argsort(indexes, kind="stable"), bounds, indexes


def _take(values: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    return values if order is None else values[order]


class Encoder:
    """Collects segments, then :meth:`finish` entropy-codes them into one byte string."""

    def __init__(self, coder: str = "ans"):
        self.coder = _check_coder(coder)
        self._ops: list[tuple] = []  # (int32 symbols, constriction model, per-symbol params or None)

    def encode(self, symbols: np.ndarray, model: TableModel | PerSymbolCategorical,
               indexes: np.ndarray | None = None) -> None:
        """Queue ``symbols`` (any integers) under ``model``; table ``indexes`` for a TableModel."""
        symbols = np.asarray(symbols).reshape(-1)
        if symbols.dtype.kind not in "iu":
            raise TypeError(f"symbols must be integers, got {symbols.dtype}")
        if isinstance(model, PerSymbolCategorical):
            if symbols.size != len(model):
                raise ValueError(f"got {symbols.size} symbols for {len(model)} rows")
            if symbols.size and (symbols.min() < 0 or symbols.max() >= model.frequencies.shape[1]):
                raise ValueError("symbol outside the per-symbol alphabet")
            self._ops.append((symbols.astype(np.int32), _ROW_MODEL, model.probabilities))
            return
        order, bounds, indexes = _groups(model, indexes, symbols.size)
        grouped = _take(symbols, order)
        tables = np.flatnonzero(np.diff(bounds))
        if tables.size == 0:
            return
        starts, counts = bounds[tables], np.diff(bounds)[tables]
        offsets, sizes = model.offsets[tables].astype(np.int32), model.sizes[tables]
        per_symbol = (lambda v: v[0]) if tables.size == 1 else (lambda v: np.repeat(v, counts))
        in_range = ((np.minimum.reduceat(grouped, starts) >= offsets).all()
                    and (np.maximum.reduceat(grouped, starts) < offsets + sizes).all())
        if in_range:  # the common case: one int32 subtraction, no escapes
            rel = np.subtract(grouped, per_symbol(offsets), dtype=np.int32)
            escaped_at = []
        else:  # rare: escape the out-of-range symbols
            rel = grouped.astype(np.int64) - per_symbol(offsets.astype(np.int64))
            size = per_symbol(sizes)
            outside = (rel < 0) | (rel >= size)
            escaped_at = [np.flatnonzero(outside)]
            rel = np.where(outside, size, rel).astype(np.int32)
        for t, lo, n in zip(tables, starts, counts):
            self._ops.append((rel[lo:lo + n], model.coder_models[t], None))
        if escaped_at:
            esc = np.concatenate(escaped_at)  # decode order
            table = np.zeros(esc.size, np.int64) if indexes is None else _take(indexes, order)[esc]
            above, distance = model.escape_distances(grouped[esc].astype(np.int64), table)
            self._queue_escapes(above, distance)

    def _queue_escapes(self, above: np.ndarray, distance: np.ndarray) -> None:
        ndig = escape_digits(distance)
        shifts = ESCAPE_DIGIT_BITS * np.arange(ESCAPE_MAX_DIGITS, dtype=np.int64)
        digits = (distance[:, None] >> shifts[None, :]) & ((1 << ESCAPE_DIGIT_BITS) - 1)
        used = np.arange(ESCAPE_MAX_DIGITS)[None, :] < ndig[:, None]
        self._ops.append((above.astype(np.int32), _SIDE, None))
        self._ops.append(((ndig - 1).astype(np.int32), _NDIGITS, None))
        self._ops.append((digits[used].astype(np.int32), _DIGIT, None))

    def finish(self) -> bytes:
        """The coded bytes of every queued segment; the encoder is then empty."""
        ops, self._ops = self._ops, []
        if self.coder == "ans":
            coder = constriction.stream.stack.AnsCoder()
            for symbols, model, params in reversed(ops):
                coder.encode_reverse(symbols, model, *(() if params is None else (params,)))
        else:
            coder = constriction.stream.queue.RangeEncoder()
            for symbols, model, params in ops:
                coder.encode(symbols, model, *(() if params is None else (params,)))
        return coder.get_compressed().astype("<u4").tobytes().rstrip(b"\0")


class Decoder:
    """Reads segments back in the order they were encoded."""

    def __init__(self, data: bytes, coder: str = "ans"):
        self.coder = _check_coder(coder)
        padded = bytes(data) + b"\0" * (-len(data) % 4)
        words = np.frombuffer(padded, dtype="<u4").astype(np.uint32)
        try:
            if self.coder == "ans":
                self._coder = constriction.stream.stack.AnsCoder(words)
            else:
                self._coder = constriction.stream.queue.RangeDecoder(words)
        except Exception as exc:  # constriction rejects some malformed streams up front
            raise StreamCorrupt(f"entropy-coded stream is malformed ({exc})") from None

    def _decode(self, model, count: int, params: np.ndarray | None = None) -> np.ndarray:
        try:
            if params is None:
                return self._coder.decode(model, int(count))
            return self._coder.decode(model, params).astype(np.int64)
        except Exception as exc:
            raise StreamCorrupt(f"entropy-coded stream is malformed ({exc})") from None

    def decode(self, model: TableModel | PerSymbolCategorical, indexes: np.ndarray | None = None,
               count: int | None = None) -> np.ndarray:
        """Next segment's symbols (int64); give ``indexes`` (or ``count`` for one table)."""
        if isinstance(model, PerSymbolCategorical):
            return self._decode(_ROW_MODEL, len(model), model.probabilities)
        if indexes is None and count is None:
            raise ValueError("give table indexes, or a symbol count for a single-table model")
        n = int(count) if indexes is None else int(np.asarray(indexes).size)
        order, bounds, indexes = _groups(model, indexes, n)
        values = np.empty(n, dtype=np.int64)
        escaped_at = []
        for t in np.flatnonzero(np.diff(bounds)):
            lo, hi = bounds[t], bounds[t + 1]
            rel = self._decode(model.coder_models[t], hi - lo)
            np.add(rel, model.offsets[t], out=values[lo:hi])
            if rel.max() == model.sizes[t]:
                escaped_at.append(lo + np.flatnonzero(rel == model.sizes[t]))
        if escaped_at:
            esc = np.concatenate(escaped_at)
            above = self._decode(_SIDE, esc.size)
            ndig = self._decode(_NDIGITS, esc.size) + 1
            digits = self._decode(_DIGIT, int(ndig.sum()))
            owner = np.repeat(np.arange(esc.size), ndig)
            place = np.arange(digits.size) - np.repeat(np.cumsum(ndig) - ndig, ndig)
            distance = np.zeros(esc.size, dtype=np.int64)
            np.add.at(distance, owner, digits << (ESCAPE_DIGIT_BITS * place))
            table = np.zeros(esc.size, np.int64) if indexes is None else _take(indexes, order)[esc]
            values[esc] = model.escape_values(above, distance, table)
        if order is None:
            return values
        out = np.empty(n, dtype=np.int64)
        out[order] = values
        return out
