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
attention-alignment term (:func:`make_micse_loss`), and a held-out clustering evaluator
(:func:`make_clustering_evaluator`) with keep-best.

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
from .models import load_located, load_sentence_transformer, locate_model

logger = logging.getLogger(__name__)

__all__ = [
    "attention_alignment",
    "infonce_on_batch",
    "last_checkpoint",
    "make_clustering_evaluator",
    "make_micse_loss",
    "simcse_run_dir",
    "train_simcse",
    "train_supervised_simcse",
    "validate_train_config",
]


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
    if cfg.loss not in ("mnrl", "cached-mnrl"):
        problems.append(f"train.loss must be mnrl or cached-mnrl, got {cfg.loss!r}")
    if cfg.mini_batch_size < 1:
        problems.append(f"train.mini_batch_size must be >= 1, got {cfg.mini_batch_size}")
    if cfg.attention_weight < 0:
        problems.append(f"train.attention_weight must be >= 0, got {cfg.attention_weight}")
    if cfg.attention_weight > 0 and cfg.loss == "cached-mnrl":
        problems.append("train.attention_weight (miCSE) works with loss=mnrl only")
    if cfg.eval_steps < 0 or cfg.eval_n_texts < 2:
        problems.append("train.eval_steps must be >= 0 and train.eval_n_texts >= 2")
    if cfg.nli_n_triplets is not None and cfg.nli_n_triplets < 2:
        problems.append(f"train.nli_n_triplets must be >= 2, got {cfg.nli_n_triplets}")
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
    base_identity: dict[str, Any], texts: list[str], cfg: TrainConfig, seed: int, models_dir: str | Path,
    *, kind: str = "simcse", extra: dict[str, Any] | None = None,
) -> Path:
    """Deterministic folder for a training run: same base, data, settings and seed -> same folder."""
    settings = {k: v for k, v in to_dict(cfg).items() if k not in {"resume", "logging_steps", "checkpoint_steps"}}
    blob = json.dumps(
        {"base": base_identity, "texts": texts_fingerprint(texts), "train": settings, "seed": seed, **(extra or {})},
        sort_keys=True,
    )
    return Path(models_dir) / f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def last_checkpoint(ckpt_dir: Path) -> Path | None:
    """The highest-numbered ``checkpoint-N`` folder a trainer left in ``ckpt_dir``, or None."""
    found = [p for p in ckpt_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None


# --------------------------------------------------------------------------- miCSE


def attention_alignment(a1: Any, a2: Any, attention_mask: Any, *, eps: float = 1e-8) -> Any:
    """Symmetric KL divergence between two self-attention distributions, averaged over the batch,
    heads and valid query tokens.

    ``a1``, ``a2``: attention probabilities ``(batch, heads, query, key)`` of two dropout views of
    the same texts; ``attention_mask``: ``(batch, tokens)``, 1 for real tokens. The value is 0 for
    identical attention and positive otherwise.
    """
    import torch

    p = a1.clamp_min(eps)
    q = a2.clamp_min(eps)
    sym_kl = 0.5 * ((p - q) * (p.log() - q.log())).sum(dim=-1)  # (batch, heads, query)
    mask = attention_mask[:, None, :].to(sym_kl.dtype).expand_as(sym_kl)
    return (sym_kl * mask).sum() / torch.clamp(mask.sum(), min=1.0)


def make_micse_loss(model: Any, *, scale: float = 20.0, attention_weight: float = 0.1, layer: int = -1) -> Any:
    """miCSE (Klein & Nabi, 2022): SimCSE plus an attention-alignment regulariser.

    Exact form implemented here: for a batch of texts encoded twice with independent dropout
    masks, ``loss = MNRL(e1, e2) + attention_weight * attention_alignment(A1, A2)``, where
    ``MNRL`` is sentence-transformers' ``MultipleNegativesRankingLoss`` on the two views'
    sentence embeddings, and ``A1``/``A2`` are the self-attention probabilities of transformer
    layer ``layer`` (default: the last) in the same two forward passes. ``attention_alignment``
    is the symmetric KL divergence between the two views' attention distributions of each head
    and each real query token. With ``attention_weight == 0`` the loss is exactly
    ``MultipleNegativesRankingLoss`` (the attention is not even computed).
    """
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    class _MiCSELoss(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.mnrl = MultipleNegativesRankingLoss(model, scale=scale)
            self.attention_weight = attention_weight
            self.layer = layer
            if attention_weight > 0:
                hf = model[0].auto_model
                # attention probabilities exist only in the eager attention implementation
                if hasattr(hf, "set_attn_implementation"):
                    hf.set_attn_implementation("eager")
                else:  # pragma: no cover - older transformers
                    hf.config._attn_implementation = "eager"

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

        @property
        def citation(self) -> str:
            return "Klein & Nabi, miCSE: Mutual Information Contrastive Learning for Low-shot Sentence Embeddings, 2022"

    return _MiCSELoss()


# --------------------------------------------------------------------------- held-out evaluator


def _evaluator_base() -> type:
    from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

    return BaseEvaluator


def make_clustering_evaluator(texts: list[str], labels, *, name: str = "heldout", batch_size: int = 64,
                              seed: int = 0) -> Any:
    """A sentence-transformers evaluator: KMeans (k = number of classes) on the embeddings of a
    held-out slice, scored by V-measure. Logged as ``eval_<name>_v_measure`` during training."""
    from sklearn.cluster import KMeans

    from .metrics import score_clustering

    labels = np.asarray(labels)
    k = len(np.unique(labels))
    if k < 2 or len(texts) != len(labels):
        raise ValueError("the clustering evaluator needs texts with matching labels of at least 2 classes")

    class ClusteringEvaluator(_evaluator_base()):
        def __init__(self) -> None:
            super().__init__()
            self.name = name
            self.primary_metric = "v_measure"
            self.history: list[dict[str, float]] = []

        def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
            emb = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
            pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(np.asarray(emb))
            v = score_clustering(labels, pred)["v_measure"]
            self.history.append({"step": steps, "epoch": epoch, "v_measure": v})
            return self.prefix_name_to_metrics({"v_measure": v}, self.name)

    return ClusteringEvaluator()


# --------------------------------------------------------------------------- training


def _make_loss(model: Any, cfg: TrainConfig) -> Any:
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    if cfg.loss == "cached-mnrl":
        return CachedMultipleNegativesRankingLoss(model, scale=cfg.scale, mini_batch_size=cfg.mini_batch_size)
    if cfg.attention_weight > 0:
        return make_micse_loss(model, scale=cfg.scale, attention_weight=cfg.attention_weight)
    return MultipleNegativesRankingLoss(model, scale=cfg.scale)


def _fit(
    model: Any,
    columns: dict[str, list[str]],
    cfg: TrainConfig,
    out: Path,
    record: dict[str, Any],
    *,
    seed: int,
    device: str | None,
    show_progress: bool,
    callbacks: list[Any] | None,
    evaluator: Any = None,
) -> Path:
    """Train ``model`` on ``columns`` with the SimCSE loss; write the model folder, config and log."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    model_dir, log_path = out / "model", out / "training_log.json"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.yaml").write_text(yaml.safe_dump({**record, "seed": seed, "train": to_dict(cfg)}, sort_keys=False))
    ckpt_dir = out / "checkpoints"
    use_eval = evaluator is not None and cfg.eval_steps > 0
    args = SentenceTransformerTrainingArguments(
        output_dir=str(ckpt_dir),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        # transformers 5 reads a float below 1 in warmup_steps as a ratio (warmup_ratio is deprecated)
        warmup_steps=cfg.warmup_ratio,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="steps",
        # keep-best needs a checkpoint at every evaluation
        save_steps=cfg.eval_steps if use_eval else cfg.checkpoint_steps,
        save_total_limit=2,
        eval_strategy="steps" if use_eval else "no",
        eval_steps=cfg.eval_steps if use_eval else None,
        load_best_model_at_end=bool(use_eval and cfg.keep_best),
        metric_for_best_model=f"eval_{evaluator.name}_v_measure" if use_eval else None,
        greater_is_better=True,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        seed=seed,
        data_seed=seed,
        report_to="none",
        disable_tqdm=not show_progress,
        use_cpu=(device == "cpu"),
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=Dataset.from_dict(columns), loss=_make_loss(model, cfg),
        evaluator=evaluator if use_eval else None, callbacks=list(callbacks or []),
    )
    resume_from = last_checkpoint(ckpt_dir) if cfg.resume else None
    if resume_from is not None:
        logger.info("resuming SimCSE training from %s", resume_from)
    before = evaluator(model, steps=0)[f"{evaluator.name}_v_measure"] if use_eval and not resume_from else None
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - t0
    key = f"eval_{evaluator.name}_v_measure" if use_eval else ""
    best = max((e[key] for e in trainer.state.log_history if key in e), default=None)
    kept = "trained"
    if use_eval and cfg.keep_best and before is not None and best is not None and best < before:
        # training never beat the untouched model on held-out clustering: keep the untouched one
        logger.warning("held-out V-measure fell from %.3f to at best %.3f; keeping the base model", before, best)
        model = _reload_base(record, device)
        kept = "base"
    model.save(str(model_dir))
    log = {
        **{k: record[k] for k in ("base_model", "kind") if k in record},
        "global_step": trainer.state.global_step,
        "resumed_from": resume_from.name if resume_from else None,
        "train_seconds_this_session": round(seconds, 2),
        "train_loss": float(result.training_loss),
        "heldout_v_measure": {"before": before, "best": best, "kept": kept} if use_eval else None,
        "metrics": {k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))},
        "log_history": trainer.state.log_history,
        "settings": dataclasses.asdict(cfg),
    }
    log_path.write_text(json.dumps(log, indent=2))
    return model_dir


def _reload_base(record: dict[str, Any], device: str | None) -> Any:
    model, _, _ = load_sentence_transformer(
        record["base_model"], max_seq_length=record["max_seq_length"], pooling=record["pooling"], device=device,
        seed=record["seed_for_init"], data_dir=record["data_dir"],
    )
    return model


def _prepare(
    base_model_spec: str, texts: list[str], cfg: TrainConfig, *, kind: str, seed: int, device: str | None,
    data_dir: str | Path, output_dir: str | Path | None, extra: dict[str, Any] | None = None,
) -> tuple[Any, Path, dict[str, Any]]:
    """Load the base model and pick the run folder; the model is None when the run is already finished."""
    loc = locate_model(
        base_model_spec, max_seq_length=cfg.max_seq_length, pooling=cfg.pooling, seed=seed, data_dir=data_dir
    )
    identity, provenance = loc.identity, loc.provenance
    out = Path(output_dir) if output_dir else simcse_run_dir(
        identity, texts, cfg, seed, Path(data_dir) / "interim" / "models", kind=kind, extra=extra
    )
    record = {
        "kind": kind, "base_model": base_model_spec, "base_identity": identity, "base_provenance": provenance,
        "texts_fingerprint": texts_fingerprint(texts), "max_seq_length": cfg.max_seq_length, "pooling": cfg.pooling,
        "seed_for_init": seed, "data_dir": str(data_dir),
    }
    if (out / "model" / "modules.json").is_file() and (out / "training_log.json").is_file():
        logger.info("%s model already trained at %s; reusing it", kind, out / "model")
        return None, out, record
    return load_located(loc, device=device), out, record


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
) -> Path:
    """Train unsupervised SimCSE from ``base_model_spec`` on ``texts``; return the model folder.

    ``output_dir`` defaults to ``<data_dir>/interim/models/simcse-<hash>``, a hash of the base
    model's identity, the texts, the settings and the seed, so a finished run is reused and an
    interrupted one resumes (``cfg.resume``) from its last checkpoint. With ``cfg.eval_steps`` and
    ``eval_texts``/``eval_labels`` (a held-out slice, not in ``texts``), held-out V-measure is
    logged during training and ``cfg.keep_best`` keeps the best checkpoint, or the base model when
    training never beat it.
    """
    cfg = cfg or TrainConfig()
    validate_train_config(cfg)
    texts = _training_texts(list(texts), cfg, seed)
    extra = {"eval": texts_fingerprint(list(eval_texts))} if (eval_texts and cfg.eval_steps) else None
    model, out, record = _prepare(
        base_model_spec, texts, cfg, kind="simcse", seed=seed, device=device, data_dir=data_dir,
        output_dir=output_dir, extra=extra,
    )
    if model is None:
        return out / "model"
    evaluator = None
    if cfg.eval_steps and eval_texts:
        evaluator = make_clustering_evaluator(list(eval_texts), eval_labels, seed=seed)
    return _fit(
        model, {"anchor": texts, "positive": texts}, cfg, out, {**record, "n_texts": len(texts)}, seed=seed,
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
) -> Path:
    """Supervised SimCSE: (premise, entailment, contradiction) triplets, the contradiction as a
    hard negative besides the in-batch negatives (``MultipleNegativesRankingLoss`` on 3 columns)."""
    cfg = cfg or TrainConfig()
    validate_train_config(cfg)
    if cfg.attention_weight > 0:
        raise ValueError("miCSE (train.attention_weight) is defined for unsupervised pairs only")
    bad = [t for t in triplets if len(t) != 3 or not all(isinstance(s, str) and s.strip() for s in t)]
    if bad or len(triplets) < 2:
        raise ValueError("supervised SimCSE needs at least 2 (premise, entailment, contradiction) triplets of text")
    model, out, record = _prepare(
        base_model_spec, [s for t in triplets for s in t], cfg, kind="supsimcse", seed=seed, device=device,
        data_dir=data_dir, output_dir=output_dir,
    )
    if model is None:
        return out / "model"
    anchor, positive, negative = (list(c) for c in zip(*triplets))
    return _fit(
        model, {"anchor": anchor, "positive": positive, "negative": negative}, cfg, out,
        {**record, "n_triplets": len(triplets)}, seed=seed, device=device, show_progress=show_progress,
        callbacks=callbacks,
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
