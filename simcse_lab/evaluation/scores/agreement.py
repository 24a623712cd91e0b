"""Agreement of a clustering with the labels: scikit-learn's external clustering metrics.

V-measure is the harmonic mean of homogeneity (each cluster holds one class) and completeness
(each class sits in one cluster); ARI and AMI are corrected for chance.

>>> import numpy as np
>>> from simcse_lab.evaluation.scoring import Clustering
>>> c = Clustering(np.array([1, 1, 0, 0]), np.array([0, 0, 1, 1]))
>>> v_measure(c), ari(c)
(1.0, 1.0)
"""

from __future__ import annotations

from ...core.registry import SCORES

__all__ = ["ami", "ari", "completeness", "homogeneity", "v_measure"]


@SCORES.register("v_measure", "V-measure: harmonic mean of homogeneity and completeness", order=10, spread=True)
def v_measure(c) -> float:
    from sklearn.metrics import v_measure_score

    return float(v_measure_score(c.labels_true, c.labels_pred))


@SCORES.register("homogeneity", "homogeneity: each cluster holds members of one class only", order=20)
def homogeneity(c) -> float:
    from sklearn.metrics import homogeneity_score

    return float(homogeneity_score(c.labels_true, c.labels_pred))


@SCORES.register("completeness", "completeness: all members of a class sit in one cluster", order=30)
def completeness(c) -> float:
    from sklearn.metrics import completeness_score

    return float(completeness_score(c.labels_true, c.labels_pred))


@SCORES.register("ari", "adjusted Rand index (0: chance, 1: identical partitions)", order=40)
def ari(c) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(c.labels_true, c.labels_pred))


@SCORES.register("ami", "adjusted mutual information (0: chance, 1: identical partitions)", order=50)
def ami(c) -> float:
    from sklearn.metrics import adjusted_mutual_info_score

    return float(adjusted_mutual_info_score(c.labels_true, c.labels_pred))
