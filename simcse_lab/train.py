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
attention-alignment term (:class:`simcse_lab.losses.MiCSELoss`), and a held-out clustering
evaluator (:class:`simcse_lab.evaluators.ClusteringEvaluator`) with keep-best. The objectives
live in :mod:`simcse_lab.losses`, the run folder's lifecycle in :mod:`simcse_lab.lifecycle`.

The methods ``simcse(base)`` and ``sup-simcse(base)`` are registered with the resolver here, so
``simcse(minilm)`` is a model spec wherever one is accepted.

Output layout of a run folder::

    <output_dir>/model/              standard sentence-transformers folder (the result)
    <output_dir>/train_config.yaml   the training settings, base model and corpus fingerprint
    <output_dir>/training_log.json   the trainer's log history (loss, learning rate per step), last
    <output_dir>/checkpoints/        resumable checkpoints every ``checkpoint_steps``
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoints import load_located, load_sentence_transformer
from .config import TrainConfig, to_dict, validate
from .encode import texts_fingerprint
from .lifecycle import (
    TrainingRun,
    TrainResult,
    check_schedule,
    check_weights_changed,
    distributed,
    trainer_arguments,
    weights_digest,
)
from .models import Resolved, SpecContext, locate, register_method

logger = logging.getLogger(__name__)

__all__ = ["fit_columns", "infonce_on_batch", "simcse_run", "train_simcse", "train_supervised_simcse", "training_texts"]


def _training_texts(texts: list[str], cfg: TrainConfig, seed: int) -> list[str]:
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if cfg.n_texts is not None and cfg.n_texts < len(texts):
        idx = np.sort(np.random.default_rng(seed).choice(len(texts), size=cfg.n_texts, replace=False))
        texts = [texts[i] for i in idx]
    if len(set(texts)) < 2:
        raise ValueError("SimCSE needs at least 2 distinct training texts")
    return texts


def simcse_run(
    base_identity: dict[str, Any], texts: list[str], cfg: TrainConfig, seed: int, models_dir: str | Path,
    *, kind: str = "simcse", extra: dict[str, Any] | None = None,
) -> TrainingRun:
    """The keyed run folder: same base, data, settings and seed -> same folder."""
    settings = {k: v for k, v in to_dict(cfg).items() if k not in {"resume", "logging_steps", "checkpoint_steps"}}
    key = {"base": base_identity, "texts": texts_fingerprint(texts), "train": settings, "seed": seed, **(extra or {})}
    world = distributed()[1]
    if world > 1:  # more processes, a larger global batch: another model (one process keeps its old key)
        key["world_size"] = world
    return TrainingRun.keyed(kind, key, models_dir)


