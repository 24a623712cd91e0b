"""The one orchestrator: corpus -> models -> embeddings -> projections -> clusterings -> scores.

``run(cfg)`` scores every model x every clusterer x every space with the same settings and
returns a `Result`; ``compare(cfgs)`` runs several configs, saves each run folder and stacks their
tables. The steps it calls each live in their own module: models are resolved (and trained,
pretrained) by `simcse_lab.encoding.resolve.resolve`, embedded by `simcse_lab.encoding.encode`,
described by `simcse_lab.evaluation.quality`, projected by `simcse_lab.clustering.reduce`,
clustered by `simcse_lab.clustering.clusterers` and scored by `simcse_lab.evaluation.scoring`.

Clusterer names in the table: ``kmeans``; ``hdbscan`` (argmax of the soft membership vectors, as
in the seed article: every point gets a cluster); ``hdbscan-hard`` (HDBSCAN's own labels, noise
counted as one more cluster, with ``noise_fraction``). Both HDBSCAN rows come from one fit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .clustering.backend import resolve_backend
from .clustering.extend import assign_training_part
from .clustering.prefetch import ProjectionPool
from .clustering.reduce import make_reducer
from .clustering.scaling import scaling_report
from .core.cache import ArrayCache
from .core.config import ExperimentConfig, as_config, config_hash, validate, with_overrides
from .core.engines import make_engine
from .core.paths import cache_dir
from .core.runtime import Timer, configure_threads, hardware, versions
from .corpus.load import Corpus
from .corpus.splits import load_corpus_for
from .encoding.encode import encode_with_config
from .encoding.resolve import SpecContext, resolve, resolve_target
from .evaluation.clusterings import ModelClusterings, cluster_model
from .evaluation.describe import TermIndex
from .evaluation.granularity import add_fine_level
from .evaluation.quality import alignment_sample, model_quality
from .evaluation.scoring import metric_columns, spread_columns
from .evaluation.verdict import VERDICT_COLUMNS, signal_columns
from .evaluation.vs_start import add_same_k, judge_against_start
from .reporting.results import ModelRun, Result
from .reporting.run_folder import check_writable_folder

logger = logging.getLogger(__name__)

__all__ = ["compare", "embed_models", "model_specs", "run", "run_dir_for", "train_models", "training_curves"]


def run_dir_for(cfg: ExperimentConfig, corpus_fingerprint: str | None = None) -> Path:
    """``<runs_dir>/<name>-<config hash>-<corpus fingerprint>``: the same config on an edited
    input file gets a folder of its own instead of replacing the earlier run. Without a
    fingerprint (before the corpus is read), the folder name has the config hash only."""
    name = f"{cfg.name}-{config_hash(cfg)}"
    return Path(cfg.runs_dir).expanduser() / (f"{name}-{corpus_fingerprint[:8]}" if corpus_fingerprint else name)


def model_specs(cfg: ExperimentConfig) -> list[str]:
    """Every model of the comparison, as specs: ``models.encoders`` as written, then
    ``simcse(b)`` for each ``models.simcse_from`` and ``sup-simcse(b)`` for each
    ``models.supervised_simcse_from``. These are also the names in the tables."""
    specs = [
        *cfg.models.encoders,
        *(f"simcse({b})" for b in cfg.models.simcse_from),
        *(f"sup-simcse({b})" for b in cfg.models.supervised_simcse_from),
    ]
    dupes = sorted({s for s in specs if specs.count(s) > 1})
    if dupes:
        raise ValueError(f"model(s) {dupes} listed twice")
    return specs


def train_models(cfg: ExperimentConfig, ctx: SpecContext) -> dict[str, Any]:
    """Resolve every model spec (pretraining and training those that need it, cached on disk),
    before anything is embedded; return what each stands for. Before the first model trained on
    the corpus, training texts too few for one step past the warm-up are refused."""
    resolved, checked = {}, False
    for spec in model_specs(cfg):
        if not checked and "(" in spec and not spec.startswith("sup-simcse("):
            _check_training_size(cfg, ctx, spec)
            checked = True
        resolved[spec] = resolve_target(spec, ctx)
    return resolved


def _check_training_size(cfg: ExperimentConfig, ctx: SpecContext, spec: str) -> None:
    """The trainer's schedule check on the most steps any method makes of the training texts
    (each trains on them or fewer rows), so that too few texts fail before the first encode."""
    from .training.lifecycle import check_schedule

    n = len(ctx.get_train_texts(spec))
    most = math.ceil(cfg.train.epochs * math.ceil(n / cfg.train.batch_size))
    what = f"{spec} on {n} training texts (train.batch_size={cfg.train.batch_size})"
    if most < 2:  # a method trains on these texts or fewer: one step at most teaches nothing to cluster by
        raise ValueError(
            f"{what}: {most} optimizer step, too few to train on; give more texts (corpus.heldout keeps"
            f" {cfg.corpus.heldout:.0%} of them out of training), more train.epochs or a smaller train.batch_size"
        )
    check_schedule(most, cfg.train.warmup_ratio, what=what)


def embed_models(
    cfg: ExperimentConfig,
    corpus: Corpus,
    timer: Timer | None = None,
    ctx: SpecContext | None = None,
    on_embedded: Callable[[ModelRun], None] | None = None,
) -> tuple[list[ModelRun], dict[str, dict[str, float]]]:
    """Train what must be trained, then encode every model (handing each run to ``on_embedded`` as it
    is made); return the runs and geometry rows."""
    timer = timer or Timer()
    ctx = ctx or SpecContext.for_config(cfg, corpus=corpus, timer=timer)
    embeddings_cache = cache_dir(cfg.data_dir, "embeddings", enabled=cfg.encode.cache)
    resolved = train_models(cfg, ctx)
    with timer("prepare encoders"):  # locate models; a first ONNX export and its check happen here
        encoders = {spec: resolve(spec, cfg, ctx=ctx, name=spec, probe_texts=corpus.texts) for spec in resolved}
    align_idx = alignment_sample(len(corpus), cfg.metrics.n_alignment_texts, cfg.seed)
    runs: list[ModelRun] = []
    geometry: dict[str, dict[str, float]] = {}
    for spec, r in resolved.items():
        encoder = encoders.pop(spec)
        with timer(f"encode {spec}"):
            x = encode_with_config(encoder, corpus.texts, cfg)
        geometry[spec] = model_quality(
            encoder, x, corpus.texts, cfg, align_idx=align_idx, cache_dir=embeddings_cache, timer=timer, name=spec
        )
        runs.append(
            ModelRun(
                spec,
                r.target or spec,
                encoder.identity,
                getattr(encoder, "provenance", ""),
                x,
                r.trained_from,
                getattr(encoder, "choice_reason", None),
            )
        )
        if on_embedded is not None:
            on_embedded(runs[-1])
        del encoder
    return runs, geometry


def _project(mr: ModelRun, fitted: dict, reducer: Any, pool: ProjectionPool, timer: Timer) -> np.ndarray:
    # the same reducer settings twice (e.g. a 2-D clustering space equal to the plot's) fit once
    key = repr(reducer)
    if key not in fitted:
        with timer(f"umap {mr.name}"):  # the time the run waited for it (or fitted it, with one thread)
            fitted[key] = pool.fit_transform(mr.name, reducer, mr.embeddings)
    return fitted[key]


def _levels(corpus: Corpus) -> dict[str, np.ndarray]:
    return {level: corpus.labels[level] for level in corpus.levels} if corpus.is_labelled else {}


def run(cfg: ExperimentConfig) -> Result:
    """Run one comparison. Embeddings and trained models are cached, so a rerun (or a run after a
    failure) recomputes only what is missing.

    With ``metrics.n_seeds > 1`` the whole comparison is repeated with seeds ``seed, seed+1, ...``
    (a new sample, training run, UMAP and clustering each time); ``table`` and ``model_metrics``
    then hold every seed's rows (a ``seed`` column), the summary shows mean ± standard deviation
    over seeds, and the projections and clusterings shown are those of the first seed.
    """
    cfg = as_config(cfg, where="run")
    validate(cfg)
    configure_threads(cfg.threads)
    for method in cfg.cluster.idle_clusterers():
        logger.warning(
            "%s is not run: cluster.pairs pair it only with spaces not in cluster.spaces %s (set"
            " cluster.pairs=[] to run every clusterer in every space)",
            method,
            list(cfg.cluster.spaces),
        )
    if cfg.metrics.n_seeds == 1:
        return _run_once(cfg)
    results = [_run_once(with_overrides(cfg, {"seed": cfg.seed + i})) for i in range(cfg.metrics.n_seeds)]
    first = results[0]
    first.config = cfg
    first.table = pd.concat([r.table.assign(seed=r.config.seed) for r in results], ignore_index=True)
    first.model_metrics = pd.concat([r.model_metrics.assign(seed=r.config.seed) for r in results], ignore_index=True)
    first.manifest["seeds"] = [r.config.seed for r in results]
    first.manifest["wall_seconds"] = round(sum(r.manifest["wall_seconds"] for r in results), 2)
    first.manifest["config_hash"] = config_hash(cfg)
    return first


def _progress(items: list, desc: str, cfg: ExperimentConfig):
    """A progress bar over a long step's models (none with encode.show_progress false or -q)."""
    from tqdm.auto import tqdm

    from .core.runtime import quiet

    bar = tqdm(items, desc=desc, unit="model", disable=not cfg.encode.show_progress or quiet() or len(items) < 2)
    for item in bar:
        bar.set_postfix_str(getattr(item, "name", ""))
        yield item


