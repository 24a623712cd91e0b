"""Evaluators that run inside training (sentence-transformers' evaluator interface; torch-heavy).

`ClusteringEvaluator`: KMeans on the embeddings of a held-out slice, scored by V-measure against
its labels (k = the number of classes), or, with ``by="silhouette"`` (``train.keep_best_by``), by
the cosine silhouette of the clustering, with no label at all: k is then chosen once, without
labels, on the untouched model's embeddings of the slice (`simcse_lab.clustering.choose_k`) and
held for every later evaluation. Logged as ``eval_<name>_<metric>`` and usable for keep-best. The
labels, when used, score only, never train.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from ..evaluation.scoring import score_clustering

__all__ = ["ClusteringEvaluator"]


class ClusteringEvaluator(BaseEvaluator):
    """Held-out clustering quality during training."""

    def __init__(self, texts: list[str], labels: Any = None, *, name: str = "heldout", batch_size: int = 64,
                 seed: int = 0, by: str = "v_measure") -> None:
        super().__init__()
        if by not in ("v_measure", "silhouette"):
            raise ValueError(f"the clustering evaluator scores by v_measure or silhouette, got {by!r}")
        self.texts = list(texts)
        self.labels = None if by == "silhouette" or labels is None else np.asarray(labels)
        if by == "v_measure":
            if self.labels is None:
                raise ValueError("keep-best by V-measure needs labels; set train.keep_best_by=silhouette")
            self.k: int | None = len(np.unique(self.labels))
            if self.k < 2 or len(self.texts) != len(self.labels):
                raise ValueError("the clustering evaluator needs texts with matching labels of at least 2 classes")
        else:
            self.k = None  # chosen without labels at the first evaluation (the untouched model)
            if len(self.texts) < 4:
                raise ValueError(f"a held-out slice of {len(self.texts)} texts is too small to cluster")
        self.name, self.batch_size, self.seed = name, batch_size, seed
        self.by = by  # sentence-transformers prefixes primary_metric with the name once it has run
        self.primary_metric = by
        self.k_choice: dict | None = None
        self.history: list[dict[str, float]] = []

    @property
    def metric_key(self) -> str:
        """The key the trainer logs (and keep-best compares)."""
        return f"eval_{self.name}_{self.by}"

    def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        from ..clustering.clusterers import KMeansClusterer

        emb = np.asarray(model.encode(self.texts, batch_size=self.batch_size, normalize_embeddings=True,
                                      show_progress_bar=False))
        if self.k is None:
            from ..clustering.choose_k import choose_k

            choice = choose_k(emb, k_max=min(15, len(emb) - 1), seed=self.seed)
            self.k, self.k_choice = choice.k, choice.as_dict()
        pred = KMeansClusterer(n_clusters=self.k, n_init=10, random_state=self.seed).fit_predict(emb)
        if self.by == "v_measure":
            v = score_clustering(self.labels, pred)["v_measure"]
        else:
            from ..evaluation.scores.internal import silhouette
            from ..evaluation.scoring import Clustering

            v = silhouette(Clustering(pred, None, None, emb, seed=self.seed))
        self.history.append({"step": steps, "epoch": epoch, self.by: v})
        return self.prefix_name_to_metrics({self.by: v}, self.name)
