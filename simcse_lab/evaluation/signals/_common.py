"""What the signals share: each text's cosine silhouette in a view (NaN for noise), and NMI and
Cohen's kappa from one contingency table, cheap enough to read on every bootstrap resample."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# the silhouette score's sample size: silhouettes are read on a seeded sample above it
from ..scores.internal import MAX_POINTS


def per_text_silhouette(points: np.ndarray, labels: np.ndarray, kept: np.ndarray, seed: int) -> np.ndarray:
    """Each text's cosine silhouette in ``points`` by ``labels``; NaN for noise (not ``kept``), for
    texts outside the seeded sample, and for every text when fewer than two clusters remain."""
    from sklearn.metrics import silhouette_samples

    out = np.full(len(labels), np.nan)
    idx = np.flatnonzero(kept)
    if len(idx) > MAX_POINTS:
        idx = np.sort(np.random.default_rng(seed).choice(idx, MAX_POINTS, replace=False))
    found = len(np.unique(labels[idx]))
    if 2 <= found < len(idx):
        out[idx] = silhouette_samples(np.asarray(points[idx], dtype=np.float64), labels[idx], metric="cosine")
    return out


def mean_of(values: np.ndarray) -> Callable[[np.ndarray], float]:
    """``f(rows)``: the mean of ``values[rows]`` without the NaNs (NaN when none is left)."""

    def f(rows: np.ndarray) -> float:
        v = values[rows]
        v = v[np.isfinite(v)]
        return float(v.mean()) if v.size else float("nan")

    return f


def codes(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """``labels`` as codes 0..n-1, and n."""
    values, inverse = np.unique(np.asarray(labels), return_inverse=True)
    return inverse.ravel(), len(values)


def contingency(a: np.ndarray, ka: int, b: np.ndarray, kb: int) -> np.ndarray:
    """The ``ka x kb`` table of how often each pair of codes occurs (what a resample reads, without
    scikit-learn's checks on every call of a bootstrap)."""
    return np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.float64)


def nmi(table: np.ndarray) -> float:
    """Normalised mutual information of a contingency table, arithmetic normalisation, as
    ``sklearn.metrics.normalized_mutual_info_score``.

    >>> from sklearn.metrics import normalized_mutual_info_score
    >>> a, b = np.array([0, 0, 1, 1, 2, 2, 0]), np.array([1, 1, 0, 0, 0, 2, 2])
    >>> round(nmi(contingency(a, 3, b, 3)), 10) == round(normalized_mutual_info_score(a, b), 10)
    True
    """
    n = table.sum()
    if n == 0:
        return float("nan")
    p = table / n
    pa, pb = p.sum(1), p.sum(0)
    ha, hb = -np.sum(pa[pa > 0] * np.log(pa[pa > 0])), -np.sum(pb[pb > 0] * np.log(pb[pb > 0]))
    if ha == 0 and hb == 0:
        return 1.0
    nz = p > 0
    mi = float(np.sum(p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz])))
    denominator = (ha + hb) / 2
    return float(max(mi, 0.0) / denominator) if denominator > 0 else 0.0


def kappa(table: np.ndarray) -> float:
    """Cohen's kappa of a square confusion table (rows: truth, columns: prediction), as
    ``sklearn.metrics.cohen_kappa_score``.

    >>> from sklearn.metrics import cohen_kappa_score
    >>> y, p = np.array([0, 0, 1, 1, 2, 2, 0]), np.array([0, 1, 1, 1, 2, 0, 0])
    >>> round(kappa(contingency(y, 3, p, 3)), 10) == round(cohen_kappa_score(y, p), 10)
    True
    """
    n = table.sum()
    if n == 0:
        return float("nan")
    expected = np.outer(table.sum(1), table.sum(0)) / n
    observed_disagree = n - np.trace(table)
    expected_disagree = n - np.trace(expected)
    return float(1 - observed_disagree / expected_disagree) if expected_disagree > 0 else float("nan")
