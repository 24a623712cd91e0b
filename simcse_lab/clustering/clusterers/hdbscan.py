"""HDBSCAN as in the seed article: ``prediction_data=True`` and, with ``soft=True``, each point's
label is the argmax of ``hdbscan.all_points_membership_vectors`` (so every point gets a cluster);
HDBSCAN's own labels (noise = -1) from the same fit are reported as ``hdbscan-hard``
(``extra_labels_``), with their noise fraction. Above the sampling threshold it is fitted on a
sample and the rest is assigned (`simcse_lab.clustering.sampling`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core.fields import setting
from ...core.registry import CLUSTERERS
from ..clusterer import Clusterer
from ..sampling import SampledFit, chunked

logger = logging.getLogger(__name__)

__all__ = ["HDBSCANClusterer", "HDBSCANConfig", "default_min_cluster_size"]


def default_min_cluster_size(n: int) -> int:
    """The seed's ratio (min_cluster_size=1000 on 40,000 reviews = 2.5%), at least 5."""
    return max(5, round(0.025 * n))


@dataclass(frozen=True)
class HDBSCANConfig:
    """HDBSCAN (section ``cluster.hdbscan``); above ``cluster.sample_threshold`` points it is fitted
    on ``cluster.fit_sample`` of them."""

    min_cluster_size: int | None = setting(
        None, "HDBSCAN min_cluster_size (None: 2.5% of the corpus, the seed's 1000 of 40k)", ge=2
    )
    min_samples: int = setting(10, "HDBSCAN min_samples", ge=1)
    soft: bool = setting(True, "HDBSCAN labels = argmax of all_points_membership_vectors (as in the seed)")


@CLUSTERERS.register(
    "hdbscan",
    "HDBSCAN as in the seed: soft labels (argmax of the membership vectors) and hdbscan-hard from one fit",
    order=20,
    config=HDBSCANConfig,
    density=True,
)
@dataclass
class HDBSCANClusterer(Clusterer):
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
    probabilities_: np.ndarray | None = field(default=None, init=False, repr=False)
    extra_probabilities_: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_config(
        cls, cfg: Any, *, n_samples: int, n_classes: int | None = None, seed: int = 42, backend: str = "cpu"
    ) -> HDBSCANClusterer:
        """From the cluster section; min_cluster_size None is the seed's share of the corpus."""
        own = cfg.hdbscan
        return cls(
            min_cluster_size=own.min_cluster_size or default_min_cluster_size(n_samples),
            min_samples=own.min_samples,
            soft=own.soft,
            fit_sample=cfg.fit_sample,
            sample_threshold=cfg.sample_threshold,
            random_state=seed,
            backend=backend,
        )

    @classmethod
    def describe_fit(cls, cfg: Any, n: int, backend: str) -> str:
        """How ``n`` points are clustered, for the run manifest."""
        return SampledFit(cfg.fit_sample, cfg.sample_threshold).describe(n, "the rest assigned")

    def _plan(self) -> SampledFit:
        return SampledFit(self.fit_sample, self.sample_threshold, self.random_state)

    def sampled(self, n: int) -> bool:
        return self._plan().sampled(n)

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        if self.min_cluster_size < 2:
            raise ValueError(f"HDBSCAN min_cluster_size must be >= 2, got {self.min_cluster_size}")
        n = len(x)
        if n < 3:
            raise ValueError(f"HDBSCAN needs at least 3 points, got {n}")
        hdb = _hdbscan_module(self.backend)
        dtype = np.float64 if self.backend == "cpu" else np.float32  # hdbscan wants float64, cuML float32
        sampled = self.sampled(n)
        fit_idx, rest = self._plan().split(n) if sampled else (np.arange(n), np.arange(0))
        n_fit = len(fit_idx)
        # the seed's min_cluster_size is a share of the corpus: a sample keeps the share
        size = max(2, round(self.min_cluster_size * n_fit / n)) if sampled else self.min_cluster_size
        model = hdb.HDBSCAN(
            min_cluster_size=min(size, n_fit),
            min_samples=max(1, min(self.min_samples, n_fit - 1)),
            prediction_data=self.soft or sampled,
        ).fit(np.asarray(x[fit_idx], dtype=dtype))
        fit_hard = np.asarray(model.labels_).astype(np.int64)
        strength = np.empty(n, dtype=np.float64)
        strength[fit_idx] = np.asarray(model.probabilities_, dtype=np.float64)
        if sampled:
            hard = np.empty(n, dtype=np.int64)
            hard[fit_idx] = fit_hard
            for idx in chunked(rest, self.chunk):
                got = hdb.approximate_predict(model, np.asarray(x[idx], dtype=dtype))
                hard[idx], strength[idx] = np.asarray(got[0]), np.asarray(got[1])
            logger.info("HDBSCAN fitted on %d of %d points, the other %d assigned", n_fit, n, len(rest))
        else:
            hard = fit_hard
        self.hard_labels_ = hard
        # the soft labels are the main result; HDBSCAN's own (noise = -1) come from the same fit
        self.extra_labels_ = {"hdbscan-hard": hard} if self.soft else {}
        self.extra_probabilities_ = {"hdbscan-hard": strength} if self.soft else {}
        self.probabilities_ = strength  # HDBSCAN's own membership strength; the soft labels' is set below
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
        prob = np.empty(n, dtype=np.float64)
        vectors = np.asarray(hdb.all_points_membership_vectors(model))
        soft[fit_idx], prob[fit_idx] = np.argmax(vectors, axis=1), vectors.max(axis=1)
        if sampled:
            for idx in chunked(rest, self.chunk):
                vectors = np.asarray(hdb.membership_vector(model, np.asarray(x[idx], dtype=dtype)))
                soft[idx], prob[idx] = np.argmax(vectors, axis=1), vectors.max(axis=1)
        self.probabilities_ = prob  # the soft label's membership probability
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
