"""Each trained model against its start model, on the held-out texts, without labels.

Two steps after every model is clustered (`simcse_lab.experiment.run`):

1. `add_same_k`: when KMeans chose k without labels, each model chose its own, and a trained model
   whose KMeans chose another k than its start model's cannot be compared with it like for like.
   Both are also clustered at the start model's k, as clusterer ``kmeans-start-k`` (the start
   model's row is its own KMeans again). The trained model's own-k KMeans stays the clustering a
   user reads.
2. `judge_against_start`: every clustering is read by every verdict signal in the views its model
   did not make (`simcse_lab.evaluation.views`), and each trained model's clusterings get the
   paired differences and the verdict (`simcse_lab.evaluation.verdict`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..core.cache import ArrayCache
from ..core.hashing import array_digest, content_hash
from ..core.registry import SIGNALS
from .clusterings import ModelClusterings, cluster_kmeans_at, in_run_order
from .verdict import judge_pairs
from .views import Judged, LexicalView

__all__ = ["SAME_K", "add_same_k", "judge_against_start"]

SAME_K = "kmeans-start-k"


def add_same_k(
    found: ModelClusterings, runs: list[Any], cfg: Any, *, backend: str, cache: Any = None, **context: Any
) -> None:
    """Add ``kmeans-start-k`` clusterings to ``found`` for every trained model whose start model is
    in ``runs`` and whose KMeans (on the vectors) chose k without labels. ``context``: what
    `cluster_with` needs besides (levels, n_classes, texts, terms, timer)."""
    if ("kmeans", "raw") not in set(cfg.cluster.runs()):
        return
    by_name = {m.name: m for m in runs}
    for mr in runs:
        start = by_name.get(mr.trained_from) if mr.trained_from else None
        chosen = found.k_choices.get(f"{start.name} kmeans/raw") if start else None
        own = found.k_choices.get(f"{mr.name} kmeans/raw")
        if chosen is None or own is None:  # k was not chosen per model: the kmeans rows already share it
            continue
        _same_as_kmeans(found, start.name)
        if own["k"] == chosen["k"]:
            _same_as_kmeans(found, mr.name)
            continue
        cluster_kmeans_at(found, mr, int(chosen["k"]), SAME_K, cfg, backend=backend, cache=cache, **context)
    in_run_order(found, runs)


def _same_as_kmeans(found: ModelClusterings, model: str) -> None:
    """``model``'s own KMeans again, as its ``kmeans-start-k`` clustering (its k is the start model's)."""
    key, same = (model, "kmeans", "raw"), (model, SAME_K, "raw")
    if same in found.labels:
        return
    found.labels[same], found.probabilities[same] = found.labels[key], found.probabilities.get(key)
    found.rows += [{**r, "clusterer": SAME_K} for r in found.rows if (r["model"], r["clusterer"], r["space"]) == key]


def judge_against_start(
    found: ModelClusterings,
    runs: list[Any],
    spaces: dict[str, dict[str, np.ndarray]],
    cfg: Any,
    *,
    texts: list[str],
    terms: Any = None,
    cache: ArrayCache | None = None,
) -> None:
    """Add every signal's value, and for trained models the paired differences and the verdict, to
    the rows of ``found`` (``spaces``: each model's clustered points by space). Only the models of a
    pair (a trained model and its start model) are read. The result is kept in ``cache`` under
    everything it depends on (the clusterings, their spaces, the texts, the settings and the code
    of the signals), so a rerun from the caches reads it back. ``terms``: the run's term counts of
    ``texts`` (`simcse_lab.evaluation.describe.TermIndex`), counted again here when None."""
    by_name = {m.name: m for m in runs}
    paired = {m.name for m in runs if m.trained_from in by_name} | {
        m.trained_from for m in runs if m.trained_from in by_name
    }
    if not paired:
        return
    lexical = LexicalView(texts, seed=cfg.seed, terms=terms)
    judged = {}
    for (model, clusterer, space), labels in found.labels.items():
        if model in paired:
            mr = by_name[model]
            start = by_name.get(mr.trained_from, mr) if mr.trained_from else mr
            judged[(model, clusterer, space)] = Judged(
                np.asarray(labels), spaces[model][space], start.embeddings, lexical, noise_label=-1, seed=cfg.seed
            )
    settings = {
        "signals": list(cfg.metrics.verdict_signals),
        "across": cfg.metrics.verdict_abstain_across_k,
        "n_resamples": max(cfg.metrics.n_bootstrap, 2),
        "seed": cfg.seed,
    }
    key = (
        _judged_key(judged, texts, {m: by_name[m].trained_from for m in paired}, settings) if cache is not None else ""
    )
    record = cache.record(key) if cache is not None and cache.load(key) is not None else None
    if record is not None and record.get("what") == "verdicts":
        columns = {
            tuple(k.split("\x1f")): {c: (np.nan if v is None else v) for c, v in row.items()}
            for k, row in record["columns"].items()
        }
    else:
        columns = judge_pairs(
            judged,
            {m.name: m.trained_from for m in runs},
            signals=settings["signals"],
            abstain_across_k=settings["across"],
            n_resamples=settings["n_resamples"],
            seed=cfg.seed,
        )
        if cache is not None:
            cache.save(
                key,
                np.zeros((1, 1), np.float32),
                {
                    "what": "verdicts",
                    "columns": {
                        "\x1f".join(k): {
                            c: (None if isinstance(v, float) and not np.isfinite(v) else v) for c, v in row.items()
                        }
                        for k, row in columns.items()
                    },
                },
            )
    for row in found.rows:
        row.update(columns.get((row["model"], row["clusterer"], row["space"]), {}))


def _judged_key(judged: dict, texts: list[str], trained_from: dict, settings: dict) -> str:
    """Everything the verdicts depend on, the code of the signals included."""
    import inspect

    from . import signals, verdict, views

    code = [inspect.getsource(m) for m in (verdict, views)]
    code += [p.read_text() for p in sorted(Path(signals.__file__).parent.glob("*.py"))]
    return content_hash(
        {
            "what": "verdicts",
            "settings": settings,
            "texts": content_hash(list(texts)),
            "trained_from": trained_from,
            "code": content_hash(code),
            "registered": list(SIGNALS.names()),
            "judged": {
                "\x1f".join(k): [
                    array_digest(np.ascontiguousarray(j.labels)),
                    array_digest(np.ascontiguousarray(j.space)),
                    array_digest(np.ascontiguousarray(j.start)),
                ]
                for k, j in judged.items()
            },
        }
    )
