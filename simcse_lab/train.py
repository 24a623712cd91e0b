"""Unsupervised SimCSE with sentence-transformers' own trainer and loss.

Each text is paired with itself; the model's dropout (active in train mode) makes the two
encodings differ, and ``MultipleNegativesRankingLoss`` (InfoNCE with cosine similarity times
``scale``; 20 = temperature 0.05) pulls each pair together while pushing it away from the other
texts of the batch. The no-duplicates batch sampler keeps identical texts out of one batch, where
they would be false negatives.

Output layout of a run folder::

    <output_dir>/model/              standard sentence-transformers folder (the result)
    <output_dir>/train_config.yaml   the training settings, base model and corpus fingerprint
    <output_dir>/training_log.json   the trainer's log history (loss, learning rate per step)
    <output_dir>/checkpoints/        resumable checkpoints every ``checkpoint_steps``
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .config import TrainConfig, to_dict
from .encode import texts_fingerprint
from .models import load_sentence_transformer

logger = logging.getLogger(__name__)

__all__ = ["infonce_on_batch", "simcse_run_dir", "train_simcse", "validate_train_config"]


def validate_train_config(cfg: TrainConfig) -> None:
    problems = []
    if cfg.epochs <= 0:
        problems.append(f"train.epochs must be > 0, got {cfg.epochs}")
    if cfg.batch_size < 2:
        problems.append(f"train.batch_size must be >= 2 (in-batch negatives need a batch), got {cfg.batch_size}")
    if not 0 < cfg.learning_rate < 1:
        problems.append(f"train.learning_rate must be in (0, 1), got {cfg.learning_rate}")
    if not 0 <= cfg.warmup_ratio < 1:
        problems.append(f"train.warmup_ratio must be in [0, 1), got {cfg.warmup_ratio}")
    if cfg.max_seq_length < 1:
        problems.append(f"train.max_seq_length must be positive, got {cfg.max_seq_length}")
    if cfg.scale <= 0:
        problems.append(f"train.scale must be positive, got {cfg.scale}")
    if cfg.checkpoint_steps < 1 or cfg.logging_steps < 1:
        problems.append("train.checkpoint_steps and train.logging_steps must be >= 1")
    if cfg.n_texts is not None and cfg.n_texts < 2:
        problems.append(f"train.n_texts must be >= 2, got {cfg.n_texts}")
    if problems:
        raise ValueError("; ".join(problems))


def _training_texts(texts: list[str], cfg: TrainConfig, seed: int) -> list[str]:
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if cfg.n_texts is not None and cfg.n_texts < len(texts):
        idx = np.sort(np.random.default_rng(seed).choice(len(texts), size=cfg.n_texts, replace=False))
        texts = [texts[i] for i in idx]
    if len(set(texts)) < 2:
        raise ValueError("SimCSE needs at least 2 distinct training texts")
    return texts


def simcse_run_dir(
    base_identity: dict[str, Any], texts: list[str], cfg: TrainConfig, seed: int, models_dir: str | Path
) -> Path:
    """Deterministic folder for a training run: same base, texts, settings and seed -> same folder."""
    settings = {k: v for k, v in to_dict(cfg).items() if k not in {"resume", "logging_steps", "checkpoint_steps"}}
    blob = json.dumps(
        {"base": base_identity, "texts": texts_fingerprint(texts), "train": settings, "seed": seed}, sort_keys=True
    )
    return Path(models_dir) / f"simcse-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _last_checkpoint(ckpt_dir: Path) -> Path | None:
    found = [p for p in ckpt_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None


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
) -> Path:
    """Train unsupervised SimCSE from ``base_model_spec`` on ``texts``; return the model folder.

    ``output_dir`` defaults to ``<data_dir>/interim/models/simcse-<hash>``, a hash of the base
    model's identity, the texts, the settings and the seed, so a finished run is reused and an
    interrupted one resumes (``cfg.resume``) from its last checkpoint.
    """
    cfg = cfg or TrainConfig()
    validate_train_config(cfg)
    texts = _training_texts(list(texts), cfg, seed)
    model, identity, provenance = load_sentence_transformer(
        base_model_spec,
        max_seq_length=cfg.max_seq_length,
        pooling=cfg.pooling,
        device=device,
        seed=seed,
        data_dir=data_dir,
    )
    out = Path(output_dir) if output_dir else simcse_run_dir(identity, texts, cfg, seed, Path(data_dir) / "interim" / "models")
    model_dir, log_path = out / "model", out / "training_log.json"
    if (model_dir / "modules.json").is_file() and log_path.is_file():
        logger.info("SimCSE model already trained at %s; reusing it", model_dir)
        return model_dir

    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.yaml").write_text(
        yaml.safe_dump(
            {
                "base_model": base_model_spec,
                "base_identity": identity,
                "base_provenance": provenance,
                "n_texts": len(texts),
                "texts_fingerprint": texts_fingerprint(texts),
                "seed": seed,
                "train": to_dict(cfg),
            },
            sort_keys=False,
        )
    )
    ckpt_dir = out / "checkpoints"
    dataset = Dataset.from_dict({"anchor": texts, "positive": texts})
    loss = MultipleNegativesRankingLoss(model, scale=cfg.scale)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(ckpt_dir),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        # transformers 5 reads a float below 1 in warmup_steps as a ratio (warmup_ratio is deprecated)
        warmup_steps=cfg.warmup_ratio,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="steps",
        save_steps=cfg.checkpoint_steps,
        save_total_limit=2,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        seed=seed,
        data_seed=seed,
        report_to="none",
        disable_tqdm=not show_progress,
        use_cpu=(device == "cpu"),
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=loss, callbacks=list(callbacks or [])
    )
    resume_from = _last_checkpoint(ckpt_dir) if cfg.resume else None
    if resume_from is not None:
        logger.info("resuming SimCSE training from %s", resume_from)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - t0
    model.save(str(model_dir))
    log = {
        "base_model": base_model_spec,
        "global_step": trainer.state.global_step,
        "resumed_from": resume_from.name if resume_from else None,
        "train_seconds_this_session": round(seconds, 2),
        "train_loss": float(result.training_loss),
        "metrics": {k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))},
        "log_history": trainer.state.log_history,
        "settings": dataclasses.asdict(cfg),
    }
    log_path.write_text(json.dumps(log, indent=2))
    return model_dir


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
