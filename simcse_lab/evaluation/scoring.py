"""Scoring a clustering: every registered score, per label level, with bootstrap intervals, and
the table columns the scores make. This is the one place a clustering is scored: `assess` gives a
clustering's rows of the comparison table, `score_clustering` the scores of two labelings.

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

The label-free scores (silhouette, Davies-Bouldin, Calinski-Harabasz, DBCV, stability) do not
depend on the level, so `assess` computes them once and repeats them on each level's row; a corpus
without labels gets one row, level ``""``, with the labelled scores NaN.

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
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, .1, (30, 3)) + [1, 0, 0], rng.normal(0, .1, (30, 3)) + [0, 1, 0]]
>>> rows = assess(np.repeat([0, 1], 30), {}, x=x, n_bootstrap=20)
>>> [level for level, _ in rows], bool(np.isnan(rows[0][1]["v_measure"])), rows[0][1]["silhouette"] > 0.8
([''], True, True)
>>> b = bootstrap_scores(y, y, n_resamples=20)
>>> b["v_measure"]["std"], b["v_measure"]["mean"]
(0.0, 1.0)
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
    "assess",
    "assess_clustering",
    "bootstrap_clustering",
    "bootstrap_scores",
    "k_criterion",
    "label_free_scores",
    "metric_columns",
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
        (meta.needs_labels and c.labels_true is None)
        or (meta.needs_space and c.x is None)
        or (meta.density_only and not c.density)
        or (meta.needs_refit and c.refit is None)
    )


def label_free_scores() -> list[str]:
    """The registered scores computed without labels from the clustered space (silhouette, ...)."""
    return [e.name for e in SCORES if not e.meta.needs_labels and (e.meta.needs_space or e.meta.needs_refit)]


def metric_columns() -> list[str]:
    """Every registered score's name, in the registry's order: the table's score columns."""
    return list(SCORES.names())


def spread_scores() -> list[str]:
    """The scores the comparison bootstraps (registered with ``spread=True``)."""
    return [e.name for e in SCORES if e.meta.spread]


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
    ((_, scores),) = assess_clustering(Clustering(labels_pred, None, noise_label), {"": labels_true})
    return {e.name: scores[e.name] for e in SCORES if applicable(e, c)}


def k_criterion(name: str, *, seed: int = 0) -> tuple[Callable[[np.ndarray, np.ndarray], float], bool]:
    """The registered label-free score ``name`` of a clustering's space as a function of (labels,
    points), and whether higher is better: what `simcse_lab.clustering.choose_k` reads k off
    (``cluster.k_criterion``); a score that needs labels or reads no space is refused in one line."""
    entry = SCORES[name] if name in SCORES else None
    if entry is None or entry.meta.needs_labels or not entry.meta.needs_space:
        allowed = [e.name for e in SCORES if not e.meta.needs_labels and e.meta.needs_space and not e.meta.density_only]
        raise ValueError(
            f"cluster.k_criterion must be a label-free score of the space ({', '.join(allowed)}), got {name!r}"
        )
    fn = entry.obj

    def score_of(labels: np.ndarray, points: np.ndarray) -> float:
        return float(fn(Clustering(labels, None, None, points, seed=seed)))

    return score_of, bool(entry.meta.higher_is_better)


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
    free_scores = {e.name: float(e.obj(free)) for e in SCORES if not e.meta.needs_labels and applicable(e, free)}
    spreads = tuple(spread_scores()) if n_bootstrap else ()
    free_spread = _spread(free, [m for m in spreads if not SCORES[m].meta.needs_labels], n_bootstrap, seed)
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
        scores = {e.name: float(e.obj(c)) if applicable(e, c) else float("nan") for e in SCORES if e.meta.needs_labels}
        if labels_true is not None:
            scores.update(_spread(c, [m for m in spreads if SCORES[m].meta.needs_labels], n_bootstrap, seed))
        else:
            scores.update(
                {f"{m}_{p}": float("nan") for m in spreads if SCORES[m].meta.needs_labels for p in ("std", "lo", "hi")}
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
    allowed = [e.name for e in SCORES if e.meta.resample]
    unknown = [m for m in metrics if m not in allowed]
    if unknown:
        raise ValueError(f"cannot bootstrap {unknown}; allowed: {sorted(allowed)}")
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be >= 2, got {n_resamples}")
    metrics = tuple(m for m in metrics if applicable(SCORES[m], c))
    rng = np.random.default_rng(seed)
    n = len(c.labels_pred)
    per_point = {m: SCORES[m].meta.per_point(c) for m in metrics if SCORES[m].meta.per_point is not None}
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
