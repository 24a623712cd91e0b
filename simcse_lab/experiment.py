"""The one orchestrator: corpus -> models -> embeddings -> UMAP -> clusterings -> scores.

``run(cfg)`` scores every model x every clusterer x every space with the same settings and
returns a :class:`Result`; ``Result.save(run_dir)`` writes ``config.yaml``, ``manifest.json``,
``results.csv``/``results.md``, ``model_metrics.csv``, ``metrics.json``, arrays and figures.
``compare(cfgs)`` runs several configs and stacks their tables.

Clusterer names in the table: ``kmeans``; ``hdbscan`` (argmax of the soft membership vectors, as
in the seed article: every point gets a cluster); ``hdbscan-hard`` (HDBSCAN's own labels, noise
counted as one more cluster, with ``noise_fraction``). Both HDBSCAN rows come from one fit.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .backends import BACKENDS, select_backend
from .cache import ArrayCache
from .cluster import HDBSCANClusterer, make_clusterer
from .config import ExperimentConfig, config_hash, to_yaml, with_overrides
from .data import Corpus, load_corpus, load_nli_triplets, load_sts
from .encode import encode_texts, is_cached
from .metrics import (
    alignment_uniformity,
    bootstrap_scores,
    mean_ci,
    mean_cosine,
    score_clustering,
    sts_spearman,
)
from .models import SentenceEncoder, load_encoder
from .pretrain import pretrain_mlm
from .reduce import make_reducer, warm_up_umap
from .runtime import configure_threads, cpu_name, package_versions
from .train import train_simcse, train_supervised_simcse

logger = logging.getLogger(__name__)

__all__ = [
    "ModelRun", "Result", "compare", "dropout_views", "encoder_for", "resolve_spec", "run", "run_dir_for",
    "summary_table", "training_curves",
]

METRIC_COLUMNS = ["v_measure", "homogeneity", "completeness", "ari", "ami", "n_clusters", "noise_fraction"]
# bootstrap spread of V-measure over resamples of the scored texts (std and 95% percentile interval)
SPREAD_COLUMNS = ["v_measure_std", "v_measure_lo", "v_measure_hi"]


@dataclass
class ModelRun:
    """One model's embeddings and what is known about where they came from."""

    name: str
    spec: str
    identity: dict[str, Any]
    provenance: str
    embeddings: np.ndarray
    trained_from: str | None = None


