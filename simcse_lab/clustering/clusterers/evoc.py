"""EVoC (Embedding Vector Oriented Clustering, by UMAP's author): clusters embedding vectors
directly, with no UMAP step, and picks the number of clusters itself from the most persistent of
several granularities (``evoc.EVoC``; numba-compiled on first use and cached by numba).

Its noise (label -1) is scored as one more cluster, with ``noise_fraction``, as HDBSCAN's hard
labels are. ``cluster.evoc.n_clusters`` asks for about that many clusters instead (EVoC's
``approx_n_clusters``). Each point's membership strength is kept as ``probabilities_``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...core.fields import setting
from ...core.jit_cache import guard_numba_cache
from ...core.registry import CLUSTERERS
from ..clusterer import Clusterer

__all__ = ["EVoCClusterer", "EVoCConfig"]


@dataclass(frozen=True)
class EVoCConfig:
    """EVoC (section ``cluster.evoc``)."""

    n_clusters: int | None = setting(None, "EVoC: about this many clusters (None: EVoC picks them itself)", ge=2)
    noise_level: float = setting(0.5, "EVoC noise_level (0: fewer noise points, 1: more)", ge=0, le=1)


@CLUSTERERS.register(
    "evoc",
    "EVoC on the vectors themselves: picks the number of clusters itself (noise -1 scored as one more cluster)",
    order=30,
    config=EVoCConfig,
    density=True,
)
@dataclass
class EVoCClusterer(Clusterer):
    """``evoc.EVoC`` with a seed; ``approx_n_clusters`` None lets EVoC choose."""

    approx_n_clusters: int | None = None
    noise_level: float = 0.5
    n_neighbors: int = 15
    random_state: int | None = 42
    n_clusters_: int = field(default=0, init=False)
    noise_fraction_: float = field(default=0.0, init=False)
    probabilities_: np.ndarray | None = field(default=None, init=False, repr=False)
    layers_: list[int] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def from_config(
        cls, cfg: Any, *, n_samples: int, n_classes: int | None = None, seed: int = 42, backend: str = "cpu"
    ) -> EVoCClusterer:
        """From the cluster section (``cluster.evoc``)."""
        return cls(approx_n_clusters=cfg.evoc.n_clusters, noise_level=cfg.evoc.noise_level, random_state=seed)

    @classmethod
    def describe_fit(cls, cfg: Any, n: int, backend: str) -> str:
        """How ``n`` points are clustered, for the run manifest."""
        return (
            f"EVoC, about {cfg.evoc.n_clusters} clusters" if cfg.evoc.n_clusters else "EVoC, its most persistent layer"
        )

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        guard_numba_cache()  # EVoC loads its cached kernels as it is imported
        try:
            import evoc
        except ImportError:  # pragma: no cover - a declared dependency
            raise ImportError("the evoc clusterer needs the evoc package: pip install evoc") from None
        n = len(x)
        if n < max(10, self.n_neighbors + 1):
            raise ValueError(f"EVoC needs more than {max(9, self.n_neighbors)} points, got {n}")
        model = evoc.EVoC(
            approx_n_clusters=self.approx_n_clusters,
            noise_level=self.noise_level,
            n_neighbors=self.n_neighbors,
            random_state=self.random_state,
        )
        labels = np.asarray(model.fit_predict(np.ascontiguousarray(x, dtype=np.float32))).astype(np.int64)
        self.probabilities_ = np.asarray(model.membership_strengths_, dtype=np.float64)
        self.layers_ = [int(layer.max() + 1) for layer in getattr(model, "cluster_layers_", [])]
        self.n_clusters_ = int(labels.max() + 1) if labels.size else 0
        self.noise_fraction_ = float(np.mean(labels == -1))
        return labels
