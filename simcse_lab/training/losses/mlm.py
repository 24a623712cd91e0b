"""The masked-language-model objective with the vocabulary head applied to masked tokens only."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from transformers import Trainer

__all__ = ["MaskedOnlyTrainer", "masked_only_mlm_loss"]


def masked_only_mlm_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
    """The MLM loss with the vocabulary head applied to the masked positions only.

    ``*ForMaskedLM`` models project *every* token onto the vocabulary (about 30k logits each)
    and then ignore the 85% that carry no label; for a small encoder that projection and its
    gradient are most of a training step. Here the encoder runs as usual and the head sees
    only the labelled rows, which gives the same loss (mean cross-entropy over masked tokens)
    at a fraction of the cost. Returns None for an architecture whose head is not ``cls``
    (BERT) or ``lm_head`` (RoBERTa and relatives); the caller then uses the model's own loss.
    """
    model = getattr(model, "module", model)
    body = getattr(model, getattr(model, "base_model_prefix", ""), None)
    head = getattr(model, "cls", None) or getattr(model, "lm_head", None)
    if body is None or head is None:
        return None
    labels = inputs["labels"]
    hidden = body(**{k: v for k, v in inputs.items() if k != "labels"}).last_hidden_state
    masked = labels != -100
    logits = head(hidden[masked]).float()
    if num_items_in_batch is None:
        return F.cross_entropy(logits, labels[masked])
    return F.cross_entropy(logits, labels[masked], reduction="sum") / num_items_in_batch


class MaskedOnlyTrainer(Trainer):
    """Hugging Face ``Trainer`` whose MLM loss skips the vocabulary projection of unmasked tokens."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not return_outputs:
            loss = masked_only_mlm_loss(model, inputs, num_items_in_batch)
            if loss is not None:
                return loss
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)


# --------------------------------------------------------------------------- SCCL
