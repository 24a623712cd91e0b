"""``neighbours(base)`` (MTP-CLNN, Zhang et al. ACL 2022): each text's positive is one of its ``k``
nearest neighbours in the model's own embedding space; sentence-transformers'
``MultipleNegativesRankingLoss``. Texts that share a topic are pulled together instead of apart,
which is what SimCSE's same-text positives do wrong for clustering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...core.fields import setting as _f
from ...core.registry import METHODS
from ._common import embed, method_inputs, settings_for_training, train_round

if TYPE_CHECKING:
    from pathlib import Path

    from ...encoding.resolve import Resolved, SpecContext
    from ..lifecycle import TrainResult

__all__ = ["NeighboursConfig", "draw_neighbour_positives", "mine_neighbours", "train_neighbours"]


@dataclass(frozen=True)
class NeighboursConfig:
    """neighbours(base): each text's positive is one of its k nearest neighbours (MTP-CLNN)."""

    k: int = _f(10, "neighbours per text, by cosine in the model's own embeddings", ge=1)
    positive: str = _f(
        "random",
        "which of the k is the positive: random (a new draw every epoch) or nearest",
        choices=("random", "nearest"),
    )
    remine: bool = _f(False, "mine the neighbours again with the current model before every epoch")
    scale: float = _f(20.0, "MultipleNegativesRankingLoss scale (1 / temperature)", gt=0)
    learning_rate: float | None = _f(None, "peak learning rate (None: train.learning_rate)", gt=0, lt=1)


def mine_neighbours(x: np.ndarray, k: int) -> np.ndarray:
    """``(n, k)`` indices of each row's ``k`` most cosine-similar other rows, most similar first.

    >>> x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    >>> mine_neighbours(x, 1).ravel().tolist()
    [1, 0, 3, 2]
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(x) - 1)
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(x)
    idx = nn.kneighbors(x, return_distance=False)
    # drop each row itself (a duplicate may come first, so remove by value, not by position)
    out = np.array([[j for j in row if j != i][:k] for i, row in enumerate(idx)], dtype=np.int64)
    return out


def draw_neighbour_positives(neighbours: np.ndarray, *, positive: str, seed: int) -> np.ndarray:
    """One positive per text from its neighbours: ``nearest`` or a seeded ``random`` draw."""
    if positive == "nearest":
        return neighbours[:, 0]
    rng = np.random.default_rng(seed)
    return neighbours[np.arange(len(neighbours)), rng.integers(0, neighbours.shape[1], size=len(neighbours))]


@METHODS.register(
    "neighbours",
    "k-nearest-neighbour positives, MultipleNegativesRankingLoss (neighbours section)",
    section="neighbours",
    config=NeighboursConfig,
    order=30,
)
def train_neighbours(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )

    from ..lifecycle import gather_across_devices as _gather

    run = method_inputs("neighbours", "neighbours", base, ctx)
    cfg, m, texts = run.cfg, run.settings, run.texts
    n_epochs = max(1, math.ceil(cfg.train.epochs))
    # remine: one round per epoch, each mining with the model of the round before; otherwise
    # one run over a fresh draw of positives per epoch, mined once with the start model
    rounds = n_epochs if m.remine else 1
    draws = 1 if m.remine else n_epochs
    target, result = base.target, None
    for r in range(rounds):
        neighbours = mine_neighbours(embed(target, texts, cfg), m.k)
        positives = [
            draw_neighbour_positives(neighbours, positive=m.positive, seed=cfg.seed + 1000 * r + d)
            for d in range(draws)
        ]
        columns = {"anchor": texts * draws, "positive": [texts[j] for p in positives for j in p]}
        epochs = cfg.train.epochs / n_epochs if m.remine else cfg.train.epochs / draws
        result = train_round(
            target,
            columns,
            cfg,
            settings_for_training(cfg, m, epochs=epochs),
            kind="neighbours",
            method_cfg=m,
            round_=r,
            output_dir=output_dir if r == rounds - 1 else None,
            loss=lambda model: MultipleNegativesRankingLoss(model, scale=m.scale, gather_across_devices=_gather()),
        )
        target = str(result.model_dir)
    return result
