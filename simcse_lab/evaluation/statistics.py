"""Confidence intervals of a mean over seeds or cases (a clustering's bootstrap intervals are
`simcse_lab.evaluation.scoring`'s)."""

from __future__ import annotations

import numpy as np

__all__ = ["mean_ci"]


def mean_ci(values, *, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (NaN half-width for one value).

    Examples
    --------
    >>> m, h = mean_ci([0.30, 0.32, 0.34])
    >>> round(m, 3), round(h, 3)
    (0.32, 0.05)
    """
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value")
    if v.size == 1:
        return float(v[0]), float("nan")
    half = t.ppf(0.5 + confidence / 2, df=v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean()), float(half)
