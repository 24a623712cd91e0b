"""A second, finer level of clusters, so that a corpus whose topics nest is not forced into one k.

When KMeans on the vectors chose k without labels (the coarse level), ``cluster.fine_level`` adds a
clustering at a finer k read off the same criterion curve, as clusterer ``kmeans-fine``: the best
k from twice to four times the coarse k (ties to the smaller). The band does not move with the end
of the range (``cluster.k_max``) once the range covers it; when it does not reach twice the coarse
k there is no fine level. The fine level is clustered, scored and described like any other
clustering (``results.csv``, ``clusters.csv``, ``assignments.csv``, the report).

>>> fine_k({2: 0.30, 3: 0.20, 4: 0.22, 5: 0.25, 6: 0.21, 7: 0.2, 8: 0.24, 9: 0.3}, 2)
5
>>> fine_k({2: 0.3, 3: 0.2}, 2) is None
True
"""

from __future__ import annotations

from typing import Any

from .clusterings import ModelClusterings, cluster_kmeans_at, in_run_order

__all__ = ["FINE", "add_fine_level", "fine_k"]

FINE = "kmeans-fine"


def fine_k(curve: dict[int, float], coarse: int, *, higher_is_better: bool = True) -> int | None:
    """The best k of ``curve`` from ``2 * coarse`` to ``4 * coarse`` (ties to the smaller), or None
    when the curve does not reach ``2 * coarse``."""
    band = {k: v for k, v in curve.items() if 2 * coarse <= k <= 4 * coarse and v == v}
    if not band:
        return None
    sign = 1 if higher_is_better else -1
    return max(band, key=lambda k: (sign * band[k], -k))


def add_fine_level(
    found: ModelClusterings, runs: list[Any], cfg: Any, *, backend: str, cache: Any = None, **context: Any
) -> None:
    """Add a ``kmeans-fine`` clustering to ``found`` for every model whose KMeans on the vectors chose
    its k without labels, when its curve reaches a finer k (`fine_k`). ``context``: what
    `cluster_with` needs besides (levels, n_classes, texts, terms, timer)."""
    if not cfg.cluster.fine_level or ("kmeans", "raw") not in set(cfg.cluster.runs()):
        return
    for mr in runs:
        chosen = found.k_choices.get(f"{mr.name} kmeans/raw")
        if chosen is None:
            continue
        curve = {int(k): float(v) for k, v in chosen["curve"].items()}
        k = fine_k(curve, int(chosen["k"]), higher_is_better=bool(chosen.get("higher_is_better", True)))
        if k is None:
            continue
        cluster_kmeans_at(found, mr, k, FINE, cfg, backend=backend, cache=cache, **context)
    in_run_order(found, runs)
