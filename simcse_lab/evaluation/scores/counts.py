"""What a clustering looks like without the labels: how many clusters, and how much noise.

>>> from simcse_lab.evaluation.scoring import Clustering
>>> c = Clustering(np.array([0, 0, 1, -1]))
>>> n_clusters(c), noise_fraction(c)
(2.0, 0.25)
"""

from __future__ import annotations

import numpy as np

from ...core.registry import SCORES

__all__ = ["n_clusters", "noise_fraction"]


@SCORES.register("n_clusters", "clusters found (noise not counted)", order=60, needs_labels=False, resample=False)
def n_clusters(c) -> float:
    clusters = set(np.unique(c.labels_pred).tolist()) - ({c.noise_label} if c.noise_label is not None else set())
    return float(len(clusters))


@SCORES.register(
    "noise_fraction", "share of texts labelled noise (HDBSCAN's -1)", order=70, needs_labels=False, resample=False
)
def noise_fraction(c) -> float:
    return float(np.mean(c.labels_pred == c.noise_label)) if c.noise_label is not None else 0.0