@dataclass
class Result:
    """Everything a comparison produced; ``table`` is tidy (one row per model/clusterer/space/level)."""

    config: ExperimentConfig
    corpus_name: str
    level: str
    labels_true: np.ndarray
    table: pd.DataFrame
    model_metrics: pd.DataFrame
    projections: dict[str, np.ndarray]
    cluster_labels: dict[tuple[str, str, str], np.ndarray]
    manifest: dict[str, Any]
    texts: list[str] = field(default_factory=list)
    run_dir: Path | None = None

    def summary(self, metric: str = "v_measure", level: str | None = None) -> pd.DataFrame:
        """Mean ``metric`` per model (rows) and clusterer/space (columns)."""
        return summary_table(self.table, metric=metric, level=level or self.level)

    def summary_with_spread(self, metric: str = "v_measure", level: str | None = None) -> pd.DataFrame:
        """``mean ± 95% half-width`` strings (over seeds if several, else bootstrap; see spread_table)."""
        level = level or self.level
        return format_summary(
            summary_table(self.table, metric=metric, level=level), spread_table(self.table, metric=metric, level=level)
        )

    def save(self, run_dir: str | Path) -> Path:
        run_dir = Path(run_dir)
        (run_dir / "arrays").mkdir(parents=True, exist_ok=True)
        (run_dir / "figures").mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(to_yaml(self.config))
        (run_dir / "manifest.json").write_text(json.dumps(self.manifest, indent=2, default=str))
        self.table.to_csv(run_dir / "results.csv", index=False)
        self.model_metrics.to_csv(run_dir / "model_metrics.csv", index=False)
        md = [
            f"# {self.config.name}: {self.corpus_name}, {len(self.labels_true)} texts, level {self.level}",
            "",
            ("V-measure (main level; ± is a 95% confidence half-width: of the mean over seeds, or from bootstrap"
             " resamples of the texts for a single seed):"),
            "",
            self.summary_with_spread().to_markdown(),
            "",
            "Embedding geometry:",
            "",
            self.model_metrics.to_markdown(index=False, floatfmt=".3f"),
            "",
            "All scores:",
            "",
            self.table.to_markdown(index=False, floatfmt=".3f"),
            "",
        ]
        (run_dir / "results.md").write_text("\n".join(md))
        (run_dir / "metrics.json").unlink(missing_ok=True)
        classes = sorted(set(self.labels_true.tolist()))
        codes = np.array([classes.index(v) for v in self.labels_true.tolist()], dtype=np.int64)
        np.save(run_dir / "arrays" / "labels_true.npy", codes, allow_pickle=False)
        (run_dir / "arrays" / "labels_true.classes.json").write_text(json.dumps(classes))
        for model, xy in self.projections.items():
            np.save(run_dir / "arrays" / f"{_slug(model)}__umap2d.npy", xy, allow_pickle=False)
        for (model, clusterer, space), labels in self.cluster_labels.items():
            np.save(run_dir / "arrays" / f"{_slug(model)}__{clusterer}__{space}.npy", labels, allow_pickle=False)
        self._save_figures(run_dir / "figures")
        if self.texts:
            (run_dir / "texts.json").write_text(json.dumps(self.texts))
            self._save_interactive(run_dir / "figures")
        from .report import build_html_report, write_results

        build_html_report(run_dir)
        # metrics.json goes last: its presence marks a complete run folder (the sweep relies on it)
        write_results(run_dir, self.headline())
        self.run_dir = run_dir
        return run_dir

    def _save_interactive(self, fig_dir: Path, *, max_points: int = 25_000) -> None:
        if len(self.texts) > max_points:
            logger.info("interactive UMAP views skipped: %d texts > %d", len(self.texts), max_points)
            return
        from .report import interactive_umap

        try:
            for model, xy in self.projections.items():
                interactive_umap(
                    xy, self.labels_true, self.texts, fig_dir / f"{_slug(model)}.html",
                    title=f"{model}: UMAP of {self.corpus_name}, coloured by {self.level}",
                )
        except ImportError as exc:
            logger.warning("interactive UMAP views skipped: %s", exc)

    def headline(self) -> dict[str, Any]:
        """Flat, JSON-ready numbers: per model, the main level's scores and the geometry metrics."""
        out: dict[str, Any] = {"corpus": self.corpus_name, "level": self.level, "n_texts": len(self.labels_true)}
        main = self.table[self.table["level"] == self.level]
        numeric = [c for c in main.columns if c in METRIC_COLUMNS or c in SPREAD_COLUMNS]
        # several seeds: the mean over seeds (their spread is in results.csv)
        main = main.groupby(["model", "clusterer", "space"], sort=False)[numeric].mean().reset_index()
        geo_all = self.model_metrics.drop(columns=["seed"], errors="ignore").groupby("model", sort=False).mean()
        models: dict[str, Any] = {}
        for model, rows in main.groupby("model", sort=False):
            entry = {f"{r.clusterer}/{r.space}": {m: float(getattr(r, m)) for m in numeric} for r in rows.itertuples()}
            if model in geo_all.index:
                entry["geometry"] = {
                    k: (None if pd.isna(v) else float(v)) for k, v in geo_all.loc[model].items()
                }
            models[str(model)] = entry
        out["models"] = models
        return out

    def _save_figures(self, fig_dir: Path) -> None:
        from matplotlib.figure import Figure

        from .plots import plot_metric_bars, plot_run

        for model, xy in self.projections.items():
            panels = {f"label: {self.level}": self.labels_true}
            for method in self.config.cluster.methods:
                key = (model, method, "umap" if "umap" in self.config.cluster.spaces else "raw")
                if key in self.cluster_labels:
                    panels[f"{method} ({key[2]})"] = self.cluster_labels[key]
            fig = Figure(figsize=(5 * len(panels), 5.2))
            axes = fig.subplots(1, len(panels), squeeze=False)[0]
            plot_run(xy, panels, axes=axes)
            fig.suptitle(f"{model}: UMAP 2-D of {self.corpus_name}")
            fig.tight_layout()
            fig.savefig(fig_dir / f"{_slug(model)}.png", dpi=90)
        main = self.table[self.table["level"] == self.level]
        if main.empty:
            return
        fig = Figure(figsize=(max(6, 2 * main["model"].nunique() + 2), 4.5))
        plot_metric_bars(main, ax=fig.subplots(), title=f"V-measure vs {self.level}")
        fig.tight_layout()
        fig.savefig(fig_dir / "v_measure.png", dpi=90)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


