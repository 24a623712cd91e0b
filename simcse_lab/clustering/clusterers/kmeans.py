"""KMeans: the seed's clusterer on the raw embeddings; MiniBatchKMeans above the sampling threshold.

>>> x = np.r_[np.zeros((10, 2)), np.ones((10, 2)) * 5].astype(np.float32)
>>> labels = KMeansClusterer(n_clusters=2, random_state=0).fit_predict(x)
>>> len(set(labels[:10])), len(set(labels[10:])), bool(labels[0] != labels[-1])
(1, 1, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core.fields import setting
from ...core.registry import CLUSTERERS
from ..clusterer import Clusterer

__all__ = ["KMeansClusterer", "KMeansConfig"]


@dataclass(frozen=True)
class KMeansConfig:
    """KMeans (section ``cluster.kmeans``); its k is ``cluster.n_clusters``, shared with the training
    methods that cluster, and so are the k_* settings that choose it without labels."""

    n_init: int = setting(10, "KMeans restarts", ge=1)


@CLUSTERERS.register(
    "kmeans",
    "KMeans, k = cluster.n_clusters (None: the number of classes of the main label level; auto: chosen without labels)",
    order=10,
    config=KMeansConfig,
)
@dataclass
class KMeansClusterer(Clusterer):
    """KMeans; above ``minibatch_threshold`` points MiniBatchKMeans (memory and time grow
    linearly), with ``backend="cuml"`` cuML's KMeans on the GPU. ``n_clusters="auto"`` chooses k
    on the data it is given (`simcse_lab.clustering.choose_k`) by ``k_score``, a label-free score of
    (labels, points) named ``k_criterion`` (the pipeline hands in
    `simcse_lab.evaluation.scoring.k_criterion`), keeps the choice in ``k_choice_`` and sets
    ``n_clusters`` to it, so a refit with another seed uses the same k."""

    n_clusters: int | str = 8
    n_init: int = 10
    random_state: int | None = 42
    minibatch_threshold: int | None = None
    backend: str = "cpu"
    k_min: int = 2
    k_max: int = 15
    k_criterion: str = "silhouette"
    k_rule: str = "best"
    # the score itself and its direction are named by k_criterion, which the settings (and the
    # clusterings cache key) hold: a function is not a setting
    k_score: Callable[[np.ndarray, np.ndarray], float] | None = field(
        default=None, repr=False, compare=False, metadata={"setting": False}
    )
    k_higher_is_better: bool = field(default=True, repr=False, compare=False, metadata={"setting": False})
    n_clusters_: int = field(default=0, init=False)
    k_choice_: Any = field(default=None, init=False, repr=False)
    cluster_centers_: np.ndarray | None = field(default=None, init=False, repr=False)

    def uses_minibatch(self, n: int) -> bool:
        """Whether ``n`` points are clustered with MiniBatchKMeans (above ``minibatch_threshold``)."""
        return self.backend == "cpu" and self.minibatch_threshold is not None and n > self.minibatch_threshold

    @classmethod
    def from_config(
        cls, cfg: Any, *, n_samples: int, n_classes: int | None, seed: int = 42, backend: str = "cpu"
    ) -> KMeansClusterer:
        """From the cluster section; k is ``cfg.n_clusters``, else ``n_classes``, else auto."""
        k = cfg.n_clusters or n_classes or "auto"
        return cls(
            n_clusters=k,
            n_init=cfg.kmeans.n_init,
            random_state=seed,
            minibatch_threshold=cfg.sample_threshold,
            backend=backend,
            k_min=cfg.k_min,
            k_max=cfg.k_max,
            k_criterion=cfg.k_criterion,
            k_rule=cfg.k_rule,
        )

    @classmethod
    def describe_fit(cls, cfg: Any, n: int, backend: str) -> str:
        """How ``n`` points are clustered, for the run manifest."""
        return (
            "MiniBatchKMeans"
            if cls(minibatch_threshold=cfg.sample_threshold, backend=backend).uses_minibatch(n)
            else "KMeans"
        )

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        if self.n_clusters == "auto":
            from ..choose_k import choose_k

            if self.k_score is None:
                raise ValueError(
                    "KMeans with n_clusters='auto' needs k_score, the label-free score k is chosen by, e.g. "
                    "simcse_lab.evaluation.scoring.k_criterion('silhouette')[0]"
                )
            self.k_choice_ = choose_k(
                x,
                score=self.k_score,
                higher_is_better=self.k_higher_is_better,
                k_min=self.k_min,
                k_max=self.k_max,
                criterion=self.k_criterion,
                seed=self.random_state or 0,
                rule=self.k_rule,
            )
            self.n_clusters = self.k_choice_.k
        if self.n_clusters < 2:
            raise ValueError(f"KMeans n_clusters must be >= 2, got {self.n_clusters}")
        if len(x) < self.n_clusters:
            raise ValueError(f"KMeans needs at least n_clusters={self.n_clusters} points, got {len(x)}")
        if self.backend == "cuml":
            from cuml.cluster import KMeans as CumlKMeans

            model = CumlKMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=self.random_state or 0)
            labels = np.asarray(model.fit_predict(np.asarray(x, dtype=np.float32)))
            self.cluster_centers_ = np.asarray(model.cluster_centers_)
        elif self.uses_minibatch(len(x)):
            from sklearn.cluster import MiniBatchKMeans

            model = MiniBatchKMeans(
                n_clusters=self.n_clusters, n_init=3, batch_size=4096, random_state=self.random_state
            )
            labels = model.fit_predict(x)
            self.cluster_centers_ = model.cluster_centers_
        else:
            from sklearn.cluster import KMeans

            model = KMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=self.random_state)
            labels = model.fit_predict(x)
            self.cluster_centers_ = model.cluster_centers_
        self.n_clusters_ = len(np.unique(labels))
        return labels.astype(np.int64)
