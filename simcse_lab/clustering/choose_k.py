"""Choosing k without labels: cluster with KMeans at every k of a range, score each clustering
with a registered label-free score, keep the best.

The criterion is any registered score that needs no labels and reads the clustered space
(`simcse_lab.evaluation.scores.internal`: ``silhouette``, ``davies_bouldin``,
``calinski_harabasz``); its direction comes from the registry (``higher_is_better``). The whole
curve is kept, so a run can draw it and say in its manifest what was chosen and why.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> centres = np.eye(4) * 3
>>> x = np.concatenate([rng.normal(0, .2, (25, 4)) + c for c in centres])
>>> choice = choose_k(x, k_min=2, k_max=7, seed=0)
>>> choice.k, sorted(choice.curve)[:2]
(4, [2, 3])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["KChoice", "choose_k"]


@dataclass(frozen=True)
class KChoice:
    """The chosen k, the criterion and its value at every k tried."""

    k: int
    criterion: str
    curve: dict[int, float] = field(default_factory=dict)
    higher_is_better: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the run manifest."""
        return {"k": self.k, "criterion": self.criterion, "higher_is_better": self.higher_is_better,
                "at_largest_k": self.k == max(self.curve, default=self.k) and len(self.curve) > 1,
                "curve": {str(k): round(v, 6) for k, v in self.curve.items()}}


def choose_k(x: np.ndarray, *, k_min: int = 2, k_max: int = 15, criterion: str = "silhouette", seed: int = 42,
             n_init: int = 3, max_points: int = 5000) -> KChoice:
    """KMeans at each k in ``k_min..k_max`` on ``x`` (a seeded sample of ``max_points`` rows
    when larger), scored by ``criterion``; the best k, ties to the smaller."""
    from ..core.registry import SCORES
    from ..evaluation.scoring import Clustering
    from .clusterers.kmeans import KMeansClusterer

    if criterion not in SCORES or SCORES[criterion].meta.get("needs_labels", True) \
            or not SCORES[criterion].meta.get("needs_space", False):
        allowed = [e.name for e in SCORES if not e.meta.get("needs_labels", True) and e.meta.get("needs_space")
                   and not e.meta.get("density_only")]
        raise ValueError(f"cluster.k_criterion must be a label-free score of the space ({', '.join(allowed)}), "
                         f"got {criterion!r}")
    x = np.asarray(x)
    if len(x) > max_points:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))]
    k_max = min(k_max, len(x) - 1)
    if k_max < k_min:
        raise ValueError(f"cannot choose k in {k_min}..{k_max}: only {len(x)} texts")
    fn, higher = SCORES[criterion].obj, SCORES[criterion].meta.get("higher_is_better", True)
    curve = {}
    for k in range(k_min, k_max + 1):
        labels = KMeansClusterer(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x)
        curve[k] = float(fn(Clustering(labels, None, None, x, seed=seed)))
    finite = {k: v for k, v in curve.items() if np.isfinite(v)}
    if not finite:
        raise ValueError(f"{criterion} is undefined for every k in {k_min}..{k_max}")
    best = max(finite, key=lambda k: (finite[k] if higher else -finite[k], -k))
    if best == k_max and k_max > k_min:
        logger.warning("%s is best at the largest k tried (%d): the data may hold more clusters; raise "
                       "cluster.k_max to look further", criterion, k_max)
    return KChoice(best, criterion, curve, higher)