def summary_table(table: pd.DataFrame, *, metric: str = "v_measure", level: str | None = None) -> pd.DataFrame:
    """Models as rows, ``clusterer/space`` as columns, ``metric`` (mean over seeds) as values."""
    t = table if level is None else table[table["level"] == level]
    return t.assign(setting=t["clusterer"] + "/" + t["space"]).pivot_table(
        index="model", columns="setting", values=metric, aggfunc="mean", sort=False
    )


def spread_table(table: pd.DataFrame, *, metric: str = "v_measure", level: str | None = None) -> pd.DataFrame | None:
    """The ± of :func:`summary_table`, a 95% confidence half-width: of the mean over seeds (Student t)
    when there are several seeds, else half the bootstrap percentile interval over resampled texts
    (``<metric>_lo``/``_hi``), else None."""
    t = table if level is None else table[table["level"] == level]
    t = t.assign(setting=t["clusterer"] + "/" + t["space"])
    if "seed" in t.columns and t["seed"].nunique() > 1:
        return t.pivot_table(
            index="model", columns="setting", values=metric, aggfunc=lambda v: mean_ci(v)[1], sort=False
        )
    if f"{metric}_lo" in t.columns:
        t = t.assign(half=(t[f"{metric}_hi"] - t[f"{metric}_lo"]) / 2)
        return t.pivot_table(index="model", columns="setting", values="half", aggfunc="mean", sort=False)
    return None


def format_summary(mean: pd.DataFrame, spread: pd.DataFrame | None, *, digits: int = 3) -> pd.DataFrame:
    """``mean ± spread`` strings, for printing."""
    if spread is None:
        return mean.map(lambda v: f"{v:.{digits}f}")
    return mean.combine(spread, lambda m, s: m.map(lambda v: f"{v:.{digits}f}") + " ± " + s.map(
        lambda v: f"{v:.{digits}f}"))


def run_dir_for(cfg: ExperimentConfig) -> Path:
    return Path(cfg.runs_dir) / f"{cfg.name}-{config_hash(cfg)}"


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = round(self.seconds.get(step, 0.0) + time.perf_counter() - t0, 3)
            logger.info("%s: %.1fs", step, time.perf_counter() - t0)


def _versions() -> dict[str, str]:
    return package_versions((
        "simcse-lab", "torch", "sentence-transformers", "transformers", "umap-learn", "hdbscan",
        "scikit-learn", "numpy", "pandas", "numba", "datasets", "accelerate",
    ))