def _run_once(cfg: ExperimentConfig) -> Result:
    timer = Timer()
    started = datetime.now(timezone.utc)
    t_start = time.perf_counter()
    with timer("load corpus"):
        corpus = load_corpus_for(cfg)
    level = corpus.levels[0] if corpus.is_labelled else ""
    labels_true = corpus.label_array(level) if corpus.is_labelled else None
    n_classes = len(np.unique(labels_true)) if labels_true is not None else None
    if not corpus.is_labelled:
        logger.info("corpus '%s' has no labels: the clusterings are scored without them", corpus.name)
    elif (
        cfg.cluster.n_clusters is None
        and "kmeans" in cfg.cluster.clusterers
        and n_classes > max(100, len(corpus) // 10)
    ):
        logger.warning(
            "KMeans will make one cluster per class of %r: k=%d for %d texts takes minutes per model and"
            " space; if %r is not what the texts are about, set cluster.n_clusters (a number, or auto)",
            level,
            n_classes,
            len(corpus),
            level,
        )

    projections: dict[str, np.ndarray] = {}
    r = cfg.reduce
    umap_cache = cache_dir(cfg.data_dir, "projections", enabled=cfg.encode.cache)
    backend = resolve_backend(cfg.cluster.backend)
    engine = make_engine(cfg)  # a sample-fit UMAP transforms the rest where the vectors were made
    reducers = {
        space: make_reducer(space, r, seed=cfg.seed, cache_dir=umap_cache, backend=backend, engine=engine)
        for space in cfg.cluster.spaces
        if cfg.cluster.space_runs(space)
    }
    plot_reducer = make_reducer(
        "umap",
        r,
        seed=cfg.seed,
        n_components=2,
        min_dist=r.plot_min_dist,
        cache_dir=umap_cache,
        backend=backend,
        engine=engine,
    )
    wanted = [*([plot_reducer] if r.plot_2d else []), *reducers.values()]
    terms = TermIndex(corpus.texts) if cfg.metrics.describe_clusters else None
    clusterings_folder = cache_dir(cfg.data_dir, "clusterings", enabled=cfg.encode.cache)
    clusterings_cache = ArrayCache(clusterings_folder) if clusterings_folder else None
    found, clustered = ModelClusterings(), {}
    context = {"levels": _levels(corpus), "n_classes": n_classes, "texts": corpus.texts, "terms": terms, "timer": timer}
    with ProjectionPool.for_threads(cfg.threads) as pool:  # each model's seeded UMAP fit beside the rest
        ctx = SpecContext.for_config(cfg, corpus=corpus, timer=timer)
        runs, geometry = embed_models(cfg, corpus, timer, ctx, lambda mr: pool.submit(mr.name, mr.embeddings, wanted))
        with pool.beside_workers():  # raw space clusterings run while a worker still fits the model's UMAP
            for mr in _progress(runs, "project, cluster and score", cfg):
                fitted: dict[str, np.ndarray] = {}  # a projection is taken when first needed
                spaces = {s: partial(_project, mr, fitted, red, pool, timer) for s, red in reducers.items()}
                cluster_model(
                    mr.name, mr.embeddings, spaces, cfg, backend=backend, out=found, cache=clusterings_cache, **context
                )
                clustered[mr.name] = {s: fitted[repr(red)] for s, red in reducers.items() if repr(red) in fitted}
                if r.plot_2d:
                    projections[mr.name] = _project(mr, fitted, plot_reducer, pool, timer)
            add_same_k(found, runs, cfg, backend=backend, cache=clusterings_cache, **context)
            add_fine_level(found, runs, cfg, backend=backend, cache=clusterings_cache, **context)
    with timer("judge against the start model"):
        judge_against_start(found, runs, clustered, cfg, texts=corpus.texts, terms=terms, cache=clusterings_cache)
    training_part = assign_training_part(cfg, runs, found.labels, ctx, timer)
    rows, cluster_labels = found.rows, found.labels
    spread = spread_columns() if cfg.metrics.n_bootstrap else []
    table = pd.DataFrame(
        rows,
        columns=[
            "model",
            "clusterer",
            "space",
            "level",
            *metric_columns(),
            *spread,
            *signal_columns(),
            *VERDICT_COLUMNS,
        ],
    )
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
            "levels": {level: len(np.unique(labels)) for level, labels in _levels(corpus).items()},
            "cleaning": corpus.report,
        },
        "models": [
            {
                "name": m.name,
                "spec": m.spec,
                "identity": m.identity,
                "provenance": m.provenance,
                "trained_from": m.trained_from,
                "dim": int(m.embeddings.shape[1]),
                "backend": m.backend,
            }
            for m in runs
        ],
        "scaling": scaling_report(cfg, len(corpus), backend),
        "k_choice": {
            **{f"{spec} training": {**c, "n_classes": n_classes} for spec, c in ctx.k_choices.items()},
            **found.k_choices,
        },
        "versions": versions(),
        "hardware": hardware(),
    }
    return Result(
        config=cfg,
        corpus_name=corpus.name,
        level=level,
        labels_true=labels_true,
        table=table,
        model_metrics=model_metrics,
        projections=projections,
        cluster_labels=cluster_labels,
        manifest=manifest,
        texts=list(corpus.texts),
        text_ids=corpus.ids.tolist() if corpus.ids is not None else None,
        clusters=pd.concat(found.clusters, ignore_index=True) if found.clusters else None,
        probabilities=found.probabilities,
        training_part=training_part,
    )


