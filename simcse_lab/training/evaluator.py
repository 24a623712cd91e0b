"""Evaluators that run inside training (sentence-transformers' evaluator interface; torch-heavy).

`ClusteringEvaluator`: KMeans on the embeddings of a held-out slice, scored by V-measure against
its labels (k = the number of classes), or, with no label at all (``train.keep_best_by``), k is
chosen once, without labels, on the untouched model's embeddings of the slice
(`simcse_lab.clustering.choose_k`) and held for every later evaluation, and the clustering is
scored by

- ``silhouette``: its cosine silhouette in the model's own space (which training can inflate), or
- ``verdict``: the label-free verdict (`simcse_lab.evaluation.verdict`) against the untouched
  model's clustering of the slice, read on ``signals`` (``metrics.verdict_signals``). The score is
  the smallest, over the signals, of the paired difference's lower 95% bound in units of its
  interval's width: above 0 exactly when every signal says ``better``; the untouched model scores 0.

Logged as ``eval_<name>_<metric>`` and usable for keep-best. The labels, when used, score only,
never train.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from ..evaluation.scoring import score_clustering

__all__ = ["BY", "ClusteringEvaluator"]

#: what keep-best can read: V-measure (labels), or without labels the own-space silhouette or the verdict
BY = ("v_measure", "silhouette", "verdict")


class ClusteringEvaluator(BaseEvaluator):
    """Held-out clustering quality during training."""

    def __init__(
        self,
        texts: list[str],
        labels: Any = None,
        *,
        name: str = "heldout",
        batch_size: int = 64,
        seed: int = 0,
        by: str = "v_measure",
        signals: tuple[str, ...] | list[str] = (),
        n_resamples: int = 200,
    ) -> None:
        super().__init__()
        if by not in BY:
            raise ValueError(f"the clustering evaluator scores by {', '.join(BY)}, got {by!r}")
        if by == "verdict":
            from ..core.registry import SIGNALS

            if not signals:
                raise ValueError("keep-best by verdict needs the signals it reads (metrics.verdict_signals)")
            for signal in signals:
                SIGNALS[signal]  # an unknown signal fails before training starts
        self.signals, self.n_resamples = tuple(signals), n_resamples
        self.texts = list(texts)
        self.labels = None if by != "v_measure" or labels is None else np.asarray(labels)
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
        self._start: Any = None  # verdict: the untouched model's clustering of the slice, as the signals read it
        self.history: list[dict[str, float]] = []

    @property
    def metric_key(self) -> str:
        """The key the trainer logs (and keep-best compares)."""
        return f"eval_{self.name}_{self.by}"

    def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        from ..clustering.clusterers import KMeansClusterer

        emb = np.asarray(
            model.encode(self.texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        )
        if self.k is None:
            from ..clustering.choose_k import choose_k
            from ..evaluation.scoring import k_criterion

            score, higher = k_criterion("silhouette", seed=self.seed)
            choice = choose_k(emb, score=score, higher_is_better=higher, k_max=min(15, len(emb) - 1), seed=self.seed)
            self.k, self.k_choice = choice.k, choice.as_dict()
        pred = KMeansClusterer(n_clusters=self.k, n_init=10, random_state=self.seed).fit_predict(emb)
        if self.by == "v_measure":
            v = score_clustering(self.labels, pred)["v_measure"]
        elif self.by == "verdict":
            v = self._verdict_score(pred, emb)
        else:
            from ..evaluation.scores.internal import silhouette
            from ..evaluation.scoring import Clustering

            v = silhouette(Clustering(pred, None, None, emb, seed=self.seed))
        self.history.append({"step": steps, "epoch": epoch, self.by: v})
        return self.prefix_name_to_metrics({self.by: v}, self.name)

    def _verdict_score(self, pred: np.ndarray, emb: np.ndarray) -> float:
        """0 for the untouched model (the first call); after it, the smallest over the signals of
        the paired difference's lower bound in units of its interval's width (> 0: all say better)."""
        from ..core.registry import SIGNALS
        from ..evaluation.verdict import paired_difference
        from ..evaluation.views import Judged, LexicalView

        if self._start is None:
            self._start = Judged(pred, emb, emb, LexicalView(self.texts, seed=self.seed), seed=self.seed)
            return 0.0
        now = Judged(pred, emb, self._start.space, self._start.lexical, seed=self.seed)
        scores = []
        for signal in self.signals:
            fn = SIGNALS[signal].obj
            d = paired_difference(fn(now), fn(self._start), len(pred), n_resamples=self.n_resamples, seed=self.seed)
            if not np.isfinite(d["lo"]):
                return float("-inf")  # a signal that cannot be read never says better
            scores.append(d["lo"] / max(d["hi"] - d["lo"], 1e-12))
        return float(min(scores))
