"""Bjontegaard deltas (BD-rate, BD-quality) through the maintained `bjontegaard` package.

Method: Akima interpolation (`METHOD`), which the package's authors recommend over the classic
cubic fit and over PCHIP (the JVET CTC sheet's choice) as more accurate and stable
(Herglotz et al., arXiv:2202.12565 and 2304.12852). The result is exact for the interpolated
curves; it depends on the interpolation only where the curves bend between measured points.

BD-rate: average rate difference in percent at equal quality over the overlapping quality
range (negative: the test codec needs fewer bits). BD-quality: average quality difference at
equal rate over the overlapping log-rate range. Points are cleaned first: NaN and infinite
values are dropped, points are sorted by rate, and a point whose quality is not above that of
every cheaper point is dropped (the interpolation needs a strictly monotone curve). Fewer than
two points left, or no overlap, gives NaN.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

METHOD = "akima"


def bd_rate(
    anchor_rate: Sequence[float],
    anchor_quality: Sequence[float],
    test_rate: Sequence[float],
    test_quality: Sequence[float],
    higher_is_better: bool = True,
) -> float:
    """BD-rate in percent of the test curve against the anchor curve."""
    return _delta("bd_rate", anchor_rate, anchor_quality, test_rate, test_quality, higher_is_better)


def bd_quality(
    anchor_rate: Sequence[float],
    anchor_quality: Sequence[float],
    test_rate: Sequence[float],
    test_quality: Sequence[float],
    higher_is_better: bool = True,
) -> float:
    """BD-quality (BD-PSNR for PSNR): test minus anchor at equal rate, in the quality's own unit."""
    delta = _delta("bd_psnr", anchor_rate, anchor_quality, test_rate, test_quality, higher_is_better)
    return delta if higher_is_better else -delta


def monotone_curve(
    rate: Sequence[float], quality: Sequence[float], higher_is_better: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The points of an RD curve that the interpolation can use, sorted by rate.

    Quality is negated for lower-is-better metrics, so the returned quality always increases.
    """
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64) * (1 if higher_is_better else -1)
    keep = np.isfinite(r) & np.isfinite(q) & (r > 0)
    r, q = r[keep], q[keep]
    order = np.lexsort((-q, r))  # by rate; at equal rate the best quality first
    rates, qualities = [], []
    for ri, qi in zip(r[order], q[order]):
        if (not qualities or qi > qualities[-1]) and (not rates or ri > rates[-1]):
            rates.append(ri)
            qualities.append(qi)
    return np.array(rates), np.array(qualities)


def _delta(kind: str, anchor_rate, anchor_quality, test_rate, test_quality, higher_is_better: bool) -> float:
    import bjontegaard

    ra, qa = monotone_curve(anchor_rate, anchor_quality, higher_is_better)
    rt, qt = monotone_curve(test_rate, test_quality, higher_is_better)
    if len(ra) < 2 or len(rt) < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "curves do not overlap" comes back as NaN
        value = getattr(bjontegaard, kind)(ra, qa, rt, qt, method=METHOD, require_matching_points=False, min_overlap=0)
    return float(value)
