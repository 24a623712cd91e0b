"""Signals read off the words of the texts: does a clustering follow what the texts say?

- ``lexical_nmi``: normalised mutual information between the clustering and a KMeans of the
  texts' LSA vectors with as many clusters (an independent view at the same granularity);
- ``bow_kappa``: how well a bag-of-words classifier (complement naive Bayes on TF-IDF, the
  classic fast text baseline) predicts the clusters of texts it was not fitted on (5-fold
  cross-validation), as Cohen's kappa, so a clustering into few clusters gets no credit for chance.

Noise (HDBSCAN's -1) is left out of both.

>>> from simcse_lab.evaluation.views import Judged, LexicalView
>>> texts = ["red wool coat warm", "blue wool coat soft"] * 10 + ["tax law court ruling", "court law judge"] * 10
>>> view = LexicalView(texts, n_components=2, min_df=1)
>>> x = np.zeros((40, 2))
>>> topics, shuffled = np.repeat([0, 1], 20), np.tile([0, 1], 20)
>>> every = np.arange(40)
>>> lexical_nmi(Judged(topics, x, x, view))(every) > 0.9 > 0.1 > lexical_nmi(Judged(shuffled, x, x, view))(every)
True
>>> bow_kappa(Judged(topics, x, x, view))(every) > 0.9
True
"""

from __future__ import annotations

import numpy as np

from ...core.registry import SIGNALS
from ._common import codes, contingency, kappa, nmi

__all__ = ["bow_kappa", "lexical_nmi"]


@SIGNALS.register(
    "lexical_nmi", "NMI with a KMeans of the texts' TF-IDF/LSA vectors at the same number of clusters", order=40
)
def lexical_nmi(j):
    kept = j.kept
    a, ka = codes(j.labels)
    b, kb = codes(j.lexical.kmeans(max(j.n_clusters, 1)))

    def f(rows: np.ndarray) -> float:
        rows = rows[kept[rows]]
        return nmi(contingency(a[rows], ka, b[rows], kb)) if len(rows) else float("nan")

    return f


@SIGNALS.register(
    "bow_kappa",
    "Cohen's kappa of a bag-of-words classifier (complement naive Bayes on TF-IDF)"
    " predicting the clusters, 5-fold cross-validated",
    order=50,
)
def bow_kappa(j):
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.naive_bayes import ComplementNB

    kept = j.kept
    a, ka = codes(j.labels)
    idx = np.flatnonzero(kept)
    predicted = np.full(len(a), -1, dtype=np.int64)
    if len(np.unique(a[idx])) >= 2 and len(idx) >= 10:
        folds = KFold(n_splits=5, shuffle=True, random_state=j.seed)
        predicted[idx] = cross_val_predict(ComplementNB(), j.lexical.tfidf[idx], a[idx], cv=folds)

    def f(rows: np.ndarray) -> float:
        rows = rows[kept[rows]]
        if not len(rows) or (predicted[rows] < 0).any():
            return float("nan")
        return kappa(contingency(a[rows], ka, predicted[rows], ka))

    return f
