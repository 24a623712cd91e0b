"""The held-out texts seen from where the judged model cannot reach: what the label-free verdict
on training reads a clustering in.

A trained model's clustering scored in that model's own space rewards whatever the training did
to the space: a method that pulls texts into compact groups raises its own silhouette whether or
not the groups follow the topics. The views here are made without the trained model:

- ``start``: the start model's embeddings of the same texts (both clusterings of a pair are read
  in the one space, so only the grouping differs);
- `LexicalView`: the texts' TF-IDF (English stop words, sublinear term frequency, l2 rows), its
  LSA projection (``TruncatedSVD``, l2 rows) and their term counts, which no training touches.

`Judged` is one clustering with those views; `simcse_lab.evaluation.signals` reads it.

Examples
--------
>>> view = LexicalView(["red wool coat", "blue wool coat", "tax law court", "court ruling law"] * 5,
...                    n_components=2, min_df=1)
>>> view.lsa.shape, bool(np.allclose(np.linalg.norm(view.lsa, axis=1), 1))
((20, 2), True)
>>> labels = view.kmeans(2)
>>> len(set(labels[0::4]) & set(labels[2::4]))
0
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["Judged", "LexicalView"]


class LexicalView:
    """TF-IDF and LSA of the texts, made once per run when first read; `kmeans` keeps each k's
    labels, so every clustering with that many clusters is compared with one lexical KMeans."""

    def __init__(
        self, texts: list[str], *, n_components: int = 100, min_df: int = 2, seed: int = 0, terms: Any = None
    ) -> None:
        self.texts, self.n_components, self.min_df, self.seed = list(texts), n_components, min_df, seed
        self._kmeans: dict[int, np.ndarray] = {}
        if terms is not None:  # the run's own term counts of the same texts (its cluster descriptions')
            self.terms = terms

    @cached_property
    def tfidf(self) -> Any:
        """Sparse TF-IDF rows (l2); an all-stop-word corpus falls back to every token."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        min_df = self.min_df if len(self.texts) >= 4 * self.min_df else 1
        for stop_words in ("english", None):
            try:
                return TfidfVectorizer(stop_words=stop_words, sublinear_tf=True, min_df=min_df).fit_transform(
                    self.texts
                )
            except ValueError:  # an empty vocabulary
                continue
        from scipy.sparse import csr_matrix

        return csr_matrix((len(self.texts), 1))

    @cached_property
    def lsa(self) -> np.ndarray:
        """The TF-IDF rows in ``n_components`` LSA dimensions (fewer for a small vocabulary), l2 rows."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.preprocessing import normalize

        tfidf = self.tfidf
        n = min(self.n_components, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
        if n < 1:
            return np.zeros((tfidf.shape[0], 1))
        return normalize(TruncatedSVD(n_components=n, random_state=self.seed).fit_transform(tfidf))

    @cached_property
    def terms(self) -> Any:
        """The texts' term counts (`simcse_lab.evaluation.describe.TermIndex`), for c-TF-IDF terms."""
        from .describe import TermIndex

        return TermIndex(self.texts)

    @cached_property
    def documents(self) -> list[list[str]]:
        """Each text as its set of counted terms (the vocabulary of `terms`), for co-occurrence counts."""
        counts, vocabulary = self.terms.counts, self.terms.terms
        if counts is None:
            return [[] for _ in self.texts]
        return [
            [str(vocabulary[j]) for j in counts.indices[counts.indptr[i] : counts.indptr[i + 1]]]
            for i in range(counts.shape[0])
        ]

    def kmeans(self, k: int) -> np.ndarray:
        """KMeans labels of the LSA rows with ``k`` clusters (seeded, kept per k)."""
        if k not in self._kmeans:
            from sklearn.cluster import KMeans

            k_fit = max(1, min(k, len(self.lsa)))
            self._kmeans[k] = KMeans(n_clusters=k_fit, n_init=10, random_state=self.seed).fit_predict(self.lsa)
        return self._kmeans[k]


@dataclass(frozen=True)
class Judged:
    """One clustering of the held-out texts, as the verdict signals see it: its labels (``noise_label``
    marks noise; None: no noise), the points that were clustered (``space``), the start model's
    embeddings of the same texts (``start``: the model's own when it was not trained) and the
    lexical view."""

    labels: np.ndarray
    space: np.ndarray
    start: np.ndarray
    lexical: LexicalView
    noise_label: int | None = -1
    seed: int = 0

    @property
    def kept(self) -> np.ndarray:
        """A mask of the texts that are in a cluster (not noise)."""
        labels = np.asarray(self.labels)
        return np.ones(len(labels), bool) if self.noise_label is None else labels != self.noise_label

    @property
    def n_clusters(self) -> int:
        return len(np.unique(np.asarray(self.labels)[self.kept]))
