"""Clusters a person can read: each cluster's size, its top terms by class-based TF-IDF, and the
texts nearest its centre.

The terms are c-TF-IDF as BERTopic computes it: all texts of a cluster are joined into one
document, term counts are normalised per cluster and weighted by ``log(1 + A / f_t)`` (``A`` the
average number of words per cluster, ``f_t`` the term's count over all clusters). The weighting is
BERTopic's own ``bertopic.vectorizers.ClassTfidfTransformer``, the maintained implementation,
rather than a copy; the counts come from scikit-learn's ``CountVectorizer`` with English stop words
removed, fitted once per run (`TermIndex`) and summed per cluster for every clustering.

"Nearest the centre" is by cosine similarity to the mean of the cluster's normalised embeddings,
in the model's own embedding space. Noise (-1) is described like a cluster, named ``-1``.

Examples
--------
>>> texts = ["red dress", "blue dress", "dress fits", "warm coat", "wool coat", "coat zip"]
>>> x = np.array([[1, 0], [1, .1], [1, .2], [0, 1], [.1, 1], [.2, 1]], dtype=np.float32)
>>> d = describe_clusters(np.array([0, 0, 0, 1, 1, 1]), texts, x, TermIndex(texts))
>>> d[["cluster", "size", "top_terms"]].values.tolist()[0][:2], d["top_terms"].str.split(", ").str[0].tolist()
([0, 3], ['dress', 'coat'])
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TermIndex", "cluster_terms", "describe_clusters"]


class TermIndex:
    """The texts' term counts (``CountVectorizer``, English stop words), made once per run, when a
    clustering is first described (a run whose descriptions all come from the cache makes none)."""

    def __init__(self, texts: list[str], *, min_df: int = 2, max_features: int = 50_000) -> None:
        self.texts, self.min_df, self.max_features = texts, min_df, max_features

    @cached_property
    def _fitted(self) -> tuple[Any, np.ndarray]:
        from sklearn.feature_extraction.text import CountVectorizer

        min_df = self.min_df if len(self.texts) >= 50 else 1  # a handful of texts: every word counts
        vectorizer = CountVectorizer(stop_words="english", min_df=min_df, max_features=self.max_features)
        try:
            return vectorizer.fit_transform(self.texts).tocsr(), vectorizer.get_feature_names_out()
        except ValueError:  # no word survives (texts of stop words, numbers only)
            return None, np.array([], dtype=object)

    @property
    def counts(self) -> Any:
        """Texts x terms counts (CSR), or None when no word survives."""
        return self._fitted[0]

    @property
    def terms(self) -> np.ndarray:
        """The vocabulary, in the columns' order."""
        return self._fitted[1]


def cluster_terms(labels: np.ndarray, index: TermIndex, *, n_terms: int = 8) -> dict[int, list[str]]:
    """Each cluster's ``n_terms`` highest c-TF-IDF terms (BERTopic's ClassTfidfTransformer)."""
    import scipy.sparse as sp

    from ..core.jit_cache import import_with_jit_cache

    import_with_jit_cache("bertopic")  # BERTopic imports datamapplot, whose datashader kernels compile at import
    from bertopic.vectorizers import ClassTfidfTransformer

    clusters = np.unique(labels)
    if index.counts is None or not len(index.terms):
        return {int(c): [] for c in clusters}
    onehot = sp.csr_matrix(
        (np.ones(len(labels)), (np.searchsorted(clusters, labels), np.arange(len(labels)))),
        shape=(len(clusters), len(labels)),
    )
    per_cluster = onehot @ index.counts
    ctfidf = ClassTfidfTransformer().fit_transform(per_cluster).toarray()
    out = {}
    for row, c in enumerate(clusters):
        order = np.argsort(-ctfidf[row], kind="stable")[:n_terms]
        out[int(c)] = [str(index.terms[i]) for i in order if ctfidf[row, i] > 0]
    return out


def describe_clusters(
    labels: np.ndarray,
    texts: list[str],
    embeddings: np.ndarray,
    index: TermIndex,
    *,
    n_terms: int = 8,
    n_texts: int = 3,
    max_chars: int = 200,
) -> pd.DataFrame:
    """One row per cluster: ``cluster``, ``size``, ``share``, ``top_terms`` (comma-separated) and
    ``text_1..n_texts``, the texts nearest the cluster's centre (cut at ``max_chars``)."""
    labels = np.asarray(labels)
    if len(labels) != len(texts) or len(texts) != len(embeddings):
        raise ValueError(f"{len(labels)} labels, {len(texts)} texts and {len(embeddings)} embeddings must match")
    x = np.asarray(embeddings, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    terms = cluster_terms(labels, index, n_terms=n_terms)
    rows = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        centre = x[members].mean(axis=0)
        nearest = members[np.argsort(-(x[members] @ centre), kind="stable")[:n_texts]]
        row = {
            "cluster": int(c),
            "size": len(members),
            "share": len(members) / len(labels),
            "top_terms": ", ".join(terms[int(c)]),
        }
        for i in range(n_texts):
            t = texts[nearest[i]] if i < len(nearest) else ""
            row[f"text_{i + 1}"] = t if len(t) <= max_chars else t[:max_chars] + "…"
        rows.append(row)
    return pd.DataFrame(rows)
