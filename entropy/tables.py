"""Integer probability tables, built the same way on every machine.

A table is an integer frequency vector that sums to ``2**PRECISION``; every entry is at least 1,
and the last entry is the escape symbol (see :mod:`neurocodec.entropy.models`).

Determinism: the continuous CDFs below use only ``+ - * /``, ``floor`` and ``ldexp`` on float64,
which IEEE 754 rounds correctly on every platform, so the same inputs give bit-identical tables
everywhere. Library ``exp``/``erf`` are avoided on purpose: their last bit differs between
libm/SIMD implementations. The quantization from floats to integers is exact integer arithmetic.
The CDFs are accurate to about 1e-7 (absolute), far below the 2**-16 table resolution.
"""

from __future__ import annotations

import numpy as np

PRECISION = 24  # constriction's default coders use 24-bit probabilities
TOTAL = 1 << PRECISION

_LN2 = 0.6931471805599453
# Taylor coefficients 1/k! of exp on |r| <= ln2/2, Horner order (highest first).
_EXP_COEFFS = [1.0 / float(np.prod(np.arange(1, k + 1, dtype=np.float64))) for k in range(14, -1, -1)]


def exp(x: np.ndarray) -> np.ndarray:
    """exp(x) from basic float64 operations only (relative error < 1e-15 for |x| < 700)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.floor(x / _LN2 + 0.5)
    r = x - k * _LN2
    acc = np.full_like(r, _EXP_COEFFS[0])
    for c in _EXP_COEFFS[1:]:
        acc = acc * r + c
    return np.ldexp(acc, k.astype(np.int64))


# Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7 everywhere).
_ERFC_COEFFS = [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807,
                -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223]


def erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function from basic float64 operations (fractional error < 1.2e-7)."""
    x = np.asarray(x, dtype=np.float64)
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.full_like(t, _ERFC_COEFFS[0])
    for c in _ERFC_COEFFS[1:]:
        poly = poly * t + c
    ans = t * exp(-z * z + poly)
    return np.where(x >= 0, ans, 2.0 - ans)


def gaussian_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, deterministic (see module docstring)."""
    return 0.5 * erfc(-np.asarray(x, dtype=np.float64) * 0.7071067811865476)


def laplace_cdf(x: np.ndarray) -> np.ndarray:
    """CDF of the Laplace distribution with unit scale b=1, deterministic."""
    x = np.asarray(x, dtype=np.float64)
    half_tail = 0.5 * exp(-np.abs(x))
    return np.where(x < 0, half_tail, 1.0 - half_tail)


def quantize_pmf(pmf: np.ndarray, escape_mass: float = 0.0) -> np.ndarray:
    """Integer frequencies (int64, sum ``TOTAL``, all >= 1) for ``pmf`` plus one escape entry.

    ``escape_mass`` is the float probability to reserve for the escape symbol (e.g. the tail
    mass outside the table); it gets at least one count. Exact integer arithmetic after one
    float multiply per entry, so identical float inputs give identical tables.
    """
    pmf = np.append(np.asarray(pmf, dtype=np.float64), escape_mass)
    pmf = np.maximum(pmf, 0.0)
    n = pmf.size
    if n > TOTAL // 2:
        raise ValueError(f"table of {n} entries is too large for {PRECISION}-bit precision")
    scaled = np.floor(pmf * ((TOTAL - n) / pmf.sum())).astype(np.int64)
    freqs = scaled + 1
    freqs[np.argmax(freqs)] += TOTAL - int(freqs.sum())
    return freqs


def scale_table(min_scale: float = 0.11, ratio: float = 1.13, levels: int = 64) -> np.ndarray:
    """Geometric scale bins ``min_scale * ratio**i`` (float64) by repeated multiplication: exact."""
    scales = [min_scale]
    for _ in range(levels - 1):
        scales.append(scales[-1] * ratio)
    return np.array(scales, dtype=np.float64)


def scale_index(scales: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Index of the smallest table scale >= ``scale`` (clamped), as int32.

    Exact given identical float inputs: it is a comparison, not arithmetic. Networks that
    produce ``scales`` must themselves be reproducible (see the determinism rule).
    """
    idx = np.searchsorted(table, np.asarray(scales, dtype=np.float64), side="left")
    return np.minimum(idx, len(table) - 1).astype(np.int32)


# Standardized distance beyond which a two-sided tail holds < 1e-9 of the mass.
GAUSSIAN_TAIL_Z = 6.11
LAPLACE_TAIL_Z = 20.8


def _continuous_tables(cdf, scales: np.ndarray, tail_z: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Quantized zero-centred tables of ``cdf(x / scale)`` over +-ceil(scale * tail_z)."""
    tables, offsets = [], []
    for s in np.asarray(scales, dtype=np.float64):
        half = int(np.ceil(s * tail_z))
        edges = (np.arange(-half, half + 2, dtype=np.float64) - 0.5) / s
        c = cdf(edges)
        pmf = c[1:] - c[:-1]
        tables.append(quantize_pmf(pmf, escape_mass=2.0 * float(c[0])))
        offsets.append(-half)
    return tables, np.array(offsets, dtype=np.int64)


def gaussian_tables(scales: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Tables of zero-mean quantized Gaussians N(0, s^2) for each s, and their offsets."""
    return _continuous_tables(gaussian_cdf, scales, GAUSSIAN_TAIL_Z)


def laplace_tables(scales: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Tables of zero-mean quantized Laplace(0, b) for each scale b, and their offsets."""
    return _continuous_tables(laplace_cdf, scales, LAPLACE_TAIL_Z)
