"""Spatial context model for ``walloc-rgb``'s latent symbols (the file's coding mode 2).

The factorized prior codes every symbol alone; neighbouring latents are strongly correlated (the
low-pass channels are a small image). Here each channel's ``h x w`` symbols are split like a
checkerboard. *Anchors* ((i + j) even) are coded row by row, each predicted from the two anchors
diagonally above it; the other symbols come after all anchors, predicted from their four anchor
neighbours. Each residual (symbol - prediction) is coded under a zero-mean Laplace table whose
scale is looked up per (quality, anchor or not, channel, activity bin) in a small integer table
fitted on training images (:func:`fit_scale_indexes`); the activity is how much the neighbours
disagree. Borders mirror the plane (which keeps the checkerboard's parity).

Exact: predictions, activities and table choices are integer arithmetic on decoded symbols, and
the tables are our core's deterministic Laplace tables, so decoding is identical everywhere.
Needs ``h, w >= 2``.
"""

from __future__ import annotations

import numpy as np

from neurocodec.entropy import Decoder, Encoder, StreamCorrupt, TableModel

ANCHOR, OTHER = 0, 1
BINS = 12
# Activity a falls in bin k when THRESHOLDS[k-1] <= a < THRESHOLDS[k]: about 2*log2(1 + a).
THRESHOLDS = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48], dtype=np.int64)
FIRST_ROW_BIN = BINS - 1  # the first anchor row has no neighbours: treated as most uncertain
LAPLACE = TableModel.laplace()


def _bin(activity: np.ndarray) -> np.ndarray:
    return np.searchsorted(THRESHOLDS, activity, side="right")


def anchor_columns(i: int, w: int) -> np.ndarray:
    return np.arange(i % 2, w, 2)


def anchor_context(plane: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and activity bins (C, n) for row ``i``'s anchors, from rows above only.
    ``plane`` is (C, h, w) int64; only its anchors in rows ``< i`` are read."""
    cols = anchor_columns(i, plane.shape[2])
    if i == 0:
        shape = (plane.shape[0], cols.size)
        return np.zeros(shape, dtype=np.int64), np.full(shape, FIRST_ROW_BIN, dtype=np.int64)
    above = np.pad(plane[:, i - 1], ((0, 0), (1, 1)), mode="reflect")
    left, right = above[:, cols], above[:, cols + 2]  # (i-1, j-1) and (i-1, j+1)
    if i >= 2:
        up = plane[:, i - 2, cols]
        activity = np.abs(left - right) + np.abs(2 * up - left - right)
    else:
        activity = 2 * np.abs(left - right)
    return (left + right + 1) >> 1, _bin(activity)


def other_context(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mask of the non-anchors, their predictions and activity bins (flattened in mask order),
    from the four anchor neighbours of each."""
    c, h, w = plane.shape
    padded = np.pad(plane, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    n = np.stack([padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]])
    total = n.sum(0)
    activity = np.abs(4 * n - total[None]).sum(0) >> 2
    mask = np.broadcast_to((np.add.outer(np.arange(h), np.arange(w)) % 2 == 1)[None], plane.shape)
    return mask, ((total + 2) >> 2)[mask], _bin(activity)[mask]


def encode(symbols: np.ndarray, scale_indexes: np.ndarray, encoder: Encoder) -> None:
    """Queue (C, h, w) integer symbols; ``scale_indexes``: (2, C, BINS) for this quality."""
    symbols = np.asarray(symbols, dtype=np.int64)
    c, h, _ = symbols.shape
    for i in range(h):
        pred, bins = anchor_context(symbols, i)
        row = symbols[:, i, anchor_columns(i, symbols.shape[2])]
        encoder.encode((row - pred).reshape(-1), LAPLACE, scale_indexes[ANCHOR][np.arange(c)[:, None], bins].reshape(-1))
    mask, pred, bins = other_context(symbols)
    chan = np.broadcast_to(np.arange(c)[:, None, None], symbols.shape)[mask]
    encoder.encode(symbols[mask] - pred, LAPLACE, scale_indexes[OTHER][chan, bins])


def decode(decoder: Decoder, scale_indexes: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Inverse of :func:`encode`: (C, h, w) int64 symbols."""
    c, h, w = shape
    if h < 2 or w < 2:
        raise StreamCorrupt("context-coded latents need at least 2x2 per channel")
    plane = np.zeros(shape, dtype=np.int64)
    for i in range(h):
        pred, bins = anchor_context(plane, i)
        idx = scale_indexes[ANCHOR][np.arange(c)[:, None], bins].reshape(-1)
        plane[:, i, anchor_columns(i, w)] = decoder.decode(LAPLACE, idx).reshape(pred.shape) + pred
    mask, pred, bins = other_context(plane)
    chan = np.broadcast_to(np.arange(c)[:, None, None], shape)[mask]
    plane[mask] = decoder.decode(LAPLACE, scale_indexes[OTHER][chan, bins]) + pred
    return plane


def residual_histograms(symbols: np.ndarray, span: int = 512) -> np.ndarray:
    """Counts (2, C, BINS, 2*span+1) of residuals in [-span, span] (clipped) of one (C, h, w) plane."""
    symbols = np.asarray(symbols, dtype=np.int64)
    c, h, _ = symbols.shape
    hist = np.zeros((2, c, BINS, 2 * span + 1), dtype=np.int64)
    for i in range(h):
        pred, bins = anchor_context(symbols, i)
        res = symbols[:, i, anchor_columns(i, symbols.shape[2])] - pred
        np.add.at(hist[ANCHOR], (np.arange(c)[:, None], bins, np.clip(res, -span, span) + span), 1)
    mask, pred, bins = other_context(symbols)
    chan = np.broadcast_to(np.arange(c)[:, None, None], symbols.shape)[mask]
    np.add.at(hist[OTHER], (chan, bins, np.clip(symbols[mask] - pred, -span, span) + span), 1)
    return hist


def table_bits(span: int = 512) -> np.ndarray:
    """Bits (num_tables, 2*span+1) each Laplace table spends on each residual in [-span, span]."""
    values = np.arange(-span, span + 1)
    out = np.empty((LAPLACE.num_tables, values.size))
    for t in range(LAPLACE.num_tables):
        for k, v in enumerate(values):
            out[t, k] = LAPLACE.information(np.array([v]), np.array([t]))
    return out


def fit_scale_indexes(hist: np.ndarray, bits: np.ndarray | None = None) -> np.ndarray:
    """The cheapest Laplace table per context, uint8 of ``hist``'s leading shape; contexts never
    seen get the table of the nearest lower bin seen (or the widest)."""
    span = (hist.shape[-1] - 1) // 2
    bits = table_bits(span) if bits is None else bits
    cost = hist.reshape(-1, hist.shape[-1]) @ bits.T
    choice = cost.argmin(1).reshape(hist.shape[:-1])
    seen = hist.sum(-1) > 0
    for index in np.ndindex(*hist.shape[:-2]):
        last = LAPLACE.num_tables - 1
        for b in range(hist.shape[-2]):
            if seen[index][b]:
                last = choice[index][b]
            else:
                choice[index][b] = last
    return choice.astype(np.uint8)
