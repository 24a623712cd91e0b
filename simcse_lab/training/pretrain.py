"""Masked-language-model pretraining: the offline way to get a *raw* encoder.

The seed article starts from distilroberta-base, an encoder trained only with masked language
modelling (MLM). No such checkpoint ships in a registry package, so this module makes one:
either continue MLM training from an existing checkpoint (domain adaptation) or start a small
BERT from scratch with a given size and an existing tokenizer (by default MiniLM's uncased
WordPiece vocabulary). The recipe is sentence-transformers' unsupervised-learning MLM example:
``AutoModelForMaskedLM`` + ``DataCollatorForLanguageModeling`` + the Hugging Face ``Trainer``.

The result is a standard transformers folder (model + tokenizer) usable as a model spec anywhere
(it becomes ``Transformer + Pooling``). Runs are keyed by settings and texts, checkpointed, and
resumable, like SimCSE training.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import PretrainConfig, to_dict, validate, with_overrides
from ..core.paths import models_dir
from ..core.runtime import training_threads
from ..encoding.encode import texts_fingerprint
from ..encoding.locations import folder_hash
from ..encoding.resolve import SpecContext, register_alias, resolve_target
from .lifecycle import (
    TrainingRun,
    TrainResult,
    check_schedule,
    check_weights_changed,
    silence_printer,
    trainer_arguments,
    weights_digest,
)

logger = logging.getLogger(__name__)

__all__ = ["mlm_loss", "pretrain_mlm", "pretrain_run"]


def pretrain_run(texts: list[str], cfg: PretrainConfig, seed: int, models_dir: str | Path, base_id: str) -> TrainingRun:
    """The keyed run folder ``<models_dir>/mlm-<hash>`` of an MLM pretraining."""
    settings = {k: v for k, v in to_dict(cfg).items() if k not in {"checkpoint_steps", "logging_steps"}}
    return TrainingRun.keyed(
        "mlm",
        {"texts": texts_fingerprint(texts), "cfg": settings, "seed": seed, "base": base_id},
        models_dir,
        log_name="pretrain_log.json",
        marker="config.json",
        request_name="pretrain_config.yaml",
    )


def _target(spec: str, data_dir: str | Path, seed: int) -> str:
    """A folder or hub id for an alias, folder or hub id (``minilm`` -> its folder)."""
    target = resolve_target(spec, SpecContext(data_dir=data_dir, seed=seed)).target
    if target is None:
        raise ValueError(f"pretrain: {spec!r} has no weights or tokenizer to start from")
    return target


def _identity(target: str) -> str:
    path = Path(target)
    return f"folder:{folder_hash(path)}" if path.is_dir() else f"hub:{target}"


def _build_model(cfg: PretrainConfig, tokenizer: Any, base: str | None, seed: int) -> Any:
    import torch
    from transformers import AutoModelForMaskedLM, BertConfig

    if base is not None:
        return AutoModelForMaskedLM.from_pretrained(base)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size or 4 * cfg.hidden_size,
        max_position_embeddings=max(512, cfg.max_seq_length),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return AutoModelForMaskedLM.from_config(config)


def mlm_loss(
    model_dir: str | Path,
    texts: list[str],
    *,
    max_seq_length: int = 64,
    mlm_probability: float = 0.15,
    batch_size: int = 32,
    seed: int = 0,
) -> float:
    """Mean masked-LM loss of a saved model on ``texts`` (the same random masks for the same seed)."""
    import torch
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
    )

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForMaskedLM.from_pretrained(str(model_dir)).eval()
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=mlm_probability)
    torch.manual_seed(seed)
    losses, weights = [], []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            enc = tok(texts[start : start + batch_size], truncation=True, max_length=max_seq_length)
            batch = collator([{k: enc[k][i] for k in enc} for i in range(len(enc["input_ids"]))])
            n_masked = int((batch["labels"] != -100).sum())
            if n_masked == 0:
                continue
            losses.append(float(model(**batch).loss) * n_masked)
            weights.append(n_masked)
    return float(np.sum(losses) / max(np.sum(weights), 1))


def pretrain_mlm(
    texts: list[str],
    cfg: PretrainConfig | None = None,
    *,
    output_dir: str | Path | None = None,
    seed: int = 42,
    device: str | None = None,
    data_dir: str | Path = "data",
    show_progress: bool = True,
    callbacks: list[Any] | None = None,
) -> TrainResult:
    """MLM-train an encoder on ``texts``; return its transformers folder and the training log.

    From scratch (``cfg.base`` is None): a BERT of ``cfg.hidden_size`` x ``cfg.num_layers`` with the
    tokenizer of ``cfg.tokenizer``. Otherwise continue from the checkpoint ``cfg.base`` (alias,
    folder or hub id). ``output_dir`` defaults to ``<data_dir>/interim/models/mlm-<hash>``; a
    finished run is reused and an interrupted one resumes from its newest valid checkpoint.
    """
    cfg = cfg or PretrainConfig()
    validate(cfg)
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if cfg.extra_texts:
        extra = Path(cfg.extra_texts).expanduser()
        if not extra.is_file():
            raise FileNotFoundError(f"pretrain.extra_texts file not found: {extra}")
        texts += [ln.strip() for ln in extra.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(texts) < 2:
        raise ValueError("MLM pretraining needs at least 2 texts")
    base = _target(cfg.base, data_dir, seed) if cfg.base else None
    tokenizer_src = base or _target(cfg.tokenizer, data_dir, seed)
    base_id = _identity(base) if base else f"scratch+tokenizer:{_identity(tokenizer_src)}"
    run = pretrain_run(texts, cfg, seed, models_dir(data_dir), base_id)
    if output_dir:
        run = run.at(output_dir)
        run.check_output_folder()
    if run.reusable(own_folder=bool(output_dir)):
        logger.info("MLM-pretrained encoder found at %s; reusing it", run.model_dir)
        return run.result()

    from datasets import Dataset
    from transformers import (
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        TrainingArguments,
    )

    from .losses import MaskedOnlyTrainer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_src)
    model = _build_model(cfg, tokenizer, base, seed)
    dataset = Dataset.from_dict({"text": texts}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=cfg.max_seq_length),
        batched=True,
        remove_columns=["text"],
    )
    run.write_request(
        {
            "base": cfg.base,
            "base_identity": base_id,
            "n_texts": len(texts),
            "texts_fingerprint": texts_fingerprint(texts),
            "seed": seed,
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "pretrain": to_dict(cfg),
        }
    )
    args = TrainingArguments(
        **trainer_arguments(
            run,
            seed=seed,
            device=device,
            show_progress=show_progress,
            logging_steps=cfg.logging_steps,
            max_steps=cfg.max_steps,
            per_device_train_batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate,
            warmup_steps=cfg.warmup_ratio,
            weight_decay=0.01,
            save_steps=cfg.checkpoint_steps,
        )
    )
    trainer = MaskedOnlyTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=cfg.mlm_probability),
        callbacks=list(callbacks or []),
    )
    silence_printer(trainer)
    resume = run.resume_checkpoint()
    check_schedule(cfg.max_steps, cfg.warmup_ratio, what="MLM pretraining")
    digest = weights_digest(model)
    t0 = time.perf_counter()
    with training_threads():
        result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.perf_counter() - t0
    check_weights_changed(digest, model, what="MLM pretraining", n_steps=trainer.state.global_step)
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]

    def save() -> None:
        trainer.save_model(str(run.model_dir))
        tokenizer.save_pretrained(str(run.model_dir))

    return run.finish(
        {
            "global_step": trainer.state.global_step,
            "resumed_from": resume.name if resume else None,
            "train_seconds_this_session": round(seconds, 2),
            "train_loss": float(result.training_loss),
            "first_logged_loss": losses[0] if losses else None,
            "last_logged_loss": losses[-1] if losses else None,
            "log_history": trainer.state.log_history,
        },
        save=save,
    )


@register_alias("mlm", "an encoder MLM-pretrained on the corpus's texts, per the pretrain section (cached)")
def _mlm(ctx: SpecContext) -> Path:
    cfg = ctx.need_config("mlm")
    texts = ctx.get_corpus("mlm").texts
    if cfg.pretrain.all_texts and cfg.corpus.n_samples is not None:
        from ..corpus.splits import load_corpus_for

        texts = load_corpus_for(with_overrides(cfg, {"corpus.n_samples": None})).texts
    with ctx.step("pretrain mlm"):
        return pretrain_mlm(
            texts,
            cfg.pretrain,
            seed=cfg.seed,
            device=cfg.encode.device,
            data_dir=cfg.data_dir,
            show_progress=cfg.encode.show_progress,
        ).model_dir
