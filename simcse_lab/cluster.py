"""Clusterers with the scikit-learn shape (``fit_predict``), built from the config.

``HDBSCANClusterer`` follows the seed article: ``prediction_data=True`` and, with ``soft=True``,
each point's label is the argmax of ``hdbscan.all_points_membership_vectors`` (so every point
gets a cluster); the hard labels and their noise fraction are kept on the object
(``hard_labels_``, ``noise_fraction_``) and reported next to the soft scores.

Every clusterer exposes, after ``fit_predict``, ``extra_labels_``: further labelings the same fit
gave, by the name they are reported under (HDBSCAN's ``hdbscan-hard``), so the orchestrator
scores them without knowing which clusterer made them.

>>> x = np.r_[np.zeros((10, 2)), np.ones((10, 2)) * 5].astype(np.float32)
>>> labels = KMeansClusterer(n_clusters=2, random_state=0).fit_predict(x)
>>> len(set(labels[:10])), len(set(labels[10:])), bool(labels[0] != labels[-1])
(1, 1, True)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .config import ClusterConfig

logger = logging.getLogger(__name__)

__all__ = ["HDBSCANClusterer", "KMeansClusterer", "default_min_cluster_size", "make_clusterer"]


@dataclass
class KMeansClusterer:
    n_clusters: int = 8
    n_init: int = 10
    random_state: int | None = 42
    n_clusters_: int = field(default=0, init=False)
    noise_fraction_: float = field(default=0.0, init=False)
    extra_labels_: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        from sklearn.cluster import KMeans

        if self.n_clusters < 2:
            raise ValueError(f"KMeans n_clusters must be >= 2, got {self.n_clusters}")
        if len(x) < self.n_clusters:
            raise ValueError(f"KMeans needs at least n_clusters={self.n_clusters} points, got {len(x)}")
        labels = KMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=self.random_state).fit_predict(x)
        self.n_clusters_ = len(np.unique(labels))
        return labels.astype(np.int64)


@dataclass
class HDBSCANClusterer:
    min_cluster_size: int = 25
    min_samples: int = 10
    soft: bool = True
    n_clusters_: int = field(default=0, init=False)
    noise_fraction_: float = field(default=0.0, init=False)
    hard_labels_: np.ndarray | None = field(default=None, init=False, repr=False)
    extra_labels_: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        try:
            import hdbscan
        except ImportError:  # pragma: no cover - a declared dependency
            raise ImportError("HDBSCAN needs the hdbscan package: pip install hdbscan") from None
        if self.min_cluster_size < 2:
            raise ValueError(f"HDBSCAN min_cluster_size must be >= 2, got {self.min_cluster_size}")
        n = len(x)
        if n < 3:
            raise ValueError(f"HDBSCAN needs at least 3 points, got {n}")
        model = hdbscan.HDBSCAN(
            min_cluster_size=min(self.min_cluster_size, n),
            min_samples=max(1, min(self.min_samples, n - 1)),
            prediction_data=self.soft,
        ).fit(np.asarray(x, dtype=np.float64))
        hard = model.labels_.astype(np.int64)
        self.hard_labels_ = hard
        # the soft labels are the main result; HDBSCAN's own (noise = -1) come from the same fit
        self.extra_labels_ = {"hdbscan-hard": hard} if self.soft else {}
        self.n_clusters_ = int(hard.max() + 1) if hard.size else 0
        self.noise_fraction_ = float(np.mean(hard == -1))
        if self.n_clusters_ == 0:
            logger.warning("HDBSCAN found no cluster (all %d points are noise)", n)
            return np.zeros(n, dtype=np.int64)
        if not self.soft:
            return hard
        if self.n_clusters_ == 1:
            return np.zeros(n, dtype=np.int64)
        membership = hdbscan.all_points_membership_vectors(model)
        return np.asarray(np.argmax(membership, axis=1), dtype=np.int64)


def default_min_cluster_size(n: int) -> int:
    """The seed's ratio (min_cluster_size=1000 on 40,000 reviews = 2.5%), at least 5."""
    return max(5, round(0.025 * n))


def make_clusterer(method: str, cfg: ClusterConfig, *, n_samples: int, n_classes: int | None, seed: int = 42):
    """Factory for ``"kmeans"`` and ``"hdbscan"``."""
    if method == "kmeans":
        k = cfg.n_clusters or n_classes
        if k is None:
            raise ValueError("KMeans needs cluster.n_clusters when the corpus has no labels")
        return KMeansClusterer(n_clusters=k, n_init=cfg.kmeans_n_init, random_state=seed)
    if method == "hdbscan":
        size = cfg.min_cluster_size or default_min_cluster_size(n_samples)
        return HDBSCANClusterer(min_cluster_size=size, min_samples=cfg.min_samples, soft=cfg.soft)
    raise ValueError(f"unknown clusterer {method!r}; allowed: kmeans, hdbscan")
