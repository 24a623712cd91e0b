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

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .config import PretrainConfig, to_dict
from .encode import texts_fingerprint
from .train import last_checkpoint

logger = logging.getLogger(__name__)

__all__ = ["masked_only_mlm_loss", "mlm_loss", "pretrain_mlm", "pretrain_run_dir", "validate_pretrain_config"]


def validate_pretrain_config(cfg: PretrainConfig) -> None:
    problems = []
    if cfg.max_steps < 1:
        problems.append(f"pretrain.max_steps must be >= 1, got {cfg.max_steps}")
    if cfg.batch_size < 1 or cfg.max_seq_length < 8:
        problems.append("pretrain.batch_size must be >= 1 and pretrain.max_seq_length >= 8")
    if not 0 < cfg.mlm_probability < 1:
        problems.append(f"pretrain.mlm_probability must be in (0, 1), got {cfg.mlm_probability}")
    if not 0 < cfg.learning_rate < 1:
        problems.append(f"pretrain.learning_rate must be in (0, 1), got {cfg.learning_rate}")
    if cfg.base is None and (cfg.hidden_size % cfg.num_heads or cfg.num_layers < 1):
        problems.append(
            f"pretrain.hidden_size ({cfg.hidden_size}) must be a multiple of pretrain.num_heads ({cfg.num_heads}),"
            " and num_layers >= 1"
        )
    if problems:
        raise ValueError("; ".join(problems))


def pretrain_run_dir(texts: list[str], cfg: PretrainConfig, seed: int, models_dir: str | Path, base_id: str) -> Path:
    settings = {k: v for k, v in to_dict(cfg).items() if k not in {"checkpoint_steps", "logging_steps"}}
    blob = json.dumps({"texts": texts_fingerprint(texts), "cfg": settings, "seed": seed, "base": base_id},
                      sort_keys=True)
    return Path(models_dir) / f"mlm-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _resolve(spec: str, data_dir: str | Path) -> str:
    from .models import minilm_path

    if spec == "minilm":
        return str(minilm_path(data_dir))
    path = Path(spec).expanduser()
    return str(path) if path.is_dir() else spec  # else a hub id


def _identity(spec: str) -> str:
    from .models import folder_hash

    path = Path(spec)
    return f"folder:{folder_hash(path)}" if path.is_dir() else f"hub:{spec}"


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


def mlm_loss(model_dir: str | Path, texts: list[str], *, max_seq_length: int = 64, mlm_probability: float = 0.15,
             batch_size: int = 32, seed: int = 0) -> float:
    """Mean masked-LM loss of a saved model on ``texts`` (the same random masks for the same seed)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling

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


def masked_only_mlm_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
    """The MLM loss with the vocabulary head applied to the masked positions only.

    ``*ForMaskedLM`` models project *every* token onto the vocabulary (about 30k logits each)
    and then ignore the 85% that carry no label; for a small encoder that projection and its
    gradient are most of a training step. Here the encoder runs as usual and the head sees
    only the labelled rows, which gives the same loss (mean cross-entropy over masked tokens)
    at a fraction of the cost. Returns None for an architecture whose head is not ``cls``
    (BERT) or ``lm_head`` (RoBERTa and relatives); the caller then uses the model's own loss.
    """
    import torch.nn.functional as F

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


def _trainer_class() -> type:
    from transformers import Trainer

    class MaskedOnlyTrainer(Trainer):
        """HF Trainer whose MLM loss skips the vocabulary projection of unmasked tokens."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if not return_outputs:
                loss = masked_only_mlm_loss(model, inputs, num_items_in_batch)
                if loss is not None:
                    return loss
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    return MaskedOnlyTrainer


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
) -> Path:
    """MLM-train an encoder on ``texts`` and return its transformers folder.

    From scratch (``cfg.base`` is None): a BERT of ``cfg.hidden_size`` x ``cfg.num_layers`` with the
    tokenizer of ``cfg.tokenizer``. Otherwise continue from the checkpoint ``cfg.base`` (alias,
    folder or hub id). ``output_dir`` defaults to ``<data_dir>/interim/models/mlm-<hash>``; a
    finished run is reused and an interrupted one resumes from its last checkpoint.
    """
    cfg = cfg or PretrainConfig()
    validate_pretrain_config(cfg)
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    if cfg.extra_texts:
        extra = Path(cfg.extra_texts)
        if not extra.is_file():
            raise FileNotFoundError(f"pretrain.extra_texts file not found: {extra}")
        texts += [ln.strip() for ln in extra.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(texts) < 2:
        raise ValueError("MLM pretraining needs at least 2 texts")
    base = _resolve(cfg.base, data_dir) if cfg.base else None
    tokenizer_src = base or _resolve(cfg.tokenizer, data_dir)
    base_id = _identity(base) if base else f"scratch+tokenizer:{_identity(tokenizer_src)}"
    out = Path(output_dir) if output_dir else pretrain_run_dir(
        texts, cfg, seed, Path(data_dir) / "interim" / "models", base_id
    )
    model_dir, log_path = out / "model", out / "pretrain_log.json"
    if (model_dir / "config.json").is_file() and log_path.is_file():
        logger.info("MLM-pretrained encoder found at %s; reusing it", model_dir)
        return model_dir

    from datasets import Dataset
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_src)
    model = _build_model(cfg, tokenizer, base, seed)
    dataset = Dataset.from_dict({"text": texts}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=cfg.max_seq_length),
        batched=True, remove_columns=["text"],
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "pretrain_config.yaml").write_text(yaml.safe_dump(
        {"base": cfg.base, "base_identity": base_id, "n_texts": len(texts), "texts_fingerprint": texts_fingerprint(texts),
         "seed": seed, "n_parameters": int(sum(p.numel() for p in model.parameters())), "pretrain": to_dict(cfg)},
        sort_keys=False,
    ))
    ckpt_dir = out / "checkpoints"
    args = TrainingArguments(
        output_dir=str(ckpt_dir),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        warmup_steps=cfg.warmup_ratio,
        weight_decay=0.01,
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
    trainer = _trainer_class()(
        model=model, args=args, train_dataset=dataset,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=cfg.mlm_probability),
        callbacks=list(callbacks or []),
    )
    resume = last_checkpoint(ckpt_dir)
    if resume is not None:
        logger.info("resuming MLM pretraining from %s", resume)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.perf_counter() - t0
    trainer.save_model(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    log_path.write_text(json.dumps({
        "global_step": trainer.state.global_step,
        "resumed_from": resume.name if resume else None,
        "train_seconds_this_session": round(seconds, 2),
        "train_loss": float(result.training_loss),
        "first_logged_loss": losses[0] if losses else None,
        "last_logged_loss": losses[-1] if losses else None,
        "log_history": trainer.state.log_history,
    }, indent=2))
    return model_dir