def _fit(
    model: Any,
    columns: dict[str, list[str]],
    cfg: TrainConfig,
    run: TrainingRun,
    record: dict[str, Any],
    *,
    seed: int,
    device: str | None,
    show_progress: bool,
    callbacks: list[Any] | None,
    evaluator: Any = None,
    loss: Any = None,
    batch_sampler: str = "no_duplicates",
    learning_rate_mapping: dict[str, float] | None = None,
) -> TrainResult:
    """Train ``model`` on ``columns`` (the SimCSE loss unless ``loss(model)`` is given); write the
    model folder, the request and the log. ``batch_sampler``: sentence-transformers' name
    (``no_duplicates``, ``group_by_label``); ``learning_rate_mapping``: regex of a loss module's
    parameter names -> learning rate (e.g. heads trained faster than the encoder)."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    from .losses import make_loss

    n_rows = len(next(iter(columns.values())))
    n_steps = math.ceil(cfg.epochs * math.ceil(n_rows / (cfg.batch_size * distributed()[1])))
    what = f"{record.get('kind', 'training')} of {record.get('base_model', 'the model')}"
    check_schedule(n_steps, cfg.warmup_ratio, what=what)  # before any work
    run.write_request({**record, "seed": seed, "train": to_dict(cfg)})
    use_eval = evaluator is not None and cfg.eval_steps > 0
    args = SentenceTransformerTrainingArguments(**trainer_arguments(
        run, seed=seed, device=device, show_progress=show_progress, logging_steps=cfg.logging_steps,
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        # transformers 5 reads a float below 1 in warmup_steps as a ratio (warmup_ratio is deprecated)
        warmup_steps=cfg.warmup_ratio,
        batch_sampler=BatchSamplers(batch_sampler),
        learning_rate_mapping=learning_rate_mapping or {},
        # keep-best needs a checkpoint at every evaluation
        save_steps=cfg.eval_steps if use_eval else cfg.checkpoint_steps,
        eval_strategy="steps" if use_eval else "no",
        eval_steps=cfg.eval_steps if use_eval else None,
        load_best_model_at_end=bool(use_eval and cfg.keep_best),
        metric_for_best_model=evaluator.metric_key if use_eval else None,
        greater_is_better=True,
    ))
    from transformers import set_seed

    set_seed(seed)  # a loss may create weights (TSDAE's decoder, SCCL's head): the same seed, the same weights
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=Dataset.from_dict(columns), loss=loss(model) if loss else make_loss(model, cfg),
        evaluator=evaluator if use_eval else None, callbacks=list(callbacks or []),
    )
    resume_from = run.resume_checkpoint(cfg.resume)
    before = evaluator(model, steps=0)[f"{evaluator.name}_v_measure"] if use_eval and not resume_from else None
    digest = weights_digest(model)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - t0
    check_weights_changed(digest, model, what=what, n_steps=trainer.state.global_step)
    key = evaluator.metric_key if use_eval else ""
    best = max((e[key] for e in trainer.state.log_history if key in e), default=None)
    kept = "trained"
    if use_eval and cfg.keep_best and before is not None and best is not None and best < before:
        # training never beat the untouched model on held-out clustering: keep the untouched one
        logger.warning("held-out V-measure fell from %.3f to at best %.3f; keeping the base model", before, best)
        model, _, _ = load_sentence_transformer(
            record["base_target"], max_seq_length=record["max_seq_length"], pooling=record["pooling"], device=device
        )
        kept = "base"
    return run.finish({
        **{k: record[k] for k in ("base_model", "kind") if k in record},
        "global_step": trainer.state.global_step,
        "resumed_from": resume_from.name if resume_from else None,
        "train_seconds_this_session": round(seconds, 2),
        "train_loss": float(result.training_loss),
        "heldout_v_measure": {"before": before, "best": best, "kept": kept} if use_eval else None,
        "metrics": {k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))},
        "log_history": trainer.state.log_history,
        "settings": dataclasses.asdict(cfg),
    }, save=lambda: model.save(str(run.model_dir)))


def _prepare(
    base_model_spec: str, texts: list[str], cfg: TrainConfig, *, kind: str, seed: int, device: str | None,
    data_dir: str | Path, output_dir: str | Path | None, extra: dict[str, Any] | None = None,
) -> tuple[Any, TrainingRun, dict[str, Any]]:
    """Locate the base model and pick the run folder; the model is None when the run is finished."""
    loc = locate(base_model_spec, max_seq_length=cfg.max_seq_length, pooling=cfg.pooling, data_dir=data_dir,
                 seed=seed)
    run = simcse_run(loc.identity, texts, cfg, seed, Path(data_dir) / "interim" / "models", kind=kind, extra=extra)
    if output_dir:
        run = TrainingRun(Path(output_dir), run.kind)
    record = {
        "kind": kind, "base_model": base_model_spec, "base_target": loc.target, "base_identity": loc.identity,
        "base_provenance": loc.provenance, "texts_fingerprint": texts_fingerprint(texts),
        "max_seq_length": cfg.max_seq_length, "pooling": cfg.pooling,
    }
    if run.finished():
        logger.info("%s model already trained at %s; reusing it", kind, run.model_dir)
        return None, run, record
    return load_located(loc, device=device), run, record


def fit_columns(
    base_model_spec: str,
    columns: dict[str, list],
    cfg: TrainConfig,
    *,
    kind: str,
    seed: int = 42,
    device: str | None = None,
    data_dir: str | Path = "data",
    show_progress: bool = True,
    output_dir: str | Path | None = None,
    extra: dict[str, Any] | None = None,
    callbacks: list[Any] | None = None,
    **fit_options: Any,
) -> TrainResult:
    """Train ``base_model_spec`` on a table of text ``columns`` (every column of strings counts
    towards the run's key, a ``label`` column of pseudo-labels too) in a keyed run folder of
    ``kind``; a finished run is reused. ``fit_options`` go to the fit (``loss``, ``batch_sampler``,
    ``learning_rate_mapping``, ``evaluator``)."""
    validate(cfg)
    texts = [str(v) for col in columns.values() for v in col]
    model, run, record = _prepare(base_model_spec, texts, cfg, kind=kind, seed=seed, device=device,
                                  data_dir=data_dir, output_dir=output_dir, extra=extra)
    if model is None:
        return run.result()
    return _fit(model, columns, cfg, run, {**record, "n_rows": len(next(iter(columns.values()))), **(extra or {})},
                seed=seed, device=device, show_progress=show_progress, callbacks=callbacks, **fit_options)


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
) -> TrainResult:
    """Train unsupervised SimCSE from ``base_model_spec`` on ``texts``; return the model folder and log.

    ``output_dir`` defaults to ``<data_dir>/interim/models/simcse-<hash>``, a hash of the base
    model's identity, the texts, the settings and the seed, so a finished run is reused and an
    interrupted one resumes (``cfg.resume``) from its newest valid checkpoint. With
    ``cfg.eval_steps`` and ``eval_texts``/``eval_labels`` (a held-out slice, not in ``texts``;
    its labels score, never train), held-out V-measure is logged during training and
    ``cfg.keep_best`` keeps the best checkpoint, or the base model when training never beat it.
    """
    cfg = cfg or TrainConfig()
    validate(cfg)
    texts = _training_texts(list(texts), cfg, seed)
    extra = {"eval": texts_fingerprint(list(eval_texts))} if (eval_texts and cfg.eval_steps) else None
    model, run, record = _prepare(
        base_model_spec, texts, cfg, kind="simcse", seed=seed, device=device, data_dir=data_dir,
        output_dir=output_dir, extra=extra,
    )
    if model is None:
        return run.result()
    evaluator = None
    if cfg.eval_steps and eval_texts:
        from .evaluators import ClusteringEvaluator

        evaluator = ClusteringEvaluator(list(eval_texts), eval_labels, seed=seed)
    return _fit(
        model, {"anchor": texts, "positive": texts}, cfg, run, {**record, "n_texts": len(texts)}, seed=seed,
        device=device, show_progress=show_progress, callbacks=callbacks, evaluator=evaluator,
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
    model, run, record = _prepare(
        base_model_spec, [s for t in triplets for s in t], cfg, kind="supsimcse", seed=seed, device=device,
        data_dir=data_dir, output_dir=output_dir,
    )
    if model is None:
        return run.result()
    anchor, positive, negative = (list(c) for c in zip(*triplets))
    return _fit(
        model, {"anchor": anchor, "positive": positive, "negative": negative}, cfg, run,
        {**record, "n_triplets": len(triplets)}, seed=seed, device=device, show_progress=show_progress,
        callbacks=callbacks,
    )


def training_texts(cfg: Any, corpus: Any) -> tuple[list[str], list[str] | None, np.ndarray | None]:
    """The corpus texts a label-free method trains on, and the held-out slice (texts, labels)
    the clustering evaluator scores during training when ``train.eval_steps`` is on."""
    if not cfg.train.eval_steps or not corpus.is_labelled:
        return corpus.texts, None, None
    from .splits import split_heldout

    return split_heldout(corpus, n_eval=cfg.train.eval_n_texts, seed=cfg.seed)


@register_method("simcse", "unsupervised SimCSE on the corpus texts (train section)")
def _simcse(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    cfg = ctx.need_config(f"simcse({base.spec})")
    if cfg.corpus.heldout and cfg.train.eval_steps:
        raise ValueError("train.eval_steps (keep-best judged on labelled texts) and corpus.heldout exclude each other:"
                         " with corpus.heldout no label may steer training")
    if cfg.corpus.heldout:
        train_texts, eval_texts, eval_labels = ctx.get_train_texts(f"simcse({base.spec})"), None, None
    else:
        train_texts, eval_texts, eval_labels = training_texts(cfg, ctx.get_corpus(base.spec))
    return train_simcse(
        base.target, train_texts, cfg.train, output_dir=output_dir, seed=cfg.seed, device=cfg.encode.device,
        data_dir=cfg.data_dir, show_progress=cfg.encode.show_progress, eval_texts=eval_texts, eval_labels=eval_labels,
    )


@register_method("sup-simcse", "supervised SimCSE on SNLI triplets (train section, train.nli_n_triplets)")
def _sup_simcse(base: Resolved, ctx: SpecContext, *, output_dir: str | Path | None = None) -> TrainResult:
    from .evalsets import load_nli_triplets

    cfg = ctx.need_config(f"sup-simcse({base.spec})")
    triplets = load_nli_triplets("train", n=cfg.train.nli_n_triplets, seed=cfg.seed, data_dir=cfg.data_dir)
    return train_supervised_simcse(
        base.target, triplets, cfg.train, output_dir=output_dir, seed=cfg.seed, device=cfg.encode.device,
        data_dir=cfg.data_dir, show_progress=cfg.encode.show_progress,
    )


def infonce_on_batch(encoder: Any, texts: list[str], *, scale: float = 20.0) -> tuple[np.ndarray, float]:
    """What one SimCSE step sees: two dropout views of a batch, their cosine-similarity matrix,
    and the loss sentence-transformers' ``MultipleNegativesRankingLoss`` computes from them.

    Row i of the matrix is text i's first view against every text's second view; the diagonal
    holds the positives, everything else the in-batch negatives. The loss is the cross-entropy
    of ``scale * similarity`` with the diagonal as the target (InfoNCE).
    """
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    if len(texts) < 2:
        raise ValueError("a contrastive batch needs at least 2 texts")
    a, b = encoder.encode_dropout_views(list(texts))
    loss_fn = MultipleNegativesRankingLoss(encoder.model, scale=scale)
    with torch.no_grad():
        loss = loss_fn.compute_loss_from_embeddings([torch.from_numpy(a), torch.from_numpy(b)], None)
    an = a / np.linalg.norm(a, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (an @ bn.T).astype(np.float32), float(loss)
