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

__all__ = ["bootstrap_clustering", "bootstrap_scores", "mean_ci"]


def bootstrap_scores(
    labels_true, labels_pred, *, n_resamples: int = 200, seed: int = 0, metrics: tuple[str, ...] = ("v_measure",)
) -> dict[str, dict[str, float]]:
    """Sampling uncertainty of clustering scores: resample (true, predicted) pairs with
    replacement and rescore. Returns mean, std and the 2.5/97.5 percentiles per metric; the
    metrics are registered scores (`SCORES`) that can be resampled.
    """
    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    if len(labels_true) != len(labels_pred) or len(labels_true) == 0:
        raise ValueError("labels_true and labels_pred must be non-empty and of equal length")
    return bootstrap_clustering(
        Clustering(labels_pred, labels_true), n_resamples=n_resamples, seed=seed, metrics=metrics
    )


def bootstrap_clustering(
    c: Clustering, *, n_resamples: int = 200, seed: int = 0, metrics: tuple[str, ...] = ("v_measure",)
) -> dict[str, dict[str, float]]:
    """`bootstrap_scores` for any `Clustering`: the clustering is held fixed and the scored texts
    are resampled with replacement. A score with a ``per_point`` function (silhouette) is
    computed once per point and its mean resampled; the others are recomputed on each resample.
    Scores that do not apply to ``c`` (no labels, say) are left out."""
    from .scoring import applicable

    allowed = [e.name for e in SCORES if e.meta.get("resample", True)]
    unknown = [m for m in metrics if m not in allowed]
    if unknown:
        raise ValueError(f"cannot bootstrap {unknown}; allowed: {sorted(allowed)}")
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be >= 2, got {n_resamples}")
    metrics = tuple(m for m in metrics if applicable(SCORES[m], c))
    rng = np.random.default_rng(seed)
    n = len(c.labels_pred)
    per_point = {m: SCORES[m].meta["per_point"](c) for m in metrics if "per_point" in SCORES[m].meta}
    fns = {m: SCORES[m].obj for m in metrics if m not in per_point}
    values: dict[str, list[float]] = {m: [] for m in metrics}
    for _ in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        if fns:
            resample = c.take(idx)
            for m, fn in fns.items():
                values[m].append(float(fn(resample)))
        for m, v in per_point.items():
            values[m].append(float(v[rng.integers(0, len(v), size=len(v))].mean()) if len(v) else float("nan"))
    out = {}
    for m, v in values.items():
        arr = np.asarray(v)
        if np.isnan(arr).all():
            out[m] = dict.fromkeys(("mean", "std", "lo", "hi"), float("nan"))
            continue
        arr = arr[~np.isnan(arr)]
        out[m] = {
            "mean": float(arr.mean()),
            "std": float(arr.std(ddof=1)) if arr.size > 1 else float("nan"),
            "lo": float(np.percentile(arr, 2.5)),
            "hi": float(np.percentile(arr, 97.5)),
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
