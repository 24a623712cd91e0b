"""The shared trainer: every training method ends here, in sentence-transformers' own
``SentenceTransformerTrainer`` inside a keyed, resumable run folder (`simcse_lab.training.lifecycle`).

`fit_columns` trains a base model on a table of text columns with a loss (the SimCSE
objective of `simcse_lab.training.losses.make_loss` unless the method gives its own);
`prepare_run` picks the run folder from the base model's identity, the texts, the settings
and the seed, so a finished run is reused and an interrupted one resumes; `fit_model` runs
the trainer, with keep-best on a held-out clustering evaluator when one is given.

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

from ..core.config import TrainConfig, to_dict, validate
from ..core.paths import models_dir
from ..core.runtime import training_threads
from ..encoding.encode import texts_fingerprint
from ..encoding.locations import load_located, load_sentence_transformer
from ..encoding.resolve import locate
from .lifecycle import (
    TrainingRun,
    TrainResult,
    check_schedule,
    check_weights_changed,
    distributed,
    silence_printer,
    trainer_arguments,
    weights_digest,
)

logger = logging.getLogger(__name__)

__all__ = ["fit_columns", "fit_model", "prepare_run", "simcse_run"]


def simcse_run(
    base_identity: dict[str, Any],
    texts: list[str],
    cfg: TrainConfig,
    seed: int,
    models_dir: str | Path,
    *,
    kind: str = "simcse",
    extra: dict[str, Any] | None = None,
) -> TrainingRun:
    """The keyed run folder: same base, data, settings and seed -> same folder."""
    settings = {k: v for k, v in to_dict(cfg).items() if k not in {"resume", "logging_steps", "checkpoint_steps"}}
    key = {"base": base_identity, "texts": texts_fingerprint(texts), "train": settings, "seed": seed, **(extra or {})}
    world = distributed()[1]
    if world > 1:  # more processes, a larger global batch: another model (one process keeps its old key)
        key["world_size"] = world
    return TrainingRun.keyed(kind, key, models_dir)


def fit_model(
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
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers

    from .losses import make_loss

    n_rows = len(next(iter(columns.values())))
    n_steps = math.ceil(cfg.epochs * math.ceil(n_rows / (cfg.batch_size * distributed()[1])))
    what = f"{record.get('kind', 'training')} of {record.get('base_model', 'the model')}"
    if n_steps >= 2:  # one step is checked below against the batches the sampler really makes
        check_schedule(n_steps, cfg.warmup_ratio, what=what)  # before any work
    run.write_request({**record, "seed": seed, "train": to_dict(cfg)})
    use_eval = evaluator is not None and cfg.eval_steps > 0
    args = SentenceTransformerTrainingArguments(
        **trainer_arguments(
            run,
            seed=seed,
            device=device,
            show_progress=show_progress,
            logging_steps=cfg.logging_steps,
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
        )
    )
    from transformers import set_seed

    set_seed(seed)  # a loss may create weights (TSDAE's decoder, SCCL's head): the same seed, the same weights
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict(columns),
        loss=loss(model) if loss else make_loss(model, cfg),
        evaluator=evaluator if use_eval else None,
        callbacks=list(callbacks or []),
    )
    silence_printer(trainer)
    _fit_schedule(trainer, cfg.epochs, what)
    resume_from = run.resume_checkpoint(cfg.resume)
    before = (
        evaluator(model, steps=0)[evaluator.metric_key.removeprefix("eval_")] if use_eval and not resume_from else None
    )
    digest = weights_digest(model)
    t0 = time.perf_counter()
    with training_threads():
        result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - t0
    check_weights_changed(digest, model, what=what, n_steps=trainer.state.global_step)
    key = evaluator.metric_key if use_eval else ""
    best = max((e[key] for e in trainer.state.log_history if key in e), default=None)
    kept = "trained"
    # the verdict scores the untouched model 0 and says better only above 0: a tie keeps the untouched model
    never_beat = (
        best is not None and before is not None and (best <= before if evaluator.by == "verdict" else best < before)
    )
    if use_eval and cfg.keep_best and never_beat:
        # training never beat the untouched model on held-out clustering: keep the untouched one
        logger.warning(
            "held-out %s went from %.3f to at best %.3f%s; keeping the base model",
            evaluator.by,
            before,
            best,
            " (the verdict never said better)" if evaluator.by == "verdict" else "",
        )
        model, _, _ = load_sentence_transformer(
            record["base_target"], max_seq_length=record["max_seq_length"], pooling=record["pooling"], device=device
        )
        kept = "base"
    return run.finish(
        {
            **{k: record[k] for k in ("base_model", "kind") if k in record},
            "global_step": trainer.state.global_step,
            "resumed_from": resume_from.name if resume_from else None,
            "train_seconds_this_session": round(seconds, 2),
            "train_loss": float(result.training_loss),
            # under this key whichever score keep-best read (``by``: v_measure; silhouette or verdict without labels)
            "heldout_v_measure": {
                "before": before,
                "best": best,
                "kept": kept,
                "by": evaluator.by,
                "k_choice": evaluator.k_choice,
                **({"signals": list(evaluator.signals)} if evaluator.by == "verdict" else {}),
            }
            if use_eval
            else None,
            "metrics": {k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))},
            "log_history": trainer.state.log_history,
            "settings": dataclasses.asdict(cfg),
        },
        save=lambda: model.save(str(run.model_dir)),
    )


def _fit_schedule(trainer: Any, epochs: float, what: str) -> None:
    """The optimizer steps the trainer will really make (its sampler may drop a short last batch,
    or group texts by label into fewer batches than rows / batch size): none is one line; a single
    step runs without warm-up (its linear warm-up would give that one step learning rate 0)."""
    per_epoch = len(trainer.get_train_dataloader()) // max(1, trainer.args.gradient_accumulation_steps)
    steps = math.ceil(epochs * per_epoch)
    if steps < 1:
        raise ValueError(
            f"{what}: the batches make no optimizer step (too few texts for one batch);"
            " give more texts or a smaller train.batch_size"
        )
    if steps == 1 and trainer.args.warmup_steps:
        logger.info("%s: one optimizer step, taken at the peak learning rate (no warm-up)", what)
        trainer.args.warmup_steps = 0


def prepare_run(
    base_model_spec: str,
    texts: list[str],
    cfg: TrainConfig,
    *,
    kind: str,
    seed: int,
    device: str | None,
    data_dir: str | Path,
    output_dir: str | Path | None,
    extra: dict[str, Any] | None = None,
) -> tuple[Any, TrainingRun, dict[str, Any]]:
    """Locate the base model and pick the run folder; the model is None when the run is finished."""
    loc = locate(base_model_spec, max_seq_length=cfg.max_seq_length, pooling=cfg.pooling, data_dir=data_dir, seed=seed)
    run = simcse_run(loc.identity, texts, cfg, seed, models_dir(data_dir), kind=kind, extra=extra)
    if output_dir:
        run = run.at(output_dir)
        run.check_output_folder()
    record = {
        "kind": kind,
        "base_model": base_model_spec,
        "base_target": loc.target,
        "base_identity": loc.identity,
        "base_provenance": loc.provenance,
        "texts_fingerprint": texts_fingerprint(texts),
        "max_seq_length": cfg.max_seq_length,
        "pooling": cfg.pooling,
    }
    if run.reusable(own_folder=bool(output_dir)):
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
    model, run, record = prepare_run(
        base_model_spec,
        texts,
        cfg,
        kind=kind,
        seed=seed,
        device=device,
        data_dir=data_dir,
        output_dir=output_dir,
        extra=extra,
    )
    if model is None:
        return run.result()
    return fit_model(
        model,
        columns,
        cfg,
        run,
        {**record, "n_rows": len(next(iter(columns.values()))), **(extra or {})},
        seed=seed,
        device=device,
        show_progress=show_progress,
        callbacks=callbacks,
        **fit_options,
    )
