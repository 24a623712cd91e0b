"""``simcse(base)``: unsupervised SimCSE on the corpus texts, with the train section's settings
(`simcse_lab.training.simcse.train_simcse`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.registry import METHODS

if TYPE_CHECKING:
    from pathlib import Path

    from ...encoding.resolve import Resolved, SpecContext
    from ..lifecycle import TrainResult

__all__ = ["train_simcse_spec"]


@METHODS.register("simcse", "unsupervised SimCSE on the corpus texts (train section)", order=10)
def train_simcse_spec(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from ..simcse import train_simcse, training_texts

    cfg = ctx.need_config(f"simcse({base.spec})")
    if cfg.corpus.heldout and cfg.train.eval_steps:
        raise ValueError(
            "train.eval_steps (keep-best judged on labelled texts) and corpus.heldout exclude each other:"
            " with corpus.heldout no label may steer training"
        )
    if cfg.corpus.heldout:
        train_texts, eval_texts, eval_labels = ctx.get_train_texts(f"simcse({base.spec})"), None, None
    else:
        train_texts, eval_texts, eval_labels = training_texts(cfg, ctx.get_corpus(base.spec))
    return train_simcse(
        base.target,
        train_texts,
        cfg.train,
        output_dir=output_dir,
        seed=cfg.seed,
        device=cfg.encode.device,
        data_dir=cfg.data_dir,
        show_progress=cfg.encode.show_progress,
        eval_texts=eval_texts,
        eval_labels=eval_labels,
        verdict_signals=cfg.metrics.verdict_signals,
    )
