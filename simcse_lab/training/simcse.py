"""SimCSE with sentence-transformers' own trainer and losses.

Unsupervised: each text is paired with itself; the model's dropout (active in train mode) makes
the two encodings differ, and ``MultipleNegativesRankingLoss`` (InfoNCE with cosine similarity
times ``scale``; 20 = temperature 0.05) pulls each pair together while pushing it away from the
other texts of the batch. Supervised: (premise, entailment, contradiction) triplets; the
contradiction is a hard negative next to the in-batch ones (the same loss, with a third column).
The no-duplicates batch sampler keeps identical texts out of one batch, where they would be
false negatives.

Options: ``cached-mnrl`` (CachedMultipleNegativesRankingLoss: the contrastive batch is
``batch_size`` while only ``mini_batch_size`` texts go through the model at once), the miCSE
attention-alignment term (`simcse_lab.training.losses.MiCSELoss`), and a held-out clustering
evaluator (`simcse_lab.training.evaluator.ClusteringEvaluator`) with keep-best. The objectives
live in `simcse_lab.training.losses`, the run folder's lifecycle in `simcse_lab.training.lifecycle`.

The model specs ``simcse(base)`` and ``sup-simcse(base)`` call these functions; they are
registered in `simcse_lab.training.methods.simcse` and `sup_simcse`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.arrays import l2_normalize
from ..core.config import TrainConfig, validate
from ..encoding.encode import texts_fingerprint
from .lifecycle import TrainResult
from .trainer import fit_model, prepare_run

__all__ = ["infonce_on_batch", "train_simcse", "train_supervised_simcse", "training_texts"]


def _training_texts(texts: list[str], cfg: TrainConfig, seed: int) -> list[str]:
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if cfg.n_texts is not None and cfg.n_texts < len(texts):
        idx = np.sort(np.random.default_rng(seed).choice(len(texts), size=cfg.n_texts, replace=False))
        texts = [texts[i] for i in idx]
    if len(set(texts)) < 2:
        raise ValueError("SimCSE needs at least 2 distinct training texts")
    return texts


def train_simcse(
    base_model_spec: str,
    texts: list[str],
    cfg: TrainConfig | None = None,
    *,
    output_dir: str | Path | None = None,
    seed: int = 42,
    device: str | None = None,
    data_dir: str | Path = "data",
    show_progress: bool = True,
    callbacks: list[Any] | None = None,
    eval_texts: list[str] | None = None,
    eval_labels=None,
    verdict_signals: tuple[str, ...] | list[str] | None = None,
) -> TrainResult:
    """Train unsupervised SimCSE from ``base_model_spec`` on ``texts``; return the model folder and log.

    ``output_dir`` defaults to ``<data_dir>/interim/models/simcse-<hash>``, a hash of the base
    model's identity, the texts, the settings and the seed, so a finished run is reused and an
    interrupted one resumes (``cfg.resume``) from its newest valid checkpoint. With
    ``cfg.eval_steps`` and ``eval_texts``/``eval_labels`` (a held-out slice, not in ``texts``;
    its labels score, never train), held-out V-measure is logged during training and
    ``cfg.keep_best`` keeps the best checkpoint, or the base model when training never beat it.
    ``verdict_signals`` are what ``cfg.keep_best_by: verdict`` reads (default: ``metrics.verdict_signals``'s).
    """
    cfg = cfg or TrainConfig()
    validate(cfg)
    if verdict_signals is None:
        from ..core.schema import MetricsConfig

        verdict_signals = MetricsConfig().verdict_signals
    texts = _training_texts(list(texts), cfg, seed)
    by = {"by": cfg.keep_best_by} if cfg.keep_best_by != "v_measure" else {}
    if cfg.keep_best_by == "verdict":
        by["signals"] = list(verdict_signals)
    extra = {"eval": texts_fingerprint(list(eval_texts)), **by} if (eval_texts and cfg.eval_steps) else None
    model, run, record = prepare_run(
        base_model_spec,
        texts,
        cfg,
        kind="simcse",
        seed=seed,
        device=device,
        data_dir=data_dir,
        output_dir=output_dir,
        extra=extra,
    )
    if model is None:
        return run.result()
    evaluator = None
    if cfg.eval_steps and eval_texts:
        from .evaluator import ClusteringEvaluator

        evaluator = ClusteringEvaluator(
            list(eval_texts), eval_labels, seed=seed, by=cfg.keep_best_by, signals=verdict_signals
        )
    return fit_model(
        model,
        {"anchor": texts, "positive": texts},
        cfg,
        run,
        {**record, "n_texts": len(texts)},
        seed=seed,
        device=device,
        show_progress=show_progress,
        callbacks=callbacks,
        evaluator=evaluator,
    )


def train_supervised_simcse(
    base_model_spec: str,
    triplets: list[tuple[str, str, str]],
    cfg: TrainConfig | None = None,
    *,
    output_dir: str | Path | None = None,
    seed: int = 42,
    device: str | None = None,
    data_dir: str | Path = "data",
    show_progress: bool = True,
    callbacks: list[Any] | None = None,
) -> TrainResult:
    """Supervised SimCSE: (premise, entailment, contradiction) triplets, the contradiction as a
    hard negative besides the in-batch negatives (``MultipleNegativesRankingLoss`` on 3 columns)."""
    cfg = cfg or TrainConfig()
    validate(cfg)
    if cfg.attention_weight > 0:
        raise ValueError("miCSE (train.attention_weight) is defined for unsupervised pairs only")
    bad = [t for t in triplets if len(t) != 3 or not all(isinstance(s, str) and s.strip() for s in t)]
    if bad or len(triplets) < 2:
        raise ValueError("supervised SimCSE needs at least 2 (premise, entailment, contradiction) triplets of text")
    model, run, record = prepare_run(
        base_model_spec,
        [s for t in triplets for s in t],
        cfg,
        kind="supsimcse",
        seed=seed,
        device=device,
        data_dir=data_dir,
        output_dir=output_dir,
    )
    if model is None:
        return run.result()
    anchor, positive, negative = (list(c) for c in zip(*triplets))
    return fit_model(
        model,
        {"anchor": anchor, "positive": positive, "negative": negative},
        cfg,
        run,
        {**record, "n_triplets": len(triplets)},
        seed=seed,
        device=device,
        show_progress=show_progress,
        callbacks=callbacks,
    )


def training_texts(cfg: Any, corpus: Any) -> tuple[list[str], list[str] | None, np.ndarray | None]:
    """The corpus texts a label-free method trains on, and the held-out slice (texts, labels)
    the clustering evaluator scores during training when ``train.eval_steps`` is on. With
    ``train.keep_best_by`` silhouette or verdict the slice needs no labels (its labels are then None)."""
    label_free = cfg.train.keep_best_by != "v_measure"
    if not cfg.train.eval_steps or not (corpus.is_labelled or label_free):
        return corpus.texts, None, None
    if label_free:
        from ..corpus.splits import split_heldout

        train, held, _ = split_heldout(corpus, n_eval=cfg.train.eval_n_texts, seed=cfg.seed, stratify=False)
        return train, held, None
    from ..corpus.splits import split_heldout

    return split_heldout(corpus, n_eval=cfg.train.eval_n_texts, seed=cfg.seed)


def infonce_on_batch(encoder: Any, texts: list[str], *, scale: float = 20.0) -> tuple[np.ndarray, float]:
    """What one SimCSE step sees: two dropout views of a batch, their cosine-similarity matrix,
    and the loss sentence-transformers' ``MultipleNegativesRankingLoss`` computes from them.

    Row i of the matrix is text i's first view against every text's second view; the diagonal
    holds the positives, everything else the in-batch negatives. The loss is the cross-entropy
    of ``scale * similarity`` with the diagonal as the target (InfoNCE).
    """
    import torch
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )

    if len(texts) < 2:
        raise ValueError("a contrastive batch needs at least 2 texts")
    a, b = encoder.encode_dropout_views(list(texts))
    loss_fn = MultipleNegativesRankingLoss(encoder.model, scale=scale)
    with torch.no_grad():
        loss = loss_fn.compute_loss_from_embeddings([torch.from_numpy(a), torch.from_numpy(b)], None)
    return (l2_normalize(a) @ l2_normalize(b).T).astype(np.float32), float(loss)
