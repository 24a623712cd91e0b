"""Scoring a clustering with every registered score, and the table columns the scores make.

A score is one function registered with ``@SCORES.register(name, help, ...)``
(`simcse_lab.core.registry.SCORES`) in a module of `simcse_lab.evaluation.scores`; it
takes a `Clustering` and returns a float. Its metadata says how the comparison uses it:

- ``needs_labels`` (default True): computed only against labels (NaN without them);
- ``needs_space`` (default False): needs the points that were clustered (``Clustering.x``);
- ``density_only`` (default False): only for density clusterings, whose noise is meaningful (DBCV);
- ``needs_refit`` (default False): needs ``Clustering.refit`` to cluster resamples again (stability);
- ``per_point`` (optional): a function returning one value per point whose mean is the score,
  so the bootstrap resamples those values instead of recomputing (silhouette);
- ``higher_is_better`` (default True): the direction the label-free verdict reads it in;
- ``resample`` (default True): can be bootstrapped over the scored texts;
- ``spread`` (default False): the comparison bootstraps it and adds ``<name>_std``, ``<name>_lo``
  and ``<name>_hi`` columns.

A score that cannot be computed for a clustering (no labels, no space, fewer than two clusters)
is NaN in the table, never a made-up number.

The comparison table's score columns, the bootstrap and the spread columns all come from here.

Examples
--------
>>> y = np.array([0, 0, 1, 1, 2, 2])
>>> s = score_clustering(y, (y + 1) % 3)
>>> round(s["v_measure"], 6), round(s["ari"], 6)
(1.0, 1.0)
>>> metric_columns()[:3]
['v_measure', 'homogeneity', 'completeness']
>>> spread_columns()[:3]
['v_measure_std', 'v_measure_lo', 'v_measure_hi']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.registry import SCORES

__all__ = [
    "Clustering",
    "applicable",
    "k_criterion",
    "label_free_scores",
    "metric_columns",
    "score",
    "score_clustering",
    "spread_columns",
    "spread_scores",
]


@dataclass(frozen=True)
class Clustering:
    """What a score sees: predicted labels, the true ones when there are any, the label that
    marks noise (HDBSCAN's -1; None: no noise), the points that were clustered (``x``: the space
    the clusterer saw), whether the clusterer is density-based, and ``refit(rows, seed)``, which
    clusters ``x[rows]`` again with another seed and returns the labels of those rows. ``memo``
    keeps what a score computed once for this clustering (the per-text silhouettes), so the score,
    its bootstrap and the verdict on training share one computation."""

    labels_pred: np.ndarray
    labels_true: np.ndarray | None = None
    noise_label: int | None = -1
    x: np.ndarray | None = None
    density: bool = False
    refit: Callable[[np.ndarray, int], np.ndarray] | None = field(default=None, compare=False)
    seed: int = 0
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def take(self, idx: np.ndarray) -> Clustering:
        """The clustering restricted to rows ``idx`` (a bootstrap resample); no refit."""
        return Clustering(
            self.labels_pred[idx],
            None if self.labels_true is None else self.labels_true[idx],
            self.noise_label,
            None if self.x is None else self.x[idx],
            self.density,
            None,
            self.seed,
        )


def applicable(entry: Any, c: Clustering) -> bool:
    """Whether registered score ``entry`` can be computed for ``c`` (else it is NaN)."""
    meta = entry.meta
    return not (
        (meta.get("needs_labels", True) and c.labels_true is None)
        or (meta.get("needs_space", False) and c.x is None)
        or (meta.get("density_only", False) and not c.density)
        or (meta.get("needs_refit", False) and c.refit is None)
    )


def label_free_scores() -> list[str]:
    """The registered scores computed without labels from the clustered space (silhouette, ...)."""
    return [
        e.name
        for e in SCORES
        if not e.meta.get("needs_labels", True) and (e.meta.get("needs_space") or e.meta.get("needs_refit"))
    ]


def score(c: Clustering) -> dict[str, float]:
    """Every registered score of clustering ``c``; NaN where one does not apply."""
    if c.labels_pred.ndim != 1 or len(c.labels_pred) == 0:
        raise ValueError("cannot score an empty clustering")
    return {e.name: float(e.obj(c)) if applicable(e, c) else float("nan") for e in SCORES}


def metric_columns() -> list[str]:
    """Every registered score's name, in the registry's order: the table's score columns."""
    return list(SCORES.names())


def spread_scores() -> list[str]:
    """The scores the comparison bootstraps (registered with ``spread=True``)."""
    return [e.name for e in SCORES if e.meta.get("spread", False)]


def spread_columns() -> list[str]:
    """``<score>_std``, ``<score>_lo``, ``<score>_hi`` for every spread score."""
    return [f"{m}_{part}" for m in spread_scores() for part in ("std", "lo", "hi")]


def score_clustering(labels_true, labels_pred, *, noise_label: int | None = -1) -> dict[str, float]:
    """Every registered score of ``labels_pred`` against ``labels_true`` that needs no more than
    the two labelings (V-measure, homogeneity, completeness, ARI, AMI, number of clusters, noise
    fraction, and any such score a plugin adds); the scores of the clustered space are `score`'s.

    ``noise_fraction`` is the share of ``labels_pred`` equal to ``noise_label`` (HDBSCAN's -1);
    those points are scored as one more cluster, as scikit-learn would.
    """
    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    if labels_true.ndim != 1 or labels_pred.ndim != 1:
        raise ValueError("labels_true and labels_pred must be 1-D")
    if len(labels_true) != len(labels_pred):
        raise ValueError(f"labels_true has {len(labels_true)} items but labels_pred has {len(labels_pred)}")
    if len(labels_true) == 0:
        raise ValueError("cannot score an empty clustering")
    c = Clustering(labels_pred, labels_true, noise_label)
    return {e.name: float(e.obj(c)) for e in SCORES if applicable(e, c)}


def k_criterion(name: str, *, seed: int = 0) -> tuple[Callable[[np.ndarray, np.ndarray], float], bool]:
    """The registered label-free score ``name`` of a clustering's space as a function of (labels,
    points), and whether higher is better: what `simcse_lab.clustering.choose_k` reads k off
    (``cluster.k_criterion``); a score that needs labels or reads no space is refused in one line."""
    entry = SCORES[name] if name in SCORES else None
    if entry is None or entry.meta.get("needs_labels", True) or not entry.meta.get("needs_space", False):
        allowed = [
            e.name
            for e in SCORES
            if not e.meta.get("needs_labels", True) and e.meta.get("needs_space") and not e.meta.get("density_only")
        ]
        raise ValueError(
            f"cluster.k_criterion must be a label-free score of the space ({', '.join(allowed)}), got {name!r}"
        )
    fn = entry.obj

    def score_of(labels: np.ndarray, points: np.ndarray) -> float:
        return float(fn(Clustering(labels, None, None, points, seed=seed)))

    return score_of, bool(entry.meta.get("higher_is_better", True))
