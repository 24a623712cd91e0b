"""``sup-simcse(base)``: supervised SimCSE on SNLI triplets (premise, entailment, contradiction),
with the train section's settings (`simcse_lab.training.simcse.train_supervised_simcse`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.registry import METHODS

if TYPE_CHECKING:
    from pathlib import Path

    from ...encoding.resolve import Resolved, SpecContext
    from ..lifecycle import TrainResult

__all__ = ["train_sup_simcse_spec"]


@METHODS.register("sup-simcse", "supervised SimCSE on SNLI triplets (train section, train.nli_n_triplets)", order=20)
def train_sup_simcse_spec(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from ...corpus.benchmarks import load_nli_triplets
    from ..simcse import train_supervised_simcse

    cfg = ctx.need_config(f"sup-simcse({base.spec})")
    triplets = load_nli_triplets("train", n=cfg.train.nli_n_triplets, seed=cfg.seed, data_dir=cfg.data_dir)
    return train_supervised_simcse(
        base.target,
        triplets,
        cfg.train,
        output_dir=output_dir,
        seed=cfg.seed,
        device=cfg.encode.device,
        data_dir=cfg.data_dir,
        show_progress=cfg.encode.show_progress,
    )