def compare(cfgs: ExperimentConfig | list[ExperimentConfig], *, save: bool = True) -> pd.DataFrame:
    """Run one or several configs (saving each run folder, see `run_dir_for`) and return
    their stacked tables, with the columns ``run``, ``config_hash`` and ``run_dir`` added."""
    single = isinstance(cfgs, (ExperimentConfig, str, Path, dict))
    cfgs = [as_config(c, where="compare") for c in ([cfgs] if single else list(cfgs))]
    tables = []
    for cfg in cfgs:
        if save:
            check_writable_folder(cfg.runs_dir, "runs_dir")
        result = run(cfg)
        run_dir = result.save(run_dir_for(cfg, result.corpus_fingerprint)) if save else None
        tables.append(
            result.table.assign(run=cfg.name, config_hash=config_hash(cfg), run_dir=str(run_dir) if run_dir else None)
        )
    return pd.concat(tables, ignore_index=True)


def training_curves(cfg: ExperimentConfig) -> pd.DataFrame:
    """Held-out V-measure over SimCSE training steps for every model in ``models.simcse_from``.

    Step 0 is the untouched model. Uses ``train.eval_steps`` (10 if unset) and the same held-out
    slice and training runs as `run`, so a later ``run(cfg)`` reuses the trained models.
    Columns: model, step, v_measure, kept (which model keep-best kept).
    """
    if not cfg.train.eval_steps:
        cfg = with_overrides(cfg, {"train.eval_steps": 10})
    validate(cfg)
    corpus = load_corpus_for(cfg)
    if not corpus.is_labelled:
        raise ValueError("training curves need a labelled corpus (the held-out slice is scored against labels)")
    ctx = SpecContext.for_config(cfg, corpus=corpus)
    rows = []
    for base in cfg.models.simcse_from:
        spec = f"simcse({base})"
        resolve_target(spec, ctx)
        held = ctx.trained[spec].log.get("heldout_v_measure") or {}
        kept = held.get("kept", "trained")
        if held.get("before") is not None:
            rows.append({"model": base, "step": 0, "v_measure": held["before"], "kept": kept})
        rows += [
            {"model": base, "step": e["step"], "v_measure": e["eval_heldout_v_measure"], "kept": kept}
            for e in ctx.trained[spec].log["log_history"]
            if "eval_heldout_v_measure" in e
        ]
    return pd.DataFrame(rows, columns=["model", "step", "v_measure", "kept"])
