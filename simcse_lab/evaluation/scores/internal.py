"""Label-free scores: how well separated the clusters are in the space that was clustered.

None of these looks at labels, so they are what a user with unlabelled texts has; the comparison
puts them beside the labelled scores, and lesson 8 checks how well they track V-measure.

- ``silhouette``: mean silhouette with the cosine distance (-1..1, higher is better); noise
  points are left out. On more than ``MAX_POINTS`` points it is computed on a seeded sample.
- ``davies_bouldin``: average similarity of each cluster to its most similar one (>= 0, lower
  is better); scikit-learn's, Euclidean.
- ``calinski_harabasz``: between- over within-cluster dispersion (higher is better); Euclidean.
- ``dbcv``: density-based clustering validation (Moulavi et al. 2014; -1..1, higher is better),
  ``hdbscan.validity.validity_index``, for density clusterings only (their noise counts against
  them, as DBCV defines).

All are NaN for fewer than two clusters, where none is defined.

Examples
--------
>>> from simcse_lab.evaluation.scoring import Clustering
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, .1, (20, 3)) + [1, 0, 0], rng.normal(0, .1, (20, 3)) + [0, 1, 0]]
>>> good, bad = Clustering(np.repeat([0, 1], 20), x=x), Clustering(np.tile([0, 1], 20), x=x)
>>> silhouette(good) > 0.8 > 0.0 > silhouette(bad)
True
>>> davies_bouldin(good) < davies_bouldin(bad)
True
"""

from __future__ import annotations

import numpy as np

from ...core.registry import SCORES

__all__ = ["MAX_POINTS", "calinski_harabasz", "davies_bouldin", "dbcv", "silhouette", "silhouette_points"]

MAX_POINTS = 5000  # silhouette and DBCV grow with the square of the points: a seeded sample above this


def _clustered(c, max_points: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The points and labels without noise (a seeded sample above ``max_points``); None when
    fewer than two clusters remain."""
    keep = np.ones(len(c.labels_pred), bool) if c.noise_label is None else c.labels_pred != c.noise_label
    idx = np.flatnonzero(keep)
    if max_points is not None and len(idx) > max_points:
        idx = np.sort(np.random.default_rng(c.seed).choice(idx, max_points, replace=False))
    labels = c.labels_pred[idx]
    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(idx):
        return None
    return np.asarray(c.x[idx], dtype=np.float64), labels


def silhouette_points(c) -> np.ndarray:
    """Each (non-noise, possibly sampled) point's cosine silhouette; empty below two clusters.
    Computed once per clustering (kept in ``c.memo``)."""
    if "silhouette_points" not in c.memo:
        from sklearn.metrics import silhouette_samples

        got = _clustered(c, MAX_POINTS)
        c.memo["silhouette_points"] = (
            np.empty(0) if got is None else silhouette_samples(got[0], got[1], metric="cosine")
        )
    return c.memo["silhouette_points"]


@SCORES.register(
    "silhouette",
    "mean cosine silhouette in the clustered space (-1..1, higher is better; no labels)",
    order=80,
    needs_labels=False,
    needs_space=True,
    per_point=silhouette_points,
    spread=True,
)
def silhouette(c) -> float:
    values = silhouette_points(c)
    return float(values.mean()) if values.size else float("nan")


@SCORES.register(
    "davies_bouldin",
    "Davies-Bouldin index in the clustered space (>= 0, lower is better; no labels)",
    order=81,
    needs_labels=False,
    needs_space=True,
    higher_is_better=False,
)
def davies_bouldin(c) -> float:
    from sklearn.metrics import davies_bouldin_score

    got = _clustered(c)
    return float("nan") if got is None else float(davies_bouldin_score(*got))


@SCORES.register(
    "calinski_harabasz",
    "Calinski-Harabasz index in the clustered space (higher is better; no labels)",
    order=82,
    needs_labels=False,
    needs_space=True,
)
def calinski_harabasz(c) -> float:
    from sklearn.metrics import calinski_harabasz_score

    got = _clustered(c)
    return float("nan") if got is None else float(calinski_harabasz_score(*got))


@SCORES.register(
    "dbcv",
    "density-based clustering validation, hdbscan.validity (-1..1, higher is better; density"
    " clusterings only; no labels)",
    order=83,
    needs_labels=False,
    needs_space=True,
    density_only=True,
    resample=False,
)
def dbcv(c) -> float:
    from hdbscan.validity import validity_index

    labels = c.labels_pred
    idx = np.arange(len(labels))
    if len(idx) > MAX_POINTS:
        idx = np.sort(np.random.default_rng(c.seed).choice(idx, MAX_POINTS, replace=False))
    found = set(np.unique(labels[idx]).tolist()) - {c.noise_label}
    if len(found) < 2:
        return float("nan")
    lab = labels[idx].copy()
    if c.noise_label is not None and c.noise_label != -1:
        lab[lab == c.noise_label] = -1
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(validity_index(np.asarray(c.x[idx], dtype=np.float64), lab))
