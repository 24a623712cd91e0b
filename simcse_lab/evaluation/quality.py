"""What a model's embeddings are like besides how they cluster: one row of ``model_metrics``.

- ``dim`` and ``mean_cosine`` (the anisotropy: mean cosine of random pairs of different texts);
- ``alignment`` over two dropout views of the same texts and ``uniformity`` over pairs of
  different texts (Wang & Isola, as in the SimCSE paper); a deterministic encoder has no
  dropout views, so its alignment is NaN;
- ``sts_<split>``: STS-B Spearman correlation of cosine similarity with the gold scores.

The formulas are in `simcse_lab.evaluation.geometry`; this module gathers their inputs (dropout views,
STS-B pairs) for one encoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..corpus.benchmarks import load_sts
from ..encoding.encode import dropout_views, encode_texts
from ..encoding.encoders import SentenceEncoder
from .geometry import alignment_uniformity, mean_cosine, sts_spearman

__all__ = ["alignment_sample", "model_quality", "sts_score"]


def sts_score(
    encoder: Any, split: str, *, batch_size: int = 16, data_dir: str | Path = "data", cache_dir: Path | None = None
) -> float:
    """Spearman correlation of cosine similarity with STS-B gold scores for one split."""
    pairs = load_sts(split, data_dir=data_dir)
    x = encode_texts(
        encoder,
        pairs.sentences1 + pairs.sentences2,
        batch_size=batch_size,
        normalize=True,
        cache_dir=cache_dir,
        show_progress=False,
    )
    return sts_spearman(x[: len(pairs)], x[len(pairs) :], pairs.scores)


def alignment_sample(n_texts: int, n_alignment: int, seed: int) -> np.ndarray | None:
    """The sorted indices of the texts alignment/uniformity use (the same for every model), or None."""
    n = min(n_alignment, n_texts)
    return np.sort(np.random.default_rng(seed).choice(n_texts, size=n, replace=False)) if n >= 2 else None


def model_quality(
    encoder: Any,
    x: np.ndarray,
    texts: list[str],
    cfg: Any,
    *,
    align_idx: np.ndarray | None,
    cache_dir: Path | None = None,
    timer: Any = None,
    name: str = "",
) -> dict[str, float]:
    """The geometry and STS row for one model whose corpus embeddings are ``x``."""
    from contextlib import nullcontext

    step = timer if timer is not None else (lambda _: nullcontext())
    row: dict[str, float] = {"dim": int(x.shape[1]), "mean_cosine": mean_cosine(x, seed=cfg.seed)}
    if align_idx is not None:
        with step(f"alignment {name}"):
            row["alignment"] = float("nan")
            torch_encoder = getattr(encoder, "torch_encoder", encoder)  # an ONNX one keeps its torch model
            if isinstance(torch_encoder, SentenceEncoder):
                sample = [texts[i] for i in align_idx]
                a, b = dropout_views(
                    torch_encoder, sample, batch_size=cfg.encode.batch_size, seed=cfg.seed, cache_dir=cache_dir
                )
                row["alignment"] = alignment_uniformity(a, b)["alignment"]
            row["uniformity"] = alignment_uniformity(x[align_idx], x[align_idx])["uniformity"]
    for split in cfg.metrics.sts_splits:
        with step(f"sts {name}"):
            row[f"sts_{split}"] = sts_score(
                encoder, split, batch_size=cfg.encode.batch_size, data_dir=cfg.data_dir, cache_dir=cache_dir
            )
    return row
