"""One model's clusterings: every clusterer in every space, each scored (`assess`) and described
(`describe_clusters`), with the k each KMeans chose without labels.

`simcse_lab.experiment.run` calls `cluster_model` once per model; what it returns goes into the
comparison table, the run folder's ``clusters.csv`` and ``assignments.csv``, and the manifest.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..clustering.clusterers import KMeansClusterer, make_clusterer
from ..core.cache import ArrayCache
from ..core.hashing import array_digest
from ..core.registry import CLUSTERERS, SCORES
from .clustering_cache import (
    CachedClustering,
    clustering_key,
    load_clustering,
    save_clustering,
    scoring_context,
)
from .describe import TermIndex, describe_clusters
from .scoring import Clustering, assess_clustering, k_criterion

__all__ = ["ModelClusterings", "cluster_model", "cluster_with", "refitter"]


@dataclass
class ModelClusterings:
    """A comparison's table rows, labels and membership probabilities by (model, clusterer, space),
    cluster descriptions, and KMeans' label-free k choices by model and space."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    labels: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    probabilities: dict[tuple[str, str, str], np.ndarray | None] = field(default_factory=dict)
    clusters: list[pd.DataFrame] = field(default_factory=list)
    k_choices: dict[str, dict[str, Any]] = field(default_factory=dict)


def refitter(clusterer: Any, x: np.ndarray, name: str, memo: dict | None = None) -> Any:
    """``refit(rows, seed)``: the same clusterer and settings, another seed, on ``x[rows]``; the
    labels reported under ``name`` (for HDBSCAN's hdbscan-hard, its extra labels). Refitters of one
    fit's labellings that share ``memo`` fit each resample once (hdbscan and hdbscan-hard)."""
    import copy
    import dataclasses

    seeded = dataclasses.is_dataclass(clusterer) and "random_state" in {
        f.name for f in dataclasses.fields(clusterer) if f.init
    }
    memo = {} if memo is None else memo

    def refit(rows: np.ndarray, seed: int) -> np.ndarray:
        key = (seed, array_digest(np.ascontiguousarray(rows)))
        if key not in memo:
            # a clusterer without a seed is refitted as it is: then only the resample differs
            again = dataclasses.replace(clusterer, random_state=seed) if seeded else copy.deepcopy(clusterer)
            memo[key] = (again.fit_predict(x[rows]), again.extra_labels_)
        labels, extra = memo[key]
        return extra.get(name, labels)

    return refit


def cluster_model(
    name: str,
    embeddings: np.ndarray,
    spaces: dict[str, Any],
    cfg: Any,
    *,
    levels: dict[str, np.ndarray],
    n_classes: int | None,
    backend: str,
    texts: list[str],
    terms: TermIndex | None,
    timer: Any,
    out: ModelClusterings | None = None,
    cache: ArrayCache | None = None,
) -> ModelClusterings:
    """Cluster ``spaces`` (``{space: points}``; the points may be a function giving them when first
    needed) of model ``name`` with every configured clusterer; the results are added to ``out`` (a
    comparison's collection of every model's), or a new one. Each clusterer's fit of a space, with
    its scores and descriptions, is read from ``cache`` when an entry made from the same points and
    settings is there (`clustering_cache`)."""
    out = out if out is not None else ModelClusterings()
    context = _model_context(cfg, cache, levels=levels, texts=texts, embeddings=embeddings, terms=terms)
    for space, points in spaces.items():
        points = points() if callable(points) else points  # a projection still being fitted: waited for here
        for method in [m for m, s in cfg.cluster.runs() if s == space]:
            clusterer = with_k_score(
                make_clusterer(
                    method, cfg.cluster, n_samples=len(points), n_classes=n_classes, seed=cfg.seed, backend=backend
                ),
                cfg.seed,
            )
            cluster_with(
                name,
                method,
                clusterer,
                space,
                points,
                embeddings,
                cfg,
                levels=levels,
                n_classes=n_classes,
                texts=texts,
                terms=terms,
                timer=timer,
                out=out,
                cache=cache,
                context=context,
            )
    return out


def with_k_score(clusterer: Any, seed: int) -> Any:
    """A KMeans that chooses its k without labels, handed the registered score its ``k_criterion``
    names (`simcse_lab.evaluation.scoring.k_criterion`); any other clusterer as it is."""
    if isinstance(clusterer, KMeansClusterer) and clusterer.n_clusters == "auto":
        score, higher = k_criterion(clusterer.k_criterion, seed=seed)
        return dataclasses.replace(clusterer, k_score=score, k_higher_is_better=higher)
    return clusterer


