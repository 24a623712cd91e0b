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

__all__ = ["HDBSCANClusterer", "KMeansClusterer", "default_min_cluster_size", "make_clusterer", "resolve_backend"]


def resolve_backend(backend: str) -> str:
    """``cpu`` or ``cuml``: ``auto`` is cuml when RAPIDS cuML imports and a CUDA GPU is present.

    >>> resolve_backend("cpu")
    'cpu'
    """
    if backend == "cpu":
        return "cpu"
    try:
        import cupy
        import cuml  # noqa: F401

        has_gpu = cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - missing packages or no CUDA driver: no GPU backend
        has_gpu = False
    if has_gpu:
        return "cuml"
    if backend == "cuml":
        raise ValueError("cluster.backend=cuml needs RAPIDS cuML and a CUDA GPU: pip install 'simcse-lab[gpu]'")
    return "cpu"


@dataclass
class KMeansClusterer:
    """KMeans; above ``minibatch_threshold`` points MiniBatchKMeans (memory and time grow
    linearly), with ``backend="cuml"`` cuML's KMeans on the GPU."""

    n_clusters: int = 8
    n_init: int = 10
    random_state: int | None = 42
    minibatch_threshold: int | None = None
    backend: str = "cpu"
    n_clusters_: int = field(default=0, init=False)
    noise_fraction_: float = field(default=0.0, init=False)
    extra_labels_: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def uses_minibatch(self, n: int) -> bool:
        """Whether ``n`` points are clustered with MiniBatchKMeans (above ``minibatch_threshold``)."""
        return self.backend == "cpu" and self.minibatch_threshold is not None and n > self.minibatch_threshold

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        if self.n_clusters < 2:
            raise ValueError(f"KMeans n_clusters must be >= 2, got {self.n_clusters}")
        if len(x) < self.n_clusters:
            raise ValueError(f"KMeans needs at least n_clusters={self.n_clusters} points, got {len(x)}")
        if self.backend == "cuml":
            from cuml.cluster import KMeans as CumlKMeans

            model = CumlKMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=self.random_state or 0)
            labels = np.asarray(model.fit_predict(np.asarray(x, dtype=np.float32)))
        elif self.uses_minibatch(len(x)):
            from sklearn.cluster import MiniBatchKMeans

            labels = MiniBatchKMeans(n_clusters=self.n_clusters, n_init=3, batch_size=4096,
                                     random_state=self.random_state).fit_predict(x)
        else:
            from sklearn.cluster import KMeans

            labels = KMeans(n_clusters=self.n_clusters, n_init=self.n_init,
                            random_state=self.random_state).fit_predict(x)
        self.n_clusters_ = len(np.unique(labels))
        return labels.astype(np.int64)


@dataclass
class HDBSCANClusterer:
    """HDBSCAN as in the seed. Above ``sample_threshold`` points it is fitted on a seeded sample
    of ``fit_sample`` (``prediction_data=True``) and the rest is assigned in chunks:
    ``approximate_predict`` for the hard labels, ``membership_vector`` for the soft ones."""

    min_cluster_size: int = 25
    min_samples: int = 10
    soft: bool = True
    fit_sample: int = 20_000
    sample_threshold: int | None = None
    random_state: int | None = 42
    backend: str = "cpu"
    chunk: int = 20_000
    n_clusters_: int = field(default=0, init=False)
    noise_fraction_: float = field(default=0.0, init=False)
    hard_labels_: np.ndarray | None = field(default=None, init=False, repr=False)
    extra_labels_: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def sampled(self, n: int) -> bool:
        return self.sample_threshold is not None and n > self.sample_threshold and n > self.fit_sample

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        if self.min_cluster_size < 2:
            raise ValueError(f"HDBSCAN min_cluster_size must be >= 2, got {self.min_cluster_size}")
        n = len(x)
        if n < 3:
            raise ValueError(f"HDBSCAN needs at least 3 points, got {n}")
        hdb = _hdbscan_module(self.backend)
        dtype = np.float64 if self.backend == "cpu" else np.float32  # hdbscan wants float64, cuML float32
        sampled = self.sampled(n)
        fit_idx = (np.sort(np.random.default_rng(self.random_state).choice(n, size=self.fit_sample, replace=False))
                   if sampled else np.arange(n))
        n_fit = len(fit_idx)
        # the seed's min_cluster_size is a share of the corpus: a sample keeps the share
        size = max(2, round(self.min_cluster_size * n_fit / n)) if sampled else self.min_cluster_size
        model = hdb.HDBSCAN(
            min_cluster_size=min(size, n_fit),
            min_samples=max(1, min(self.min_samples, n_fit - 1)),
            prediction_data=self.soft or sampled,
        ).fit(np.asarray(x[fit_idx], dtype=dtype))
        fit_hard = np.asarray(model.labels_).astype(np.int64)
        if sampled:
            rest = np.setdiff1d(np.arange(n), fit_idx)
            hard = np.empty(n, dtype=np.int64)
            hard[fit_idx] = fit_hard
            for start in range(0, len(rest), self.chunk):
                idx = rest[start : start + self.chunk]
                hard[idx] = np.asarray(hdb.approximate_predict(model, np.asarray(x[idx], dtype=dtype))[0])
            logger.info("HDBSCAN fitted on %d of %d points, the other %d assigned", n_fit, n, len(rest))
        else:
            hard = fit_hard
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
        soft = np.empty(n, dtype=np.int64)
        soft[fit_idx] = np.argmax(np.asarray(hdb.all_points_membership_vectors(model)), axis=1)
        if sampled:
            for start in range(0, len(rest), self.chunk):
                idx = rest[start : start + self.chunk]
                soft[idx] = np.argmax(np.asarray(hdb.membership_vector(model, np.asarray(x[idx], dtype=dtype))),
                                      axis=1)
        return soft


def _hdbscan_module(backend: str):
    """The module with HDBSCAN, approximate_predict, membership_vector, all_points_membership_vectors."""
    if backend == "cuml":
        from cuml.cluster import hdbscan as cuml_hdbscan

        return cuml_hdbscan
    try:
        import hdbscan
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportError("HDBSCAN needs the hdbscan package: pip install hdbscan") from None
    return hdbscan


def default_min_cluster_size(n: int) -> int:
    """The seed's ratio (min_cluster_size=1000 on 40,000 reviews = 2.5%), at least 5."""
    return max(5, round(0.025 * n))


def make_clusterer(method: str, cfg: ClusterConfig, *, n_samples: int, n_classes: int | None, seed: int = 42,
                   backend: str = "cpu"):
    """Factory for ``"kmeans"`` and ``"hdbscan"`` (``backend``: ``cpu`` or ``cuml``, see
    :func:`resolve_backend`)."""
    if method == "kmeans":
        k = cfg.n_clusters or n_classes
        if k is None:
            raise ValueError("KMeans needs cluster.n_clusters when the corpus has no labels")
        return KMeansClusterer(n_clusters=k, n_init=cfg.kmeans_n_init, random_state=seed,
                               minibatch_threshold=cfg.sample_threshold, backend=backend)
    if method == "hdbscan":
        size = cfg.min_cluster_size or default_min_cluster_size(n_samples)
        return HDBSCANClusterer(min_cluster_size=size, min_samples=cfg.min_samples, soft=cfg.soft,
                                fit_sample=cfg.fit_sample, sample_threshold=cfg.sample_threshold, random_state=seed,
                                backend=backend)
    raise ValueError(f"unknown clusterer {method!r}; allowed: kmeans, hdbscan")
