"""Label-free training methods beyond SimCSE, each a model spec ``method(base)``.

Every method trains only on the texts of the corpus (its training part, see
``corpus.heldout``), never on its labels: the one number some take from the labels is the
number of clusters (``sccl.n_clusters``, ``selftrain.n_clusters``: None means the number of
classes of the main level, as MTEB gives its clustering tasks). A test proves it: shuffling the
labels leaves every trained model bit-identical.

- ``neighbours(base)`` (MTP-CLNN, Zhang et al. ACL 2022): each text's positive is one of its
  ``k`` nearest neighbours in the model's own embedding space; sentence-transformers'
  ``MultipleNegativesRankingLoss``. Texts that share a topic are pulled together instead of
  apart, which is what SimCSE's same-text positives do wrong for clustering.
- ``sccl(base)`` (Zhang et al. NAACL 2021), the "virtual augmentation" variant: two dropout
  views, an instance-contrastive loss on a projection head and a DEC clustering loss on
  KMeans-initialised centres (:class:`simcse_lab.losses.SCCLLoss`).
- ``selftrain(base)`` (DeepCluster-style): KMeans on the model's embeddings, keep each
  cluster's most central members, train with same-cluster positives (MNRL) or a batch-hard
  triplet loss grouped by pseudo-label, re-cluster; ``rounds`` times.
- ``tsdae(base)``, ``ct(base)``: sentence-transformers' ``DenoisingAutoEncoderLoss`` and
  ``ContrastiveTensionLossInBatchNegatives`` as shipped, the domain-adaptation baselines of its
  documentation.

Every round is a keyed, resumable training run (:mod:`simcse_lab.lifecycle`) whose key holds the
method's settings, so a method run is reused by every later comparison that asks for it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from .config import to_dict
from .encode import encode_texts
from .engines import make_engine
from .lifecycle import TrainResult, gather_across_devices
from .models import Resolved, SpecContext, load_encoder, register_method
from .train import fit_columns

logger = logging.getLogger(__name__)

__all__ = ["draw_neighbour_positives", "mine_neighbours", "pseudo_labels"]


# --------------------------------------------------------------------------- shared pieces


def _embed(target: str, texts: list[str], cfg: Any) -> np.ndarray:
    """The model's L2-normalised embeddings of ``texts`` (cached, like the comparison's)."""
    encoder = load_encoder(target, max_seq_length=cfg.encode.max_seq_length, pooling=cfg.train.pooling,
                           device=cfg.encode.device, data_dir=cfg.data_dir, seed=cfg.seed)
    cache = Path(cfg.data_dir) / "interim" / "embeddings" if cfg.encode.cache else None
    return encode_texts(encoder, texts, batch_size=cfg.encode.batch_size, normalize=True, cache_dir=cache,
                        show_progress=cfg.encode.show_progress, engine=make_engine(cfg))


def mine_neighbours(x: np.ndarray, k: int) -> np.ndarray:
    """``(n, k)`` indices of each row's ``k`` most cosine-similar other rows, most similar first.

    >>> x = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    >>> mine_neighbours(x, 1).ravel().tolist()
    [1, 0, 3, 2]
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(x) - 1)
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(x)
    idx = nn.kneighbors(x, return_distance=False)
    # drop each row itself (a duplicate may come first, so remove by value, not by position)
    out = np.array([[j for j in row if j != i][:k] for i, row in enumerate(idx)], dtype=np.int64)
    return out


def draw_neighbour_positives(neighbours: np.ndarray, *, positive: str, seed: int) -> np.ndarray:
    """One positive per text from its neighbours: ``nearest`` or a seeded ``random`` draw."""
    if positive == "nearest":
        return neighbours[:, 0]
    rng = np.random.default_rng(seed)
    return neighbours[np.arange(len(neighbours)), rng.integers(0, neighbours.shape[1], size=len(neighbours))]


