"""What the silhouette signals share: each text's cosine silhouette in a view, NaN for noise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: silhouettes grow with the square of the texts: a seeded sample above this many (NaN for the rest)
MAX_POINTS = 5000


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
