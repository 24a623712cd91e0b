"""Scoring a clustering with every registered score, and the table columns the scores make.

A score is one function registered with ``@SCORES.register(name, help, ...)``
(`simcse_lab.core.registry.SCORES`) in a module of `simcse_lab.evaluation.scores`; it
takes a `Clustering` and returns a float. Its metadata says how the comparison uses it:

- ``needs_labels`` (default True): computed only against labels;
- ``resample`` (default True): can be bootstrapped over the scored texts;
- ``spread`` (default False): the comparison bootstraps it and adds ``<name>_std``, ``<name>_lo``
  and ``<name>_hi`` columns.

The comparison table's score columns, the bootstrap and the spread columns all come from here.

Examples
--------
>>> y = np.array([0, 0, 1, 1, 2, 2])
>>> s = score_clustering(y, (y + 1) % 3)
>>> round(s["v_measure"], 6), round(s["ari"], 6)
(1.0, 1.0)
>>> metric_columns()[:3]
['v_measure', 'homogeneity', 'completeness']
>>> spread_columns()
['v_measure_std', 'v_measure_lo', 'v_measure_hi']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.registry import SCORES

__all__ = ["Clustering", "metric_columns", "score_clustering", "spread_columns", "spread_scores"]


@dataclass(frozen=True)
class Clustering:
    """What a score sees: predicted labels, the true ones when there are any, and the label that
    marks noise (HDBSCAN's -1; None: no noise)."""

    labels_pred: np.ndarray
    labels_true: np.ndarray | None = None
    noise_label: int | None = -1


def metric_columns() -> list[str]:
    """Every registered score's name, in the registry's order: the table's score columns."""
    return list(SCORES.names())


def spread_scores() -> list[str]:
    """The scores the comparison bootstraps (registered with ``spread=True``)."""
    return [e.name for e in SCORES if e.meta.get("spread", False)]


def spread_columns() -> list[str]:
    """``<score>_std``, ``<score>_lo``, ``<score>_hi`` for every spread score."""
    return [f"{m}_{part}" for m in spread_scores() for part in ("std", "lo", "hi")]


def score_clustering(labels_true, labels_pred, *, noise_label: int | None = -1) -> dict[str, float]:
    """Every registered score of ``labels_pred`` against ``labels_true`` (V-measure, homogeneity,
    completeness, ARI, AMI, number of clusters, noise fraction, and any score a plugin adds).

    ``noise_fraction`` is the share of ``labels_pred`` equal to ``noise_label`` (HDBSCAN's -1);
    those points are scored as one more cluster, as scikit-learn would.
    """
    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    if labels_true.ndim != 1 or labels_pred.ndim != 1:
        raise ValueError("labels_true and labels_pred must be 1-D")
    if len(labels_true) != len(labels_pred):
        raise ValueError(f"labels_true has {len(labels_true)} items but labels_pred has {len(labels_pred)}")
    if len(labels_true) == 0:
        raise ValueError("cannot score an empty clustering")
    c = Clustering(labels_pred, labels_true, noise_label)
    return {e.name: float(e.obj(c)) for e in SCORES}