def _hardware() -> dict[str, Any]:
    cpu = cpu_name()
    info: dict[str, Any] = {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(), "gpu": None}
    # only ask torch when this run already imported it: a fully cached rerun never needs it (2 s)
    if "torch" in sys.modules:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def _validate(cfg: ExperimentConfig) -> None:
    problems = []
    for m in cfg.cluster.methods:
        if m not in ("kmeans", "hdbscan"):
            problems.append(f"cluster.methods: unknown clusterer {m!r} (allowed: kmeans, hdbscan)")
    for s in cfg.cluster.spaces:
        if s not in ("raw", "umap"):
            problems.append(f"cluster.spaces: unknown space {s!r} (allowed: raw, umap)")
    if not (cfg.models.encoders or cfg.models.simcse_from or cfg.models.supervised_simcse_from):
        problems.append("models.encoders, models.simcse_from and models.supervised_simcse_from are all empty")
    for split in cfg.metrics.sts_splits:
        if split not in ("train", "dev", "test"):
            problems.append(f"metrics.sts_splits: unknown split {split!r} (allowed: train, dev, test)")
    if cfg.metrics.n_bootstrap == 1 or cfg.metrics.n_bootstrap < 0:
        problems.append(f"metrics.n_bootstrap must be 0 or >= 2, got {cfg.metrics.n_bootstrap}")
    for pair in cfg.cluster.pairs:
        method, _, space = pair.partition("/")
        if method not in cfg.cluster.methods or space not in cfg.cluster.spaces:
            problems.append(
                f"cluster.pairs: {pair!r} is not a method/space pair of cluster.methods x cluster.spaces"
                f" ({', '.join(f'{m}/{s}' for m in cfg.cluster.methods for s in cfg.cluster.spaces)})"
            )
    if not cfg.cluster.methods or not cfg.cluster.spaces:
        problems.append("cluster.methods and cluster.spaces must not be empty")
    if cfg.reduce.n_components < 2:
        problems.append(f"reduce.n_components must be >= 2, got {cfg.reduce.n_components}")
    if cfg.encode.backend not in BACKENDS:
        problems.append(f"encode.backend: unknown backend {cfg.encode.backend!r} (allowed: {', '.join(BACKENDS)})")
    if cfg.threads is not None and cfg.threads < 1:
        problems.append(f"threads must be >= 1 or None, got {cfg.threads}")
    if problems:
        raise ValueError("; ".join(problems))


def load_corpus_for(cfg: ExperimentConfig) -> Corpus:
    c = cfg.corpus
    return load_corpus(
        c.source,
        text_column=c.text_column,
        label_columns=c.label_columns,
        level=c.level,
        n_samples=c.n_samples,
        dedupe=c.dedupe,
        drop_labels=c.drop_labels,
        min_class_size=c.min_class_size,
        seed=cfg.seed,
        data_dir=cfg.data_dir,
    )


def encoder_for(spec: str, cfg: ExperimentConfig, name: str | None = None, *, probe_texts: list[str] | None = None):
    """The encoder for ``spec`` on ``cfg.encode.backend``; ``probe_texts`` are what an ONNX export
    is checked and timed on the first time (see :mod:`simcse_lab.backends`)."""
    e = cfg.encode
    encoder = load_encoder(
        spec, max_seq_length=e.max_seq_length, pooling=e.pooling, device=e.device, seed=cfg.seed,
        data_dir=cfg.data_dir, name=name,
    )
    return select_backend(
        encoder, e.backend, probe_texts=probe_texts or [], data_dir=cfg.data_dir, device=e.device, threads=cfg.threads
    )


