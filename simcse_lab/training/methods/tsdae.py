"""``tsdae(base)``: sentence-transformers' ``DenoisingAutoEncoderLoss`` as shipped (tied decoder),
the domain-adaptation baseline of its documentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...core.fields import setting as _f
from ...core.registry import METHODS
from ._common import method_inputs, settings_for_training, train_round

if TYPE_CHECKING:
    from pathlib import Path

    from ...encoding.resolve import Resolved, SpecContext
    from ..lifecycle import TrainResult

__all__ = ["TsdaeConfig", "delete_words", "train_tsdae"]


@dataclass(frozen=True)
class TsdaeConfig:
    """tsdae(base): sentence-transformers' DenoisingAutoEncoderLoss, as shipped (tied decoder)."""

    deletion_ratio: float = _f(0.6, "fraction of words deleted from the input (the decoder restores them)", gt=0, lt=1)
    learning_rate: float | None = _f(None, "peak learning rate (None: train.learning_rate)", gt=0, lt=1)


def delete_words(text: str, ratio: float, rng: np.random.Generator) -> str:
    """TSDAE's deletion noise on whitespace words (at least one word stays).

    >>> delete_words("a b c d", 0.5, np.random.default_rng(0)).count(" ") < 3
    True
    """
    words = text.split()
    if not words:
        return text
    keep = rng.random(len(words)) > ratio
    if not keep.any():
        keep[rng.integers(len(words))] = True
    return " ".join(w for w, k in zip(words, keep) if k)


@METHODS.register(
    "tsdae",
    "TSDAE: sentence-transformers' DenoisingAutoEncoderLoss, tied decoder (tsdae section)",
    section="tsdae",
    config=TsdaeConfig,
    order=60,
)
def train_tsdae(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    run = method_inputs("tsdae", "tsdae", base, ctx)
    cfg, m, texts = run.cfg, run.settings, run.texts
    # the noise is drawn once, seeded (sentence-transformers' dataset draws it unseeded with nltk,
    # whose tokenizer data is a separate download)
    rng = np.random.default_rng(cfg.seed)
    noisy = [delete_words(t, m.deletion_ratio, rng) for t in texts]
    return train_round(
        base.target,
        {"anchor": noisy, "positive": texts},
        cfg,
        settings_for_training(cfg, m),
        kind="tsdae",
        method_cfg=m,
        round_=0,
        output_dir=output_dir,
        loss=_tied_decoder_loss,
        batch_sampler="batch_sampler",
    )


def _tied_decoder_loss(model):
    """The loss, with its decoder built from the encoder's checkpoint. transformers reports the
    decoder's cross-attention and LM head as missing from that checkpoint, which is expected: they
    are new and trained here. That report is logged as one line instead of a table."""
    import logging

    from sentence_transformers.sentence_transformer.losses import (
        DenoisingAutoEncoderLoss,
    )
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    finally:
        hf_logging.set_verbosity(before)
    logging.getLogger(__name__).info(
        "TSDAE: the decoder shares the encoder's weights; its cross-attention and LM head start untrained"
    )
    return loss
