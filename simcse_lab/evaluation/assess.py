"""One clustering's row(s) of the comparison table: labelled scores per label level, label-free
scores once, and bootstrap spreads of both.

The label-free scores (silhouette, Davies-Bouldin, Calinski-Harabasz, DBCV, stability) do not
depend on the level, so they are computed once and repeated on each level's row; a corpus without
labels gets one row, level ``""``, with the labelled scores NaN.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, .1, (30, 3)) + [1, 0, 0], rng.normal(0, .1, (30, 3)) + [0, 1, 0]]
>>> pred = np.repeat([0, 1], 30)
>>> rows = assess(pred, {}, x=x, n_bootstrap=20)
>>> [level for level, _ in rows], bool(np.isnan(rows[0][1]["v_measure"])), rows[0][1]["silhouette"] > 0.8
([''], True, True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.registry import SCORES
from .scoring import Clustering, applicable, spread_scores
from .statistics import bootstrap_clustering

__all__ = ["assess", "assess_clustering"]


def assess(
    labels_pred: np.ndarray,
    levels: dict[str, np.ndarray],
    *,
    x: np.ndarray | None = None,
    density: bool = False,
    refit: Callable[[np.ndarray, int], np.ndarray] | None = None,
    n_bootstrap: int = 0,
    seed: int = 0,
    noise_label: int | None = -1,
) -> list[tuple[str, dict[str, float]]]:
    """``[(level, scores), ...]``: every registered score (and, with ``n_bootstrap``, the spread
    columns) of ``labels_pred`` against each of ``levels`` (``{name: labels}``; empty: one row, level "")."""
    free = Clustering(np.asarray(labels_pred), None, noise_label, x, density, refit, seed)
    return assess_clustering(free, levels, n_bootstrap=n_bootstrap)


def assess_clustering(
    free: Clustering, levels: dict[str, np.ndarray], *, n_bootstrap: int = 0
) -> list[tuple[str, dict[str, float]]]:
    """`assess` of a clustering without labels (``free``: its space, refit and seed), against each
    of ``levels``; what its scores compute once stays in ``free.memo`` for the caller."""
    labels_pred, noise_label, density, seed = free.labels_pred, free.noise_label, free.density, free.seed
    free_scores = {
        e.name: float(e.obj(free)) for e in SCORES if not e.meta.get("needs_labels", True) and applicable(e, free)
    }
    spreads = tuple(spread_scores()) if n_bootstrap else ()
    free_spread = _spread(free, [m for m in spreads if not SCORES[m].meta.get("needs_labels", True)], n_bootstrap, seed)
    rows = []
    for level, labels_true in levels.items() or [("", None)]:
        c = Clustering(
            labels_pred,
            None if labels_true is None else np.asarray(labels_true),
            noise_label,
            None,
            density,
            None,
            seed,
        )
        scores = {
            e.name: float(e.obj(c)) if applicable(e, c) else float("nan")
            for e in SCORES
            if e.meta.get("needs_labels", True)
        }
        if labels_true is not None:
            scores.update(
                _spread(c, [m for m in spreads if SCORES[m].meta.get("needs_labels", True)], n_bootstrap, seed)
            )
        else:
            scores.update(
                {
                    f"{m}_{p}": float("nan")
                    for m in spreads
                    if SCORES[m].meta.get("needs_labels", True)
                    for p in ("std", "lo", "hi")
                }
            )
        rows.append(
            (
                level,
                {
                    **_ordered(scores, free_scores),
                    **free_spread,
                    **{k: v for k, v in scores.items() if k.endswith(("_std", "_lo", "_hi"))},
                },
            )
        )
    return rows


def _ordered(*parts: dict[str, float]) -> dict[str, float]:
    # the registry's order, NaN where a score did not apply
    merged = {k: v for part in parts for k, v in part.items()}
    return {name: merged.get(name, float("nan")) for name in SCORES.names()}


def _spread(c: Clustering, metrics: list[str], n_bootstrap: int, seed: int) -> dict[str, float]:
    if not metrics or not n_bootstrap:
        return {}
    got = bootstrap_clustering(c, n_resamples=n_bootstrap, seed=seed, metrics=tuple(metrics))
    return {f"{m}_{p}": got.get(m, {}).get(p, float("nan")) for m in metrics for p in ("std", "lo", "hi")}
