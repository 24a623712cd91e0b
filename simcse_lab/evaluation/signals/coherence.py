"""Topic coherence: do each cluster's top terms occur together in the texts?

``npmi``: each cluster's 10 highest c-TF-IDF terms (BERTopic's ``ClassTfidfTransformer``, as the
cluster descriptions use), scored by normalised pointwise mutual information over the held-out
texts, as BERTopic's paper and OCTIS report topic coherence: gensim's ``CoherenceModel`` with
``coherence="c_npmi"`` and a window as long as the longest text (co-occurrence in one text).
A text's value is its cluster's coherence, so the signal is the mean coherence weighted by cluster
size, and a resample of the texts resamples the clusters by size; the coherences themselves are
computed once, on every held-out text. Noise and clusters with fewer than two terms are left out.
"""

from __future__ import annotations

import numpy as np

from ...core.registry import SIGNALS
from ._common import mean_of

__all__ = ["npmi"]

N_TERMS = 10


@SIGNALS.register("npmi", "size-weighted NPMI coherence of each cluster's top c-TF-IDF terms (gensim c_npmi)", order=60)
def npmi(j):
    from ..describe import cluster_terms

    labels, kept = np.asarray(j.labels), j.kept
    values = np.full(len(labels), np.nan)
    topics = {
        c: t
        for c, t in cluster_terms(labels, j.lexical.terms, n_terms=N_TERMS).items()
        if len(t) >= 2 and (j.noise_label is None or c != j.noise_label)
    }
    if topics:
        coherence = _coherence(list(topics.values()), j.lexical.documents)
        for c, value in zip(topics, coherence):
            values[kept & (labels == c)] = value
    return mean_of(values)


def _coherence(topics: list[list[str]], documents: list[list[str]]) -> list[float]:
    import logging

    logging.getLogger("gensim").setLevel(logging.WARNING)  # a line per dictionary and accumulator otherwise
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    dictionary = Dictionary(documents)
    window = max(2, max((len(d) for d in documents), default=2))
    model = CoherenceModel(
        topics=topics,
        texts=documents,
        dictionary=dictionary,
        coherence="c_npmi",
        window_size=window,
        topn=N_TERMS,
        processes=1,
    )
    return [float(v) for v in model.get_coherence_per_topic()]