def pseudo_labels(x: np.ndarray, n_clusters: int, *, confidence: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """KMeans cluster of every row, and the rows kept as confident: in each cluster the
    ``confidence`` fraction closest to its centre (at least 2 per cluster)."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(x)
    dist = np.linalg.norm(x - km.cluster_centers_[km.labels_], axis=1)
    keep = []
    for c in range(n_clusters):
        members = np.flatnonzero(km.labels_ == c)
        n_keep = max(2, int(math.ceil(confidence * len(members)))) if len(members) >= 2 else 0
        keep += members[np.argsort(dist[members], kind="stable")[:n_keep]].tolist()
    return km.labels_.astype(np.int64), np.sort(np.asarray(keep, dtype=np.int64))


def _n_clusters(setting: int | None, ctx: SpecContext, spec: str) -> int:
    if setting is not None:
        return setting
    corpus = ctx.get_corpus(spec)
    if not corpus.is_labelled:
        raise ValueError(f"{spec}: the corpus has no labels to count classes from; set the method's n_clusters")
    return len(np.unique(corpus.label_array()))


def _train_cfg(cfg: Any, method_cfg: Any, **changes: Any) -> Any:
    lr = method_cfg.learning_rate or cfg.train.learning_rate
    return dataclasses.replace(cfg.train, learning_rate=lr, eval_steps=0, **changes)


def _fit(base: str, columns: dict[str, list], cfg: Any, train_cfg: Any, *, kind: str, method_cfg: Any,
         round_: int, output_dir: str | Path | None, **kwargs: Any) -> TrainResult:
    return fit_columns(
        base, columns, train_cfg, kind=kind, seed=cfg.seed + round_, device=cfg.encode.device, data_dir=cfg.data_dir,
        show_progress=cfg.encode.show_progress, output_dir=output_dir,
        extra={"method": kind, "settings": to_dict(method_cfg), "round": round_}, **kwargs,
    )


# --------------------------------------------------------------------------- methods


@register_method("neighbours", "k-nearest-neighbour positives, MultipleNegativesRankingLoss (neighbours section)")
def _neighbours(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    spec = f"neighbours({base.spec})"
    cfg, m = ctx.need_config(spec), ctx.need_config(spec).neighbours
    texts = ctx.get_train_texts(spec)
    n_epochs = max(1, math.ceil(cfg.train.epochs))
    # remine: one round per epoch, each mining with the model of the round before; otherwise
    # one run over a fresh draw of positives per epoch, mined once with the start model
    rounds = n_epochs if m.remine else 1
    draws = 1 if m.remine else n_epochs
    target, result = base.target, None
    for r in range(rounds):
        neighbours = mine_neighbours(_embed(target, texts, cfg), m.k)
        positives = [draw_neighbour_positives(neighbours, positive=m.positive, seed=cfg.seed + 1000 * r + d)
                     for d in range(draws)]
        columns = {"anchor": texts * draws, "positive": [texts[j] for p in positives for j in p]}
        epochs = cfg.train.epochs / n_epochs if m.remine else cfg.train.epochs / draws
        result = _fit(target, columns, cfg, _train_cfg(cfg, m, epochs=epochs), kind="neighbours", method_cfg=m,
                      round_=r, output_dir=output_dir if r == rounds - 1 else None,
                      loss=lambda model: MultipleNegativesRankingLoss(
                          model, scale=m.scale, gather_across_devices=gather_across_devices()))
        target = str(result.model_dir)
    return result


@register_method("sccl", "SCCL: instance contrast on a head + DEC clustering head (sccl section)")
def _sccl(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from sklearn.cluster import KMeans

    from .losses import SCCLLoss

    spec = f"sccl({base.spec})"
    cfg, m = ctx.need_config(spec), ctx.need_config(spec).sccl
    texts = ctx.get_train_texts(spec)
    k = _n_clusters(m.n_clusters, ctx, spec)
    centres = KMeans(n_clusters=k, n_init=10, random_state=cfg.seed).fit(_embed(base.target, texts, cfg)).cluster_centers_
    train_cfg = _train_cfg(cfg, m)
    return _fit(
        base.target, {"anchor": texts, "positive": texts}, cfg, train_cfg, kind="sccl", method_cfg=m, round_=0,
        output_dir=output_dir,
        loss=lambda model: SCCLLoss(model, centres, head_size=m.head_size, temperature=m.temperature,
                                    cluster_weight=m.cluster_weight, alpha=m.alpha, seed=cfg.seed),
        learning_rate_mapping={r"^(head\.|centres)": train_cfg.learning_rate * m.head_lr_scale},
    )


@register_method("selftrain", "KMeans pseudo-label self-training, re-clustered each round (selftrain section)")
def _selftrain(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from sentence_transformers.sentence_transformer.losses import (
        BatchHardTripletLoss,
        MultipleNegativesRankingLoss,
    )

    spec = f"selftrain({base.spec})"
    cfg, m = ctx.need_config(spec), ctx.need_config(spec).selftrain
    texts = ctx.get_train_texts(spec)
    k = _n_clusters(m.n_clusters, ctx, spec)
    target, result = base.target, None
    for r in range(m.rounds):
        labels, keep = pseudo_labels(_embed(target, texts, cfg), k, confidence=m.confidence, seed=cfg.seed + r)
        rng = np.random.default_rng(cfg.seed + r)
        if m.loss == "mnrl":
            members = {c: keep[labels[keep] == c] for c in np.unique(labels[keep])}
            partner = [rng.choice(members[labels[i]][members[labels[i]] != i]) for i in keep]
            columns = {"anchor": [texts[i] for i in keep], "positive": [texts[j] for j in partner]}
            kwargs: dict[str, Any] = {"loss": lambda model: MultipleNegativesRankingLoss(
                model, scale=m.scale, gather_across_devices=gather_across_devices())}
        else:
            columns = {"text": [texts[i] for i in keep], "label": labels[keep].tolist()}
            kwargs = {"loss": lambda model: BatchHardTripletLoss(model, margin=m.margin),
                      "batch_sampler": "group_by_label"}
        result = _fit(target, columns, cfg, _train_cfg(cfg, m), kind="selftrain", method_cfg=m, round_=r,
                      output_dir=output_dir if r == m.rounds - 1 else None, **kwargs)
        target = str(result.model_dir)
    return result


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


@register_method("tsdae", "TSDAE: sentence-transformers' DenoisingAutoEncoderLoss, tied decoder (tsdae section)")
def _tsdae(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

    spec = f"tsdae({base.spec})"
    cfg, m = ctx.need_config(spec), ctx.need_config(spec).tsdae
    texts = ctx.get_train_texts(spec)
    # the noise is drawn once, seeded (sentence-transformers' dataset draws it unseeded with nltk,
    # whose tokenizer data is a separate download)
    rng = np.random.default_rng(cfg.seed)
    noisy = [delete_words(t, m.deletion_ratio, rng) for t in texts]
    return _fit(base.target, {"anchor": noisy, "positive": texts}, cfg, _train_cfg(cfg, m), kind="tsdae",
                method_cfg=m, round_=0, output_dir=output_dir,
                loss=lambda model: DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True),
                batch_sampler="batch_sampler")


@register_method("ct", "Contrastive Tension: ContrastiveTensionLossInBatchNegatives as shipped (ct section)")
def _ct(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from sentence_transformers.sentence_transformer.losses import ContrastiveTensionLossInBatchNegatives

    spec = f"ct({base.spec})"
    cfg, m = ctx.need_config(spec), ctx.need_config(spec).ct
    texts = ctx.get_train_texts(spec)
    return _fit(base.target, {"anchor": texts, "positive": texts}, cfg, _train_cfg(cfg, m), kind="ct", method_cfg=m,
                round_=0, output_dir=output_dir,
                loss=lambda model: ContrastiveTensionLossInBatchNegatives(model, scale=m.scale))
