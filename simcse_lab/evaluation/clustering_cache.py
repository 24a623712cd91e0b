"""Cached clusterings: one clusterer's fit of one space, with its scores and cluster descriptions.

A rerun of a comparison whose embeddings and projections come from the cache would otherwise fit
every clusterer again, re-score it (stability refits it three more times) and describe its
clusters. An entry is keyed by everything that determines it: the clustered points (their
digest), the clusterer and its settings as built (k, seed and backend resolved), the label levels
it was scored against, the bootstrap size and the registered scores, and, when clusters are
described, the texts and embeddings. It lives in the verified array cache
(`simcse_lab.core.cache.ArrayCache`, ``<data_dir>/interim/clusterings``): the labels are the
array, checked against their digest on load; the rest (probabilities, scores, descriptions, the k
chosen without labels) is the entry's JSON record, stored exactly.
A missing, damaged or mismatched entry is a miss, and the clustering is computed again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.cache import ArrayCache
from ..core.hashing import array_digest, content_hash

__all__ = ["CachedClustering", "clustering_key", "load_clustering", "save_clustering", "scoring_context"]

logger = logging.getLogger(__name__)

_VERSION = 2  # bump when what an entry holds, or how it is computed, changes


@dataclass
class CachedClustering:
    """What one fit gives, per reported clusterer name (``hdbscan`` and ``hdbscan-hard`` share a fit)."""

    labels: dict[str, np.ndarray] = field(default_factory=dict)
    probabilities: dict[str, np.ndarray | None] = field(default_factory=dict)
    scored: dict[str, list[tuple[str, dict[str, float]]]] = field(default_factory=dict)
    clusters: dict[str, pd.DataFrame] = field(default_factory=dict)
    k_choice: dict[str, Any] | None = None


def _settings(clusterer: Any) -> Any:
    """A built (unfitted) clusterer's settings: its dataclass init fields (but those marked
    ``metadata={"setting": False}``, such as a score function named by another field), else its repr."""
    if dataclasses.is_dataclass(clusterer):
        return {
            f.name: getattr(clusterer, f.name)
            for f in dataclasses.fields(clusterer)
            if f.init and f.metadata.get("setting", True)
        }
    return repr(clusterer)


def scoring_context(
    *,
    levels: dict[str, np.ndarray],
    n_bootstrap: int,
    scores: list[str],
    described: tuple[list[str], np.ndarray] | None,
) -> str:
    """The part of a key that every clustering of one model shares (computed once per model): the
    label levels scored against, the bootstrap size, the registered scores and, when clusters are
    described, the texts and the embeddings."""
    parts: dict[str, Any] = {
        "levels": {k: content_hash(np.asarray(v).astype(str).tolist()) for k, v in levels.items()},
        "n_bootstrap": n_bootstrap,
        "scores": sorted(scores),
    }
    if described is not None:
        texts, embeddings = described
        parts["described"] = [content_hash(list(texts)), array_digest(np.ascontiguousarray(embeddings))]
    return content_hash(parts)


def clustering_key(points: np.ndarray, method: str, clusterer: Any, context: str) -> str:
    """The cache key of one clusterer's fit of ``points`` with its scores (and descriptions);
    ``clusterer`` is the clusterer as built for the fit (its settings resolved: k, seed, backend),
    ``context`` the model's `scoring_context`."""
    return content_hash(
        {
            "version": _VERSION,
            "points": array_digest(np.ascontiguousarray(points)),
            "method": method,
            "clusterer": type(clusterer).__name__,
            "settings": _settings(clusterer),
            "context": context,
        }
    )


def _floats(x: np.ndarray | None) -> list[float | None] | None:
    return None if x is None else [None if not np.isfinite(v) else float(v) for v in np.asarray(x, dtype=float)]


def _array(values: list[float | None] | None) -> np.ndarray | None:
    return None if values is None else np.array([np.nan if v is None else v for v in values], dtype=float)


def save_clustering(cache: ArrayCache | None, key: str, entry: CachedClustering) -> None:
    """Store ``entry`` (a cache that cannot be written is skipped, with one warning)."""
    if cache is None:
        return
    names = list(entry.labels)
    labels = np.stack([entry.labels[n] for n in names], axis=1).astype(np.float32)
    payload = json.loads(
        json.dumps(
            {
                "names": names,
                "k_choice": entry.k_choice,
                "probabilities": {n: _floats(entry.probabilities.get(n)) for n in names},
                "scored": {
                    n: [
                        [lvl, {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in s.items()}]
                        for lvl, s in entry.scored[n]
                    ]
                    for n in names
                },
                "clusters": {n: entry.clusters[n].to_dict(orient="split") for n in names if n in entry.clusters},
            },
            default=str,
        )
    )
    # the scores and descriptions are checked against this digest when read back, as the labels are
    cache.save(key, labels, {**payload, "what": "clustering", "record_sha256": _record_digest(payload)})


_RECORDED = ("names", "k_choice", "probabilities", "scored", "clusters")


def _record_digest(record: dict[str, Any]) -> str:
    return content_hash({k: record.get(k) for k in _RECORDED}, length=64)


def load_clustering(cache: ArrayCache | None, key: str, n_points: int) -> CachedClustering | None:
    """The entry stored under ``key``, or None (absent, damaged, or not as recorded)."""
    if cache is None:
        return None
    x = cache.load(key, n_rows=n_points)
    record = cache.record(key) if x is not None else None
    if record is not None and "record_sha256" in record and record["record_sha256"] != _record_digest(record):
        logger.warning("clusterings cache record %s.json was changed since it was written; clustering again", key)
        return None
    try:
        names = record["names"]
        if x.shape[1] != len(names):
            return None
        return CachedClustering(
            labels={n: np.asarray(x[:, i]).astype(np.int64) for i, n in enumerate(names)},
            probabilities={n: _array(record["probabilities"][n]) for n in names},
            scored={
                n: [(lvl, {k: (np.nan if v is None else v) for k, v in s.items()}) for lvl, s in record["scored"][n]]
                for n in names
            },
            clusters={n: pd.DataFrame(**c) for n, c in record["clusters"].items()},
            k_choice=record["k_choice"],
        )
    except (TypeError, KeyError, ValueError, AttributeError):
        return None