def _model_context(
    cfg: Any,
    cache: ArrayCache | None,
    *,
    levels: dict[str, np.ndarray],
    texts: list[str],
    embeddings: np.ndarray,
    terms: TermIndex | None,
) -> str:
    """A model's `scoring_context` (what its clusterings' cache keys hold besides the points), or ""
    without a cache."""
    if cache is None:
        return ""
    return scoring_context(
        levels=levels,
        n_bootstrap=cfg.metrics.n_bootstrap,
        scores=list(SCORES.names()),
        described=(texts, embeddings) if terms is not None else None,
    )


def cluster_with(
    name: str,
    method: str,
    clusterer: Any,
    space: str,
    points: np.ndarray,
    embeddings: np.ndarray,
    cfg: Any,
    *,
    levels: dict[str, np.ndarray],
    n_classes: int | None,
    texts: list[str],
    terms: TermIndex | None,
    timer: Any,
    out: ModelClusterings,
    cache: ArrayCache | None = None,
    label: str | None = None,
    context: str | None = None,
) -> None:
    """Fit ``clusterer`` (registered as ``method``) to ``points`` of model ``name`` in ``space``, or
    read the fit from ``cache``; score and describe it and add it to ``out``, under ``label`` instead
    of the clusterer's own name when given (a KMeans at another model's k, `vs_start`). ``context``:
    the model's `scoring_context`, when the caller made it once for all of the model's clusterings."""
    if context is None:
        context = _model_context(cfg, cache, levels=levels, texts=texts, embeddings=embeddings, terms=terms)
    key = clustering_key(points, method, clusterer, context) if cache is not None else ""
    entry = load_clustering(cache, key, len(points))
    if entry is None:
        entry = _fit_and_score(
            method, clusterer, points, cfg, levels=levels, texts=texts, embeddings=embeddings, terms=terms, timer=timer
        )
        save_clustering(cache, key, entry)
    if entry.k_choice is not None:
        out.k_choices[f"{name} {label or method}/{space}"] = {**entry.k_choice, "n_classes": n_classes}
    for cname, lab in entry.labels.items():
        shown = label if label and cname == method else cname
        k = (name, shown, space)
        out.labels[k], out.probabilities[k] = lab, entry.probabilities.get(cname)
        out.rows += [
            {"model": name, "clusterer": shown, "space": space, "level": lvl, **scores}
            for lvl, scores in entry.scored[cname]
        ]
        if cname in entry.clusters:
            out.clusters.append(entry.clusters[cname].assign(model=name, clusterer=shown, space=space))


def cluster_kmeans_at(
    found: ModelClusterings,
    model: Any,
    k: int,
    label: str,
    cfg: Any,
    *,
    backend: str,
    cache: ArrayCache | None = None,
    **context: Any,
) -> None:
    """KMeans at a given ``k`` on ``model``'s vectors (a `ModelRun`), added to ``found`` as clusterer
    ``label`` (`vs_start`'s ``kmeans-start-k``, `granularity`'s ``kmeans-fine``)."""
    x = model.embeddings
    clusterer = make_clusterer("kmeans", cfg.cluster, n_samples=len(x), n_classes=None, seed=cfg.seed, backend=backend)
    clusterer = dataclasses.replace(clusterer, n_clusters=int(k))
    cluster_with(model.name, "kmeans", clusterer, "raw", x, x, cfg, out=found, cache=cache, label=label, **context)


def in_run_order(found: ModelClusterings, runs: list[Any]) -> None:
    """Each model's rows of ``found`` together, in the order of ``runs``."""
    order = {m.name: i for i, m in enumerate(runs)}
    found.rows.sort(key=lambda r: order.get(r["model"], len(order)))


def _fit_and_score(
    method: str,
    clusterer: Any,
    points: np.ndarray,
    cfg: Any,
    *,
    levels: dict[str, np.ndarray],
    texts: list[str],
    embeddings: np.ndarray,
    terms: TermIndex | None,
    timer: Any,
) -> CachedClustering:
    """``clusterer``'s fit of ``points``, every labelling it reports scored (and described)."""
    with timer(f"cluster {method}"):
        labels_pred = clusterer.fit_predict(points)
    choice = clusterer.k_choice_
    entry = CachedClustering(k_choice=choice.as_dict() if choice is not None else None)
    density = CLUSTERERS[method].meta.density
    refits: dict = {}  # the labellings of one fit share their re-clusterings (stability)
    for cname, lab in [(method, labels_pred), *clusterer.extra_labels_.items()]:
        entry.labels[cname] = lab
        entry.probabilities[cname] = (
            clusterer.probabilities_ if cname == method else clusterer.extra_probabilities_.get(cname)
        )
        free = Clustering(lab, None, -1, points, density, refitter(clusterer, points, cname, refits), cfg.seed)
        with timer(f"score {method}"):
            entry.scored[cname] = assess_clustering(free, levels, n_bootstrap=cfg.metrics.n_bootstrap)
        if terms is not None:
            with timer("describe clusters"):
                entry.clusters[cname] = describe_clusters(lab, texts, embeddings, terms)
    return entry