def _split_heldout(cfg: ExperimentConfig, corpus: Corpus) -> tuple[list[str], list[str] | None, np.ndarray | None]:
    """Training texts, and the held-out slice the clustering evaluator scores during training."""
    if not cfg.train.eval_steps or not corpus.is_labelled or not cfg.models.simcse_from:
        return corpus.texts, None, None
    from sklearn.model_selection import train_test_split

    labels = corpus.label_array()
    n_eval = min(cfg.train.eval_n_texts, len(corpus) // 2)
    if n_eval < len(np.unique(labels)):
        raise ValueError(f"train.eval_n_texts={cfg.train.eval_n_texts} leaves too few held-out texts for each class")
    train_idx, eval_idx = train_test_split(
        np.arange(len(corpus)), test_size=n_eval, stratify=labels, random_state=cfg.seed
    )
    texts = corpus.texts
    return [texts[i] for i in sorted(train_idx)], [texts[i] for i in sorted(eval_idx)], labels[np.sort(eval_idx)]


def sts_score(encoder, split: str, cfg: ExperimentConfig, cache_dir: Path | None = None) -> float:
    """Spearman correlation of cosine similarity with STS-B gold scores for one split."""
    pairs = load_sts(split, data_dir=cfg.data_dir)
    x = encode_texts(
        encoder, pairs.sentences1 + pairs.sentences2, batch_size=cfg.encode.batch_size, normalize=True,
        cache_dir=cache_dir, show_progress=False,
    )
    return sts_spearman(x[: len(pairs)], x[len(pairs):], pairs.scores)


def resolve_spec(spec: str, cfg: ExperimentConfig, corpus: Corpus, timer: _Timer | None = None) -> str:
    """Model specs that need the corpus: ``mlm`` becomes the folder of an encoder MLM-pretrained on
    it (cached, so a second call only looks the folder up); any other spec is returned as it is."""
    if spec != "mlm":
        return spec
    texts = corpus.texts
    if cfg.pretrain.all_texts and cfg.corpus.n_samples is not None:
        texts = load_corpus_for(with_overrides(cfg, {"corpus.n_samples": None})).texts
    with (timer or _Timer())("pretrain mlm"):
        return str(pretrain_mlm(
            texts, cfg.pretrain, seed=cfg.seed, device=cfg.encode.device, data_dir=cfg.data_dir,
            show_progress=cfg.encode.show_progress,
        ))


def training_curves(cfg: ExperimentConfig) -> pd.DataFrame:
    """Held-out V-measure over SimCSE training steps for every model in ``models.simcse_from``.

    Step 0 is the untouched model. Uses ``train.eval_steps`` (10 if unset) and the same held-out
    slice and training runs as :func:`run`, so a later ``run(cfg)`` reuses the trained models.
    Columns: model, step, v_measure, kept (which model keep-best kept).
    """
    if not cfg.train.eval_steps:
        cfg = with_overrides(cfg, {"train.eval_steps": 10})
    corpus = load_corpus_for(cfg)
    if not corpus.is_labelled:
        raise ValueError("training curves need a labelled corpus (the held-out slice is scored against labels)")
    train_texts, eval_texts, eval_labels = _split_heldout(cfg, corpus)
    rows = []
    for base in cfg.models.simcse_from:
        path = train_simcse(
            resolve_spec(base, cfg, corpus), train_texts, cfg.train, seed=cfg.seed, device=cfg.encode.device,
            data_dir=cfg.data_dir, show_progress=cfg.encode.show_progress, eval_texts=eval_texts,
            eval_labels=eval_labels,
        )
        log = json.loads((path.parent / "training_log.json").read_text())
        held = log.get("heldout_v_measure") or {}
        kept = held.get("kept", "trained")
        if held.get("before") is not None:
            rows.append({"model": base, "step": 0, "v_measure": held["before"], "kept": kept})
        rows += [
            {"model": base, "step": e["step"], "v_measure": e["eval_heldout_v_measure"], "kept": kept}
            for e in log["log_history"] if "eval_heldout_v_measure" in e
        ]
    return pd.DataFrame(rows, columns=["model", "step", "v_measure", "kept"])


def dropout_views(
    encoder: SentenceEncoder, texts: list[str], *, batch_size: int, seed: int, cache_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`SentenceEncoder.encode_dropout_views`, cached like embeddings (same identity and texts,
    same seed and batching give the same dropout masks)."""
    if cache_dir is None:
        return encoder.encode_dropout_views(texts, batch_size=batch_size, seed=seed)
    from .cache import cache_key
    from .encode import texts_fingerprint

    parts = {"dropout-views": encoder.identity, "texts": texts_fingerprint(texts), "seed": seed, "batch": batch_size}
    cache, key = ArrayCache(cache_dir), cache_key(parts)
    ab = cache.load(key, n_rows=2 * len(texts))
    if ab is None:
        a, b = encoder.encode_dropout_views(texts, batch_size=batch_size, seed=seed)
        cache.save(key, np.concatenate([a, b]), {**parts, "model": encoder.name})
        return a, b
    return ab[: len(texts)], ab[len(texts):]


def _needs_umap(cfg: ExperimentConfig) -> bool:
    return cfg.reduce.plot_2d or "umap" in cfg.cluster.spaces


def embed_models(cfg: ExperimentConfig, corpus: Corpus, timer: _Timer | None = None) -> tuple[list[ModelRun], dict]:
    """Encode every configured model (training the SimCSE ones first); return runs and geometry rows."""
    timer = timer or _Timer()
    cache_dir = Path(cfg.data_dir) / "interim" / "embeddings" if cfg.encode.cache else None

    resolved: dict[str, str] = {}

    def resolve(spec: str) -> str:
        # "mlm" may appear in several lists; look its pretraining up (full corpus load) only once
        if spec not in resolved:
            resolved[spec] = resolve_spec(spec, cfg, corpus, timer)
        return resolved[spec]

    entries: list[tuple[str, str, str | None]] = [(spec, resolve(spec), None) for spec in cfg.models.encoders]
    train_texts, eval_texts, eval_labels = _split_heldout(cfg, corpus)
    for base in cfg.models.simcse_from:
        with timer(f"train simcse({base})"):
            path = train_simcse(
                resolve(base), train_texts, cfg.train, seed=cfg.seed, device=cfg.encode.device, data_dir=cfg.data_dir,
                show_progress=cfg.encode.show_progress, eval_texts=eval_texts, eval_labels=eval_labels,
            )
        entries.append((f"simcse({base})", str(path), base))
    if cfg.models.supervised_simcse_from:
        triplets = load_nli_triplets("train", n=cfg.train.nli_n_triplets, seed=cfg.seed, data_dir=cfg.data_dir)
    for base in cfg.models.supervised_simcse_from:
        with timer(f"train supervised simcse({base})"):
            path = train_supervised_simcse(
                resolve(base), triplets, cfg.train, seed=cfg.seed, device=cfg.encode.device, data_dir=cfg.data_dir,
                show_progress=cfg.encode.show_progress,
            )
        entries.append((f"sup-simcse({base})", str(path), base))
    names = [e[0] for e in entries]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"model(s) {dupes} listed twice")
    runs: list[ModelRun] = []
    geometry: dict[str, dict[str, float]] = {}
    rng = np.random.default_rng(cfg.seed)
    n_align = min(cfg.metrics.n_alignment_texts, len(corpus))
    align_idx = np.sort(rng.choice(len(corpus), size=n_align, replace=False)) if n_align >= 2 else None
    with timer("prepare encoders"):  # locate models; a first ONNX export and its check happen here
        encoders = {name: encoder_for(spec, cfg, name=name, probe_texts=corpus.texts) for name, spec, _ in entries}
    if _needs_umap(cfg) and not all(
        is_cached(e, corpus.texts, cache_dir, normalize=cfg.encode.normalize) for e in encoders.values()
    ):
        # something will be encoded, so UMAP will fit: compile its numba code meanwhile
        warm_up_umap(n_points=len(corpus), metric=cfg.reduce.metric, n_components=cfg.reduce.n_components)
    for name, spec, base in entries:
        with timer(f"encode {name}"):
            encoder = encoders.pop(name)
            x = encode_texts(
                encoder, corpus.texts, batch_size=cfg.encode.batch_size, normalize=cfg.encode.normalize,
                cache_dir=cache_dir, show_progress=cfg.encode.show_progress,
            )
        geo: dict[str, float] = {"dim": int(x.shape[1]), "mean_cosine": mean_cosine(x, seed=cfg.seed)}
        if align_idx is not None:
            with timer(f"alignment {name}"):
                # alignment needs two dropout views; a deterministic encoder has none, so it is undefined
                geo["alignment"] = float("nan")
                torch_encoder = getattr(encoder, "torch_encoder", encoder)  # an ONNX one keeps its torch model
                if isinstance(torch_encoder, SentenceEncoder):
                    texts = [corpus.texts[i] for i in align_idx]
                    a, b = dropout_views(torch_encoder, texts, batch_size=cfg.encode.batch_size, seed=cfg.seed,
                                         cache_dir=cache_dir)
                    geo["alignment"] = alignment_uniformity(a, b)["alignment"]
                geo["uniformity"] = alignment_uniformity(x[align_idx], x[align_idx])["uniformity"]
        for split in cfg.metrics.sts_splits:
            with timer(f"sts {name}"):
                geo[f"sts_{split}"] = sts_score(encoder, split, cfg, cache_dir)
        geometry[name] = geo
        runs.append(ModelRun(name, spec, encoder.identity, getattr(encoder, "provenance", ""), x, base))
        del encoder
    return runs, geometry


def run(cfg: ExperimentConfig) -> Result:
    """Run one comparison. Embeddings and trained models are cached, so a rerun (or a run after a
    failure) recomputes only what is missing.

    With ``metrics.n_seeds > 1`` the whole comparison is repeated with seeds ``seed, seed+1, ...``
    (a new sample, training run, UMAP and clustering each time); ``table`` and ``model_metrics``
    then hold every seed's rows (a ``seed`` column), the summary shows mean ± standard deviation
    over seeds, and the projections and clusterings shown are those of the first seed.
    """
    _validate(cfg)
    configure_threads(cfg.threads)
    if cfg.metrics.n_seeds < 1:
        raise ValueError(f"metrics.n_seeds must be >= 1, got {cfg.metrics.n_seeds}")
    if cfg.metrics.n_seeds == 1:
        return _run_once(cfg)
    results = [_run_once(with_overrides(cfg, {"seed": cfg.seed + i})) for i in range(cfg.metrics.n_seeds)]
    first = results[0]
    first.config = cfg
    first.table = pd.concat([r.table.assign(seed=r.config.seed) for r in results], ignore_index=True)
    first.model_metrics = pd.concat(
        [r.model_metrics.assign(seed=r.config.seed) for r in results], ignore_index=True
    )
    first.manifest["seeds"] = [r.config.seed for r in results]
    first.manifest["wall_seconds"] = round(sum(r.manifest["wall_seconds"] for r in results), 2)
    first.manifest["config_hash"] = config_hash(cfg)
    return first


def _run_once(cfg: ExperimentConfig) -> Result:
    timer = _Timer()
    started = datetime.now(timezone.utc)
    t_start = time.perf_counter()
    with timer("load corpus"):
        corpus = load_corpus_for(cfg)
    if not corpus.is_labelled:
        raise ValueError(
            f"corpus '{corpus.name}' has no labels, so clusterings cannot be scored; give corpus.label_columns"
        )
    level = corpus.levels[0]
    labels_true = corpus.label_array(level)
    n_classes = len(np.unique(labels_true))

    runs, geometry = embed_models(cfg, corpus, timer)

    rows: list[dict[str, Any]] = []
    projections: dict[str, np.ndarray] = {}
    cluster_labels: dict[tuple[str, str, str], np.ndarray] = {}
    r = cfg.reduce
    umap_cache = Path(cfg.data_dir) / "interim" / "projections" if cfg.encode.cache else None
    for mr in runs:
        with timer(f"umap {mr.name}"):
            spaces = {"raw": mr.embeddings}
            if r.plot_2d:
                projections[mr.name] = make_reducer(
                    "umap", r, seed=cfg.seed, n_components=2, min_dist=r.plot_min_dist, cache_dir=umap_cache
                ).fit_transform(mr.embeddings)
            if "umap" in cfg.cluster.spaces:
                reuse = r.plot_2d and r.n_components == 2 and r.min_dist == r.plot_min_dist
                spaces["umap"] = (
                    projections[mr.name] if reuse
                    else make_reducer("umap", r, seed=cfg.seed, cache_dir=umap_cache).fit_transform(mr.embeddings)
                )
        for space in cfg.cluster.spaces:
            for method in cfg.cluster.methods:
                if cfg.cluster.pairs and f"{method}/{space}" not in cfg.cluster.pairs:
                    continue
                with timer(f"cluster {method}"):
                    clusterer = make_clusterer(
                        method, cfg.cluster, n_samples=len(corpus), n_classes=n_classes, seed=cfg.seed
                    )
                    labels_pred = clusterer.fit_predict(spaces[space])
                outputs = [(method, labels_pred)]
                if isinstance(clusterer, HDBSCANClusterer) and clusterer.soft and clusterer.hard_labels_ is not None:
                    outputs.append(("hdbscan-hard", clusterer.hard_labels_))
                for cname, lab in outputs:
                    cluster_labels[(mr.name, cname, space)] = lab
                    for lvl in corpus.levels:
                        scores = score_clustering(corpus.labels[lvl], lab)
                        if cfg.metrics.n_bootstrap:
                            b = bootstrap_scores(
                                corpus.labels[lvl], lab, n_resamples=cfg.metrics.n_bootstrap, seed=cfg.seed
                            )["v_measure"]
                            scores.update({"v_measure_std": b["std"], "v_measure_lo": b["lo"], "v_measure_hi": b["hi"]})
                        rows.append({"model": mr.name, "clusterer": cname, "space": space, "level": lvl, **scores})
    spread = SPREAD_COLUMNS if cfg.metrics.n_bootstrap else []
    table = pd.DataFrame(rows, columns=["model", "clusterer", "space", "level", *METRIC_COLUMNS, *spread])
    model_metrics = pd.DataFrame([{"model": k, **v} for k, v in geometry.items()])
    manifest = {
        "config_hash": config_hash(cfg),
        "seed": cfg.seed,
        "started_utc": started.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - t_start, 2),
        "seconds_per_step": timer.seconds,
        "corpus": {
            "name": corpus.name,
            "source": corpus.source,
            "fingerprint": corpus.fingerprint,
            "n_texts": len(corpus),
            "levels": {lvl: len(np.unique(v)) for lvl, v in corpus.labels.items()},
            "cleaning": corpus.report,
        },
        "models": [
            {"name": m.name, "spec": m.spec, "identity": m.identity, "provenance": m.provenance,
             "trained_from": m.trained_from, "dim": int(m.embeddings.shape[1])}
            for m in runs
        ],
        "versions": _versions(),
        "hardware": _hardware(),
    }
    return Result(
        config=cfg, corpus_name=corpus.name, level=level, labels_true=labels_true, table=table,
        model_metrics=model_metrics, projections=projections, cluster_labels=cluster_labels, manifest=manifest,
        texts=list(corpus.texts),
    )


def compare(cfgs: ExperimentConfig | list[ExperimentConfig], *, save: bool = True) -> pd.DataFrame:
    """Run one or several configs (saving each run folder) and return their stacked tables."""
    cfgs = [cfgs] if isinstance(cfgs, ExperimentConfig) else list(cfgs)
    tables = []
    for cfg in cfgs:
        result = run(cfg)
        if save:
            result.save(run_dir_for(cfg))
        tables.append(result.table.assign(run=cfg.name, config_hash=config_hash(cfg)))
    return pd.concat(tables, ignore_index=True)
