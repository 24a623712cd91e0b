"""``ct(base)``: Contrastive Tension, sentence-transformers' ``ContrastiveTensionLossInBatchNegatives``
as shipped, a domain-adaptation baseline of its documentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...core.fields import setting as _f
from ...core.registry import METHODS
from ._common import method_inputs, settings_for_training, train_round

if TYPE_CHECKING:
    from pathlib import Path

    from ...encoding.resolve import Resolved, SpecContext
    from ..lifecycle import TrainResult

__all__ = ["CTConfig", "train_ct"]


@dataclass(frozen=True)
class CTConfig:
    """ct(base): sentence-transformers' ContrastiveTensionLossInBatchNegatives, as shipped."""

    scale: float = _f(20.0, "similarity scale of the loss", gt=0)
    learning_rate: float | None = _f(None, "peak learning rate (None: train.learning_rate)", gt=0, lt=1)


@METHODS.register(
    "ct",
    "Contrastive Tension: ContrastiveTensionLossInBatchNegatives as shipped (ct section)",
    section="ct",
    config=CTConfig,
    order=70,
)
def train_ct(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from sentence_transformers.sentence_transformer.losses import (
        ContrastiveTensionLossInBatchNegatives,
    )

    run = method_inputs("ct", "ct", base, ctx)
    cfg, m, texts = run.cfg, run.settings, run.texts
    return train_round(
        base.target,
        {"anchor": texts, "positive": texts},
        cfg,
        settings_for_training(cfg, m),
        kind="ct",
        method_cfg=m,
        round_=0,
        output_dir=output_dir,
        loss=lambda model: ContrastiveTensionLossInBatchNegatives(model, scale=m.scale),
    )
