"""Silhouettes of a clustering read in three spaces: the one that was clustered, the start model's
and the texts' lexical (LSA) space.

``own_silhouette`` is what the verdict read first: the trained model's own geometry, which its
training can inflate. ``start_silhouette`` and ``lexical_silhouette`` read both clusterings of a
pair in one space that the trained model did not make.

>>> import numpy as np
>>> from simcse_lab.evaluation.views import Judged, LexicalView
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, .1, (20, 3)) + [1, 0, 0], rng.normal(0, .1, (20, 3)) + [0, 1, 0]]
>>> texts = ["wool coat"] * 20 + ["court law"] * 20
>>> good = Judged(np.repeat([0, 1], 20), x, x, LexicalView(texts, min_df=1))
>>> bad = Judged(np.tile([0, 1], 20), x, x, LexicalView(texts, min_df=1))
>>> every = np.arange(40)
>>> start_silhouette(good)(every) > 0.8 > 0.0 > start_silhouette(bad)(every)
True
"""

from __future__ import annotations

from ...core.registry import SIGNALS
from ._common import mean_of, per_text_silhouette

__all__ = ["lexical_silhouette", "own_silhouette", "start_silhouette"]


@SIGNALS.register("own_silhouette", "cosine silhouette in the clustered space (each model's own)", order=10)
def own_silhouette(j):
    return mean_of(per_text_silhouette(j.space, j.labels, j.kept, j.seed))


@SIGNALS.register(
    "start_silhouette", "cosine silhouette in the start model's embeddings (one space for both)", order=20
)
def start_silhouette(j):
    return mean_of(per_text_silhouette(j.start, j.labels, j.kept, j.seed))


@SIGNALS.register("lexical_silhouette", "cosine silhouette in the texts' TF-IDF/LSA space (no model)", order=30)
def lexical_silhouette(j):
    return mean_of(per_text_silhouette(j.lexical.lsa, j.labels, j.kept, j.seed))
