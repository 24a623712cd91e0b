"""SCCL's instance-contrastive + DEC clustering objective (Zhang et al. NAACL 2021), for ``sccl(base)``."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["SCCLLoss"]


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

    def __init__(
        self,
        model: Any,
        centres: Any,
        *,
        head_size: int = 128,
        temperature: float = 0.5,
        cluster_weight: float = 1.0,
        alpha: float = 1.0,
        seed: int = 0,
    ) -> None:
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
