"""Every training objective, as a top-level class or function (torch-heavy: import lazily).

- :func:`make_loss` builds the SimCSE objective a :class:`~simcse_lab.schema.TrainConfig` asks
  for: sentence-transformers' ``MultipleNegativesRankingLoss`` (InfoNCE with cosine similarity
  times ``scale``; unsupervised SimCSE when each text is paired with itself, supervised with a
  hard-negative third column), its cached variant, or :class:`MiCSELoss`.
- :class:`MiCSELoss`: SimCSE plus miCSE's attention-alignment term (:func:`attention_alignment`).
- :func:`masked_only_mlm_loss` and :class:`MaskedOnlyTrainer`: the masked-language-model
  objective with the vocabulary head applied to masked tokens only.
- :class:`SCCLLoss`: SCCL's instance-contrastive + DEC clustering objective (``sccl(base)``).

The other label-free methods use sentence-transformers' losses as shipped (see
:mod:`simcse_lab.methods`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MultipleNegativesRankingLoss,
)
from transformers import Trainer

from .lifecycle import gather_across_devices

__all__ = ["MaskedOnlyTrainer", "MiCSELoss", "SCCLLoss", "attention_alignment", "make_loss", "masked_only_mlm_loss"]


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


def make_loss(model: Any, cfg: Any) -> Any:
    """The SimCSE objective of a ``TrainConfig``: MNRL, cached MNRL or miCSE."""
    if cfg.loss == "cached-mnrl":
        return CachedMultipleNegativesRankingLoss(model, scale=cfg.scale, mini_batch_size=cfg.mini_batch_size,
                                                  gather_across_devices=gather_across_devices())
    if cfg.attention_weight > 0:
        return MiCSELoss(model, scale=cfg.scale, attention_weight=cfg.attention_weight)
    return MultipleNegativesRankingLoss(model, scale=cfg.scale, gather_across_devices=gather_across_devices())



# --------------------------------------------------------------------------- masked language modelling


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


class SCCLLoss(torch.nn.Module):
    """SCCL (Zhang et al., NAACL 2021), "virtual augmentation" variant, on a sentence-transformers model.

    Each text comes twice (anchor = positive = the text), so the two forward passes differ only by
    dropout: the two views. ``loss = instance + cluster_weight * cluster``:

    - ``instance``: NT-Xent over the 2N views' projections ``head(e)`` (a 2-layer MLP to
      ``head_size``, L2-normalised) at ``temperature``: each view's positive is the other view of
      its text, the other 2N - 2 views are negatives (amazon-research/sccl's PairConLoss);
    - ``cluster``: DEC on the first view's embeddings: Student-t soft assignment ``q`` to the
      ``centres`` (initialised by KMeans on the start model's embeddings, trained), the sharpened
      target ``p = q^2 / f`` (row-normalised, no gradient) and ``KL(p || q)`` per text.

    The head and centres are trained too (at a higher learning rate: the trainer's
    ``learning_rate_mapping``); only the encoder is saved with the model.
    """

    citation = "Zhang et al., Supporting Clustering with Contrastive Learning, NAACL 2021"

    def __init__(self, model: Any, centres: Any, *, head_size: int = 128, temperature: float = 0.5,
                 cluster_weight: float = 1.0, alpha: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        self.model = model
        dim = model.get_embedding_dimension()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.head = torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.ReLU(), torch.nn.Linear(dim, head_size))
        self.centres = torch.nn.Parameter(torch.as_tensor(centres, dtype=torch.float32).clone())
        self.temperature, self.cluster_weight, self.alpha = temperature, cluster_weight, alpha

    def soft_assign(self, e: Any) -> Any:
        """Student-t soft assignment of embeddings ``e`` (b, d) to the centres: (b, k), rows sum to 1."""
        d2 = torch.cdist(e, self.centres).pow(2)
        q = (1.0 + d2 / self.alpha).pow(-(self.alpha + 1.0) / 2.0)
        return q / q.sum(dim=1, keepdim=True)

    def instance_loss(self, e1: Any, e2: Any) -> Any:
        z = F.normalize(self.head(torch.cat([e1, e2])), dim=1)
        n = len(e1)
        sim = z @ z.T / self.temperature
        sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=sim.device), float("-inf"))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(sim.device)
        return F.cross_entropy(sim, target)

    def cluster_loss(self, e: Any) -> Any:
        q = self.soft_assign(e)
        p = q.pow(2) / q.sum(dim=0, keepdim=True)
        p = (p / p.sum(dim=1, keepdim=True)).detach()
        return F.kl_div(q.clamp_min(1e-12).log(), p, reduction="batchmean")

    def forward(self, sentence_features: Any, labels: Any = None) -> Any:
        features = list(sentence_features)
        if len(features) != 2:
            raise ValueError("SCCL expects (anchor, positive) columns holding the same text: its two dropout views")
        e1, e2 = (self.model(f)["sentence_embedding"] for f in features)
        return self.instance_loss(e1, e2) + self.cluster_weight * self.cluster_loss(e1)
