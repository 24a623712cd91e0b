"""Uncertainty: bootstrap intervals of a clustering's scores, and confidence intervals of means.

Examples
--------
>>> y = np.repeat([0, 1], 50)
>>> b = bootstrap_scores(y, y, n_resamples=20)
>>> b["v_measure"]["std"], b["v_measure"]["mean"]
(0.0, 1.0)
"""

from __future__ import annotations

import numpy as np

from ..core.registry import SCORES
from .scoring import Clustering

__all__ = ["bootstrap_scores", "mean_ci"]


def bootstrap_scores(
    labels_true, labels_pred, *, n_resamples: int = 200, seed: int = 0, metrics: tuple[str, ...] = ("v_measure",)
) -> dict[str, dict[str, float]]:
    """Sampling uncertainty of clustering scores: resample (true, predicted) pairs with
    replacement and rescore. Returns mean, std and the 2.5/97.5 percentiles per metric; the
    metrics are registered scores (`SCORES`) that can be resampled.
    """
    allowed = [e.name for e in SCORES if e.meta.get("resample", True)]
    unknown = [m for m in metrics if m not in allowed]
    if unknown:
        raise ValueError(f"cannot bootstrap {unknown}; allowed: {sorted(allowed)}")
    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be >= 2, got {n_resamples}")
    if len(labels_true) != len(labels_pred) or len(labels_true) == 0:
        raise ValueError("labels_true and labels_pred must be non-empty and of equal length")
    rng = np.random.default_rng(seed)
    n = len(labels_true)
    fns = {m: SCORES[m].obj for m in metrics}
    values: dict[str, list[float]] = {m: [] for m in metrics}
    for _ in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        resample = Clustering(labels_pred[idx], labels_true[idx])
        for m in metrics:
            values[m].append(float(fns[m](resample)))
    out = {}
    for m, v in values.items():
        arr = np.asarray(v)
        out[m] = {
            "mean": float(arr.mean()), "std": float(arr.std(ddof=1)),
            "lo": float(np.percentile(arr, 2.5)), "hi": float(np.percentile(arr, 97.5)),
        }
    return out


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
