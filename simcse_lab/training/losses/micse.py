"""miCSE: SimCSE plus an attention-alignment term between the two dropout views (Klein & Nabi 2023)."""

from __future__ import annotations

from typing import Any

import torch
from sentence_transformers.sentence_transformer.losses import (
    MultipleNegativesRankingLoss,
)

__all__ = ["MiCSELoss", "attention_alignment"]


def attention_alignment(a1: Any, a2: Any, attention_mask: Any, *, eps: float = 1e-8) -> Any:
    """Symmetric KL divergence between two self-attention distributions, averaged over the batch,
    heads and valid query tokens.

    ``a1``, ``a2``: attention probabilities ``(batch, heads, query, key)`` of two dropout views of
    the same texts; ``attention_mask``: ``(batch, tokens)``, 1 for real tokens. The value is 0 for
    identical attention and positive otherwise.

    >>> a = torch.softmax(torch.randn(2, 1, 3, 3), dim=-1)
    >>> float(attention_alignment(a, a, torch.ones(2, 3)))
    0.0
    """
    p = a1.clamp_min(eps)
    q = a2.clamp_min(eps)
    sym_kl = 0.5 * ((p - q) * (p.log() - q.log())).sum(dim=-1)  # (batch, heads, query)
    mask = attention_mask[:, None, :].to(sym_kl.dtype).expand_as(sym_kl)
    return (sym_kl * mask).sum() / torch.clamp(mask.sum(), min=1.0)


class MiCSELoss(torch.nn.Module):
    """miCSE (Klein & Nabi, 2022): SimCSE plus an attention-alignment regulariser.

    For a batch of texts encoded twice with independent dropout masks,
    ``loss = MNRL(e1, e2) + attention_weight * attention_alignment(A1, A2)``, where ``MNRL`` is
    sentence-transformers' ``MultipleNegativesRankingLoss`` on the two views' sentence
    embeddings, and ``A1``/``A2`` are the self-attention probabilities of transformer layer
    ``layer`` (default: the last) in the same two forward passes. With ``attention_weight == 0``
    the loss is exactly ``MultipleNegativesRankingLoss`` (the attention is not even computed).
    """

    citation = "Klein & Nabi, miCSE: Mutual Information Contrastive Learning for Low-shot Sentence Embeddings, 2022"

    def __init__(self, model: Any, *, scale: float = 20.0, attention_weight: float = 0.1, layer: int = -1) -> None:
        super().__init__()
        self.model = model
        self.mnrl = MultipleNegativesRankingLoss(model, scale=scale)
        self.attention_weight = attention_weight
        self.layer = layer
        if attention_weight > 0:
            # attention probabilities exist only in the eager attention implementation
            model[0].auto_model.set_attn_implementation("eager")

    def _encode(self, features: dict[str, Any]) -> tuple[Any, Any]:
        hf = self.model[0].auto_model
        inputs = {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}
        out = hf(**inputs, output_attentions=True, return_dict=True)
        feats = dict(features)
        feats["token_embeddings"] = out.last_hidden_state
        for module in list(self.model)[1:]:
            feats = module(feats)
        return feats["sentence_embedding"], out.attentions[self.layer]

    def forward(self, sentence_features: Any, labels: Any = None) -> Any:
        if self.attention_weight == 0:
            return self.mnrl(sentence_features, labels)
        features = list(sentence_features)
        if len(features) != 2:
            raise ValueError("miCSE expects (anchor, positive) pairs: the two dropout views of a text")
        (e1, a1), (e2, a2) = (self._encode(f) for f in features)
        contrastive = self.mnrl.compute_loss_from_embeddings([e1, e2], labels)
        return contrastive + self.attention_weight * attention_alignment(a1, a2, features[0]["attention_mask"])
