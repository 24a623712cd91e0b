"""What a comparison produced, its tables and its run folder.

:class:`Result` holds a tidy ``table`` (one row per model x clusterer x space x label level),
``model_metrics`` (one row per model: geometry and STS-B, see :mod:`simcse_lab.quality`), the
2-D projections, every clustering and the run manifest. ``Result.save(run_dir)`` writes
``config.yaml``, ``manifest.json``, ``results.csv``/``results.md``, ``model_metrics.csv``, arrays,
figures and the HTML report, then ``metrics.json`` last: its presence marks a complete run folder.
:func:`summary_table` / :func:`spread_table` / :func:`format_summary` turn a table into the
printed summary.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import ExperimentConfig, to_yaml
from .metrics import mean_ci

logger = logging.getLogger(__name__)

__all__ = [
    "METRIC_COLUMNS", "SPREAD_COLUMNS", "ModelRun", "Result", "check_run_folder", "check_writable_folder",
    "format_summary", "paired_differences", "spread_table", "summary_table",
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

    @property
    def corpus_fingerprint(self) -> str | None:
        """The scored corpus's content fingerprint (texts and labels), as in the manifest."""
        return (self.manifest.get("corpus") or {}).get("fingerprint")

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
        """Write the run folder. It is built in a temporary sibling and published in one rename
        (:func:`simcse_lab.assets.atomic_folder`): an earlier complete run in ``run_dir`` stays
        whole until the new one is complete, and a failed save (a full disk, Ctrl-C) leaves it as
        it was. Replacing a complete run of another config or corpus is logged as a warning."""
        from .assets import atomic_folder

        run_dir = Path(run_dir)
        check_run_folder(run_dir)
        _notice_replacement(run_dir, self.manifest)
        try:
            with atomic_folder(run_dir) as tmp:
                self._write(tmp)
        except OSError as exc:  # name the run folder, not the temporary one the error happened in
            raise OSError(exc.errno, f"{exc.strerror or exc} while writing the run folder (an earlier run there is "
                          "unchanged)", str(run_dir)) from None
        self.run_dir = run_dir
        return run_dir

    def _write(self, run_dir: Path) -> None:
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


def check_writable_folder(folder: str | Path, what: str = "folder") -> Path:
    """Make ``folder`` if needed and check that files can be created in it; a ``ValueError``
    naming the folder and the problem otherwise. Called before a comparison computes anything,
    so a bad ``runs_dir`` fails in a second, not after the whole run.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "a_file"
    >>> _ = f.write_text("x")
    >>> check_writable_folder(f, "runs_dir")
    Traceback (most recent call last):
    ValueError: runs_dir ... is a file, not a folder
    """
    import tempfile

    folder = Path(folder)
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                raise ValueError(f"{what} {folder} cannot be made: {p} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise ValueError(f"{what} {folder} is not writable ({exc.strerror or exc})") from None
    return folder


def check_run_folder(run_dir: str | Path) -> Path:
    """Check that a run folder can be written at ``run_dir``: it is new, empty, or an earlier run
    folder (which is replaced whole), and its parent is writable. A file, or a folder holding
    other things, is refused with a ``ValueError``: saving replaces the folder, so it must never
    be a folder of the user's own."""
    run_dir = Path(run_dir)
    if run_dir.exists():
        if not run_dir.is_dir():
            raise ValueError(f"run folder {run_dir} is a file; give a folder path")
        if any(run_dir.iterdir()) and not any((run_dir / f).is_file() for f in ("manifest.json", "config.yaml")):
            raise ValueError(f"{run_dir} holds other files and is not a simcse-lab run folder; give a new or empty "
                             "folder (saving replaces it whole)")
    check_writable_folder(run_dir.parent, "the run folder's parent")
    return run_dir


def _notice_replacement(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Warn when ``run_dir`` holds a complete run made from another config or corpus."""
    try:
        if not (run_dir / "metrics.json").is_file():
            return
        old = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return
    before = (old.get("config_hash"), (old.get("corpus") or {}).get("fingerprint"))
    after = (manifest.get("config_hash"), (manifest.get("corpus") or {}).get("fingerprint"))
    if before != after:
        logger.warning("replacing the complete run in %s (config %s, corpus %s) with config %s, corpus %s",
                       run_dir, *before, *after)


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


def paired_differences(
    table: pd.DataFrame, *, baseline: str, metric: str = "v_measure", confidence: float = 0.95
) -> pd.DataFrame:
    """Every model against ``baseline`` on the same texts, clusterer, space and level, over seeds.

    One row per model x level x clusterer/space: the mean of ``metric`` over seeds with its
    ``confidence`` t-interval (``lo``, ``hi``), and the *paired* difference to ``baseline`` (each
    seed's score minus the baseline's score of the same seed) with its t-interval (``diff_lo``,
    ``diff_hi``; NaN with one seed). A difference whose interval lies above 0 is a gain beyond the
    seed-to-seed spread.

    >>> t = pd.DataFrame({"model": ["a", "b"] * 3, "clusterer": "kmeans", "space": "raw", "level": "L",
    ...                   "seed": [1, 1, 2, 2, 3, 3], "v_measure": [0.30, 0.35, 0.31, 0.37, 0.29, 0.36]})
    >>> d = paired_differences(t, baseline="a").set_index("model")
    >>> round(float(d.loc["b", "diff"]), 3), bool(d.loc["b", "diff_lo"] > 0), int(d.loc["b", "n_seeds"])
    (0.06, True, 3)
    """
    t = table if "seed" in table.columns else table.assign(seed=0)
    t = t.assign(setting=t["clusterer"] + "/" + t["space"])
    base = t[t["model"] == baseline].set_index(["level", "setting", "seed"])[metric].sort_index()
    if base.empty:
        raise ValueError(f"baseline model {baseline!r} is not in the table (models: {sorted(set(t['model']))})")
    rows = []
    for (model, level, setting), g in t.groupby(["model", "level", "setting"], sort=False):
        values = g.set_index("seed")[metric]
        diffs = values - base.loc[(level, setting)].reindex(values.index)
        mean, half = mean_ci(values.to_numpy(), confidence=confidence)
        dmean, dhalf = mean_ci(diffs.to_numpy(), confidence=confidence)
        rows.append({"model": model, "level": level, "setting": setting, "mean": mean, "lo": mean - half,
                     "hi": mean + half, "diff": dmean, "diff_lo": dmean - dhalf, "diff_hi": dmean + dhalf,
                     "n_seeds": len(values)})
    return pd.DataFrame(rows)
