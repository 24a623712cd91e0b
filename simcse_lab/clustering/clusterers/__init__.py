"""Clusterers with the scikit-learn shape (``fit_predict``), one registered class per module.

A clusterer is registered with ``@CLUSTERERS.register(name, help)``
(`simcse_lab.core.registry.CLUSTERERS`) and has

- ``from_config(cfg.cluster, *, n_samples, n_classes, seed, backend)``: the instance a run uses;
- ``describe_fit(cfg.cluster, n, backend)`` (a classmethod): how ``n`` points are clustered, for
  the run manifest;
- ``fit_predict(x) -> (n,) int64`` and, after it, ``extra_labels_``: further labelings the same fit
  gave, by the name they are reported under (HDBSCAN's ``hdbscan-hard``), so the orchestrator
  scores them without knowing which clusterer made them.

``cluster.methods`` accepts exactly the registered names, and the scaling report asks each.
"""

from __future__ import annotations

from typing import Any

from ...core.registry import CLUSTERERS
from .evoc import EVoCClusterer
from .hdbscan import HDBSCANClusterer, default_min_cluster_size
from .kmeans import KMeansClusterer

__all__ = ["EVoCClusterer", "HDBSCANClusterer", "KMeansClusterer", "default_min_cluster_size", "make_clusterer"]


def make_clusterer(
    method: str, cfg: Any, *, n_samples: int, n_classes: int | None, seed: int = 42, backend: str = "cpu"
) -> Any:
    """The registered clusterer ``method``, built from the cluster section ``cfg``."""
    return CLUSTERERS[method].obj.from_config(cfg, n_samples=n_samples, n_classes=n_classes, seed=seed, backend=backend)
