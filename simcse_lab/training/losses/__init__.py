"""Every training objective, one module each (torch-heavy: import lazily).

- `make_loss` builds the SimCSE objective a `TrainConfig` asks
  for: sentence-transformers' ``MultipleNegativesRankingLoss`` (InfoNCE with cosine similarity
  times ``scale``; unsupervised SimCSE when each text is paired with itself, supervised with a
  hard-negative third column), its cached variant, or `MiCSELoss`.
- `MiCSELoss`: SimCSE plus miCSE's attention-alignment term (`attention_alignment`).
- `masked_only_mlm_loss` and `MaskedOnlyTrainer`: the masked-language-model
  objective with the vocabulary head applied to masked tokens only.
- `SCCLLoss`: SCCL's instance-contrastive + DEC clustering objective (``sccl(base)``).

The other label-free methods use sentence-transformers' losses as shipped (see
`simcse_lab.training.methods`).
"""

from __future__ import annotations

from typing import Any

from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MultipleNegativesRankingLoss,
)

from ..lifecycle import gather_across_devices
from .micse import MiCSELoss, attention_alignment
from .mlm import MaskedOnlyTrainer, masked_only_mlm_loss
from .sccl import SCCLLoss

__all__ = ["MaskedOnlyTrainer", "MiCSELoss", "SCCLLoss", "attention_alignment", "make_loss", "masked_only_mlm_loss"]


def make_loss(model: Any, cfg: Any) -> Any:
    """The SimCSE objective of a ``TrainConfig``: MNRL, cached MNRL or miCSE."""
    if cfg.loss == "cached-mnrl":
        return CachedMultipleNegativesRankingLoss(
            model, scale=cfg.scale, mini_batch_size=cfg.mini_batch_size, gather_across_devices=gather_across_devices()
        )
    if cfg.attention_weight > 0:
        return MiCSELoss(model, scale=cfg.scale, attention_weight=cfg.attention_weight)
    return MultipleNegativesRankingLoss(model, scale=cfg.scale, gather_across_devices=gather_across_devices())
