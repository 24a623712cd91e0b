"""Clusterers with the scikit-learn shape (``fit_predict``), one module each: the registered
class (a `simcse_lab.clustering.clusterer.Clusterer`) and its settings section ``cluster.<name>``.

``cluster.clusterers`` accepts exactly the registered names, the config schema collects their
sections, and the scaling report asks each how it fits.
"""

from __future__ import annotations

from typing import Any

from ...core.registry import CLUSTERERS
from ..clusterer import Clusterer
from .evoc import EVoCClusterer
from .hdbscan import HDBSCANClusterer, default_min_cluster_size
from .kmeans import KMeansClusterer

__all__ = ["EVoCClusterer", "HDBSCANClusterer", "KMeansClusterer", "default_min_cluster_size", "make_clusterer"]


def make_clusterer(
    method: str, cfg: Any, *, n_samples: int, n_classes: int | None, seed: int = 42, backend: str = "cpu"
) -> Clusterer:
    """The registered clusterer ``method``, built from the cluster section ``cfg``."""
    cls = CLUSTERERS[method].obj
    if not (isinstance(cls, type) and issubclass(cls, Clusterer)):
        raise TypeError(f"clusterer {method!r} ({cls!r}) must derive from simcse_lab.clustering.clusterer.Clusterer")
    return cls.from_config(cfg, n_samples=n_samples, n_classes=n_classes, seed=seed, backend=backend)
