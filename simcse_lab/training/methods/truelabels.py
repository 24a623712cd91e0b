"""``truelabels(base)``: the ceiling a label-free method aims at, not a label-free method.

The same start model trained on the training part's *true* labels (the main label level), with
sentence-transformers' ``BatchHardTripletLoss`` on batches grouped by label: the same loss
``selftrain`` uses with ``loss: batch-hard-triplet``, with the labels in place of the pseudo-labels.
It never sees the held-out texts that are scored (``corpus.heldout``), so it is the best a method
of the same loss and budget can do on them; lesson 8 puts it beside the label-free methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...core.fields import setting as _f
from ...core.registry import METHODS
from ._common import settings_for_training, train_round

if TYPE_CHECKING:
    from pathlib import Path

    from ...encoding.resolve import Resolved, SpecContext
    from ..lifecycle import TrainResult

__all__ = ["TrueLabelsConfig", "train_truelabels"]


@dataclass(frozen=True)
class TrueLabelsConfig:
    """truelabels(base): the ceiling reference, batch-hard triplet on the training part's true labels."""

    epochs: float = _f(3.0, "passes over the training part", gt=0)
    margin: float = _f(5.0, "BatchHardTripletLoss margin", gt=0)
    learning_rate: float | None = _f(None, "peak learning rate (None: train.learning_rate)", gt=0, lt=1)


@METHODS.register(
    "truelabels",
    "the ceiling reference: batch-hard triplet on the training part's TRUE labels (uses labels; truelabels section)",
    section="truelabels",
    config=TrueLabelsConfig,
    order=90,
)
def train_truelabels(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from sentence_transformers.sentence_transformer.losses import BatchHardTripletLoss

    from ...corpus.splits import load_training_part_for

    spec = f"truelabels({base.spec})"
    cfg = ctx.need_config(spec)
    m = cfg.truelabels
    part = load_training_part_for(cfg)
    if not part.is_labelled:
        raise ValueError(
            f"{spec} trains on the true labels, and the corpus has none; it is a reference for labelled corpora only"
        )
    labels = part.label_array()
    codes = {c: i for i, c in enumerate(sorted(set(labels.tolist())))}
    columns = {"text": list(part.texts), "label": [codes[v] for v in labels.tolist()]}
    return train_round(
        base.target,
        columns,
        cfg,
        settings_for_training(cfg, m, epochs=m.epochs),
        kind="truelabels",
        method_cfg=m,
        round_=0,
        output_dir=output_dir,
        loss=lambda model: BatchHardTripletLoss(model, margin=m.margin),
        batch_sampler="group_by_label",
    )
