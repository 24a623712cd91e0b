"""Evaluators that run inside training (sentence-transformers' evaluator interface; torch-heavy).

`ClusteringEvaluator`: KMeans (k = number of classes) on the embeddings of a held-out
slice, scored by V-measure; logged as ``eval_<name>_v_measure`` and usable for keep-best.
The labels are used for scoring only, never for training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from ..evaluation.scoring import score_clustering

__all__ = ["ClusteringEvaluator"]


class ClusteringEvaluator(BaseEvaluator):
    """Held-out clustering quality during training."""

    def __init__(self, texts: list[str], labels: Any, *, name: str = "heldout", batch_size: int = 64,
                 seed: int = 0) -> None:
        super().__init__()
        self.texts = list(texts)
        self.labels = np.asarray(labels)
        self.k = len(np.unique(self.labels))
        if self.k < 2 or len(self.texts) != len(self.labels):
            raise ValueError("the clustering evaluator needs texts with matching labels of at least 2 classes")
        self.name, self.batch_size, self.seed = name, batch_size, seed
        self.primary_metric = "v_measure"
        self.history: list[dict[str, float]] = []

    @property
    def metric_key(self) -> str:
        """The key the trainer logs (and keep-best compares)."""
        return f"eval_{self.name}_v_measure"

    def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        from ..clustering.clusterers import KMeansClusterer

        emb = model.encode(self.texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        pred = KMeansClusterer(n_clusters=self.k, n_init=10, random_state=self.seed).fit_predict(np.asarray(emb))
        v = score_clustering(self.labels, pred)["v_measure"]
        self.history.append({"step": steps, "epoch": epoch, "v_measure": v})
        return self.prefix_name_to_metrics({"v_measure": v}, self.name)
