"""``sccl(base)`` (Zhang et al. NAACL 2021), the "virtual augmentation" variant: two dropout views,
an instance-contrastive loss on a projection head and a DEC clustering loss on KMeans-initialised
centres (`simcse_lab.training.losses.SCCLLoss`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...core.fields import k_problems
from ...core.fields import setting as _f
from ...core.registry import METHODS
from ._common import (
    embed,
    method_inputs,
    n_clusters_for,
    settings_for_training,
    train_round,
    with_chosen_k,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ...encoding.resolve import Resolved, SpecContext
    from ..lifecycle import TrainResult

__all__ = ["SCCLConfig", "train_sccl"]


@dataclass(frozen=True)
class SCCLConfig:
    """sccl(base): instance contrast on a projection head + a DEC clustering head (Zhang et al. 2021)."""

    head_size: int = _f(128, "output size of the projection head of the instance-contrastive loss", ge=1)
    temperature: float = _f(0.5, "temperature of the instance-contrastive loss", gt=0)
    cluster_weight: float = _f(1.0, "weight of the clustering (KL) loss against the instance loss", ge=0)
    n_clusters: int | str | None = _f(
        None,
        "cluster centres: a number; auto (chosen without labels, as cluster.n_clusters auto); None: the"
        " number of classes of the main label level, as MTEB does (auto on a corpus without labels)",
        ge=2,
    )

    def cross_checks(self) -> list[str]:
        return k_problems("sccl.n_clusters", self.n_clusters)

    alpha: float = _f(1.0, "degrees of freedom of the Student-t soft assignment", gt=0)
    head_lr_scale: float = _f(100.0, "learning rate of the heads and centres, as a multiple of the encoder's", gt=0)
    learning_rate: float | None = _f(None, "encoder peak learning rate (None: train.learning_rate)", gt=0, lt=1)


@METHODS.register(
    "sccl",
    "SCCL: instance contrast on a head + DEC clustering head (sccl section)",
    section="sccl",
    config=SCCLConfig,
    order=40,
)
def train_sccl(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from ...clustering.clusterers import KMeansClusterer
    from ..losses import SCCLLoss

    run = method_inputs("sccl", "sccl", base, ctx)
    spec, cfg, m, texts = run.spec, run.cfg, run.settings, run.texts
    x = embed(base.target, texts, cfg)
    k, choice = n_clusters_for(m.n_clusters, ctx, spec, x)
    m = with_chosen_k(m, k, choice)
    km = KMeansClusterer(n_clusters=k, n_init=10, random_state=cfg.seed)
    km.fit_predict(x)
    centres = km.cluster_centers_
    train_cfg = settings_for_training(cfg, m)
    return train_round(
        base.target,
        {"anchor": texts, "positive": texts},
        cfg,
        train_cfg,
        kind="sccl",
        method_cfg=m,
        round_=0,
        output_dir=output_dir,
        loss=lambda model: SCCLLoss(
            model,
            centres,
            head_size=m.head_size,
            temperature=m.temperature,
            cluster_weight=m.cluster_weight,
            alpha=m.alpha,
            seed=cfg.seed,
        ),
        learning_rate_mapping={r"^(head\.|centres)": train_cfg.learning_rate * m.head_lr_scale},
    )
