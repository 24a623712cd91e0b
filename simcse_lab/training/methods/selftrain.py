"""``selftrain(base)`` (DeepCluster-style): KMeans on the model's embeddings, keep each cluster's
most central members, train with same-cluster positives (MNRL) or a batch-hard triplet loss grouped
by pseudo-label, re-cluster; ``rounds`` times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...core.fields import k_problems
from ...core.fields import setting as _f
from ...core.registry import METHODS
from ._common import (
    embed,
    method_inputs,
    n_clusters_for,
    pseudo_labels,
    settings_for_training,
    train_round,
    with_chosen_k,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ...encoding.resolve import Resolved, SpecContext
    from ..lifecycle import TrainResult

__all__ = ["SelfTrainConfig", "train_selftrain"]


@dataclass(frozen=True)
class SelfTrainConfig:
    """selftrain(base): KMeans pseudo-labels of confident texts, trained on, re-clustered (DeepCluster)."""

    rounds: int = _f(2, "cluster -> train one epoch -> re-cluster rounds", ge=1)
    n_clusters: int | str | None = _f(
        None,
        "KMeans k: a number; auto (chosen without labels, as cluster.n_clusters auto); None: the number of"
        " classes of the main label level, as for scoring (auto on a corpus without labels)",
        ge=2,
    )
    confidence: float = _f(
        0.5, "fraction of each pseudo-cluster kept for training: the members closest to its centre", gt=0, le=1
    )
    loss: str = _f(
        "mnrl",
        "mnrl (a same-cluster text as the positive) or batch-hard-triplet (batches grouped by pseudo-label)",
        choices=("mnrl", "batch-hard-triplet"),
    )
    scale: float = _f(20.0, "MultipleNegativesRankingLoss scale (mnrl)", gt=0)
    margin: float = _f(5.0, "BatchHardTripletLoss margin (batch-hard-triplet)", gt=0)
    learning_rate: float | None = _f(None, "peak learning rate (None: train.learning_rate)", gt=0, lt=1)

    def cross_checks(self) -> list[str]:
        return k_problems("selftrain.n_clusters", self.n_clusters)


@METHODS.register(
    "selftrain",
    "KMeans pseudo-label self-training, re-clustered each round (selftrain section)",
    section="selftrain",
    config=SelfTrainConfig,
    order=50,
)
def train_selftrain(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from sentence_transformers.sentence_transformer.losses import (
        BatchHardTripletLoss,
        MultipleNegativesRankingLoss,
    )

    from ..lifecycle import gather_across_devices as _gather

    run = method_inputs("selftrain", "selftrain", base, ctx)
    spec, cfg, m, texts = run.spec, run.cfg, run.settings, run.texts
    target, result = base.target, None
    k, choice = n_clusters_for(m.n_clusters, ctx, spec, embed(target, texts, cfg))
    m = with_chosen_k(m, k, choice)
    for r in range(m.rounds):
        labels, keep = pseudo_labels(embed(target, texts, cfg), k, confidence=m.confidence, seed=cfg.seed + r)
        paired = _paired(labels, keep, k=k, n_texts=len(texts), confidence=m.confidence)
        rng = np.random.default_rng(cfg.seed + r)
        if m.loss == "mnrl":
            keep = paired  # a text alone in its pseudo-cluster has no positive to pair with
            members = {c: keep[labels[keep] == c] for c in np.unique(labels[keep])}
            partner = [rng.choice(members[labels[i]][members[labels[i]] != i]) for i in keep]
            columns = {"anchor": [texts[i] for i in keep], "positive": [texts[j] for j in partner]}
            kwargs: dict[str, Any] = {
                "loss": lambda model: MultipleNegativesRankingLoss(
                    model, scale=m.scale, gather_across_devices=_gather()
                )
            }
        else:
            columns = {"text": [texts[i] for i in keep], "label": labels[keep].tolist()}
            kwargs = {
                "loss": lambda model: BatchHardTripletLoss(model, margin=m.margin),
                "batch_sampler": "group_by_label",
            }
        result = train_round(
            target,
            columns,
            cfg,
            settings_for_training(cfg, m),
            kind="selftrain",
            method_cfg=m,
            round_=r,
            output_dir=output_dir if r == m.rounds - 1 else None,
            **kwargs,
        )
        target = str(result.model_dir)
    return result


def _paired(labels: np.ndarray, keep: np.ndarray, *, k: int, n_texts: int, confidence: float) -> np.ndarray:
    """The kept texts whose pseudo-cluster keeps another text too (a text alone in its cluster has
    no positive); too few of them is an error naming the setting, not a trainer's error."""
    counts = np.bincount(labels[keep], minlength=k)
    paired = keep[counts[labels[keep]] >= 2]
    if len(paired) < 4:
        raise ValueError(
            f"selftrain.n_clusters={k}: {n_texts} training texts leave {len(paired)} confident texts in pseudo-clusters"
            f" of two or more (selftrain.confidence={confidence}), too few to train on; lower selftrain.n_clusters,"
            " raise selftrain.confidence or give more texts"
        )
    return paired
