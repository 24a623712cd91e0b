"""What a comparison produced, its tables and its run folder.

`Result` holds a tidy ``table`` (one row per model x clusterer x space x label level),
``model_metrics`` (one row per model: geometry and STS-B, see `simcse_lab.evaluation.quality`), the
2-D projections, every clustering and the run manifest. ``Result.save(run_dir)`` writes
``config.yaml``, ``manifest.json``, ``results.csv``/``results.md``, ``model_metrics.csv``, arrays,
figures and the HTML report, then ``metrics.json`` last: its presence marks a complete run folder.
The printed tables are made in `simcse_lab.reporting.tables`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..clustering.extend import TrainingPart
from ..core.config import ExperimentConfig, to_yaml
from ..core.hashing import content_hash
from ..evaluation.scoring import metric_columns, spread_columns
from .run_folder import FileReuse, check_run_folder, notice_replacement, slug
from .spreadsheet import to_csv
from .tables import format_summary, spread_label, spread_table, summary_table

logger = logging.getLogger(__name__)

__all__ = ["ModelRun", "Result"]


@dataclass
class ModelRun:
    """One model's embeddings and what is known about where they came from."""

    name: str
    spec: str
    identity: dict[str, Any]
    provenance: str
    embeddings: np.ndarray
    trained_from: str | None = None
    backend: str | None = None  # the encode backend and why it was chosen (`simcse_lab.encoding.backends`)


@dataclass
class Result:
    """Everything a comparison produced; ``table`` is tidy (one row per model/clusterer/space/level)."""

    config: ExperimentConfig
    corpus_name: str
    level: str
    labels_true: np.ndarray | None
    table: pd.DataFrame
    model_metrics: pd.DataFrame
    projections: dict[str, np.ndarray]
    cluster_labels: dict[tuple[str, str, str], np.ndarray]
    manifest: dict[str, Any]
    texts: list[str] = field(default_factory=list)
    run_dir: Path | None = None
    text_ids: list[int] | None = None
    clusters: pd.DataFrame | None = None
    probabilities: dict[tuple[str, str, str], np.ndarray | None] = field(default_factory=dict)
    #: the texts the run trained on, placed in every clustering (``cluster.assign_training_texts``)
    training_part: TrainingPart | None = None

    @property
    def n_texts(self) -> int:
        """How many texts were clustered and scored."""
        return int((self.manifest.get("corpus") or {}).get("n_texts") or len(self.texts))

    @property
    def main_metric(self) -> str:
        """The score the summary shows: V-measure with labels, else the silhouette."""
        return "v_measure" if self.labels_true is not None else "silhouette"

    @property
    def corpus_fingerprint(self) -> str | None:
        """The scored corpus's content fingerprint (texts and labels), as in the manifest."""
        return (self.manifest.get("corpus") or {}).get("fingerprint")

    @property
    def trained_from(self) -> dict[str, str | None]:
        """Each model's start model (None: it was not trained here), as in the manifest."""
        return {m["name"]: m.get("trained_from") for m in self.manifest.get("models", [])}

    def markdown(self) -> str:
        """The tables ``simcse-lab compare`` prints (`comparison_markdown`), with the verdict on training."""
        from .tables import comparison_markdown

        return comparison_markdown(
            self.table,
            self.model_metrics,
            level=self.level,
            corpus_name=self.corpus_name,
            n_texts=self.n_texts,
            trained_from=self.trained_from,
        )

    def summary(self, metric: str | None = None, level: str | None = None) -> pd.DataFrame:
        """Mean ``metric`` (default `main_metric`) per model (rows) and clusterer/space (columns)."""
        return summary_table(self.table, metric=metric or self.main_metric, level=level or self.level)

    def summary_with_spread(self, metric: str | None = None, level: str | None = None) -> pd.DataFrame:
        """``mean ± 95% half-width`` strings (over seeds if several, else bootstrap; see spread_table)."""
        level = level or self.level
        metric = metric or self.main_metric
        return format_summary(
            summary_table(self.table, metric=metric, level=level), spread_table(self.table, metric=metric, level=level)
        )

    def save(self, run_dir: str | Path) -> Path:
        """Write the run folder. It is built in a temporary sibling and published in one rename
        (`simcse_lab.core.assets.atomic_folder`): an earlier complete run in ``run_dir`` stays
        whole until the new one is complete, and a failed save (a full disk, Ctrl-C) leaves it as
        it was. Replacing a complete run of another config or corpus is logged as a warning."""
        from ..core.assets import atomic_folder

        run_dir = Path(run_dir)
        check_run_folder(run_dir)
        notice_replacement(run_dir, self.manifest)
        try:
            with atomic_folder(run_dir) as tmp:
                self._write(tmp, name=run_dir.name, previous=run_dir)
        except OSError as exc:  # name the run folder, not the temporary one the error happened in
            raise OSError(
                exc.errno,
                f"{exc.strerror or exc} while writing the run folder (an earlier run there is unchanged)",
                str(run_dir),
            ) from None
        self.run_dir = run_dir
        return run_dir

    def _write(self, run_dir: Path, *, name: str, previous: Path | None = None) -> None:
        """Write the run folder's files into ``run_dir``; a figure whose inputs are those of the
        same figure in ``previous`` (the run folder being replaced) is copied, not drawn again."""
        (run_dir / "arrays").mkdir(parents=True, exist_ok=True)
        (run_dir / "figures").mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(to_yaml(self.config))
        (run_dir / "manifest.json").write_text(json.dumps(self.manifest, indent=2, default=str))
        to_csv(self.table, run_dir / "results.csv")
        to_csv(self.model_metrics, run_dir / "model_metrics.csv")
        md = [
            f"# {self.config.name}: {self.corpus_name}, {self.n_texts} texts"
            + (f", level {self.level}" if self.level else ", no labels"),
            "",
            f"{self.main_metric} (main level; {spread_label(self.table, self.main_metric)}):",
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
        if self.labels_true is not None:
            classes = sorted(set(self.labels_true.tolist()))
            codes = np.array([classes.index(v) for v in self.labels_true.tolist()], dtype=np.int64)
            np.save(run_dir / "arrays" / "labels_true.npy", codes, allow_pickle=False)
            (run_dir / "arrays" / "labels_true.classes.json").write_text(json.dumps(classes))
        for model, xy in self.projections.items():
            np.save(run_dir / "arrays" / f"{slug(model)}__umap2d.npy", xy, allow_pickle=False)
        for (model, clusterer, space), labels in self.cluster_labels.items():
            np.save(run_dir / "arrays" / f"{slug(model)}__{clusterer}__{space}.npy", labels, allow_pickle=False)
        # the large tables of a rerun that found every clustering cached are copied from the run replaced
        tables = FileReuse(run_dir, previous, content_hash(Path(__file__).read_text()), "table")
        if self.clusters is not None:
            cols = ["model", "clusterer", "space", "cluster", "size", "share", "top_terms"]
            clusters = self.clusters[cols + [c for c in self.clusters.columns if c not in cols]]
            tables("clusters.csv", clusters.to_json(orient="split"), lambda path: to_csv(clusters, path))
        if self.texts:
            keys = list(self.cluster_labels)  # the order assignments.csv has
            part = self.training_part
            tables(
                "assignments.csv",
                [
                    self.text_ids,
                    self.texts,
                    [[*k, self.cluster_labels[k], self.probabilities.get(k)] for k in keys],
                    None if part is None else [part.ids, part.texts, [part.labels.get(k) for k in keys]],
                ],
                lambda path: to_csv(self.assignments(), path),
            )
            (run_dir / "texts.json").write_text(json.dumps(self.texts))
        tables.close()
        from .run_figures import save_figures

        save_figures(self, run_dir / "figures", previous=previous)
        from .html import build_html_report, write_results

        build_html_report(run_dir, name=name)  # run_dir is the temporary folder: the title has the real name
        # metrics.json goes last: its presence marks a complete run folder (the sweep relies on it)
        write_results(run_dir, self.headline())

    def assignments(self) -> pd.DataFrame:
        """Which text went to which cluster: one row per text and (model, clusterer, space), with
        ``text_id`` (its row in the source), the text, the cluster (-1: noise), the membership
        probability where the clusterer gives one (HDBSCAN, EVoC; empty for KMeans) and ``part``:
        ``scored`` (clustered and scored), or ``training`` (a text the run trained on, placed by its
        nearest scored texts; `simcse_lab.clustering.extend`), sorted by ``text_id`` within a clustering."""
        columns = ["text_id", "part", "model", "clusterer", "space", "cluster", "probability", "text"]
        ids = self.text_ids if self.text_ids is not None else list(range(len(self.texts)))
        part = self.training_part
        parts = []
        for (model, clusterer, space), labels in self.cluster_labels.items():
            prob = self.probabilities.get((model, clusterer, space))
            rows = pd.DataFrame(
                {
                    "text_id": ids,
                    "part": "scored",
                    "model": model,
                    "clusterer": clusterer,
                    "space": space,
                    "cluster": labels,
                    "probability": prob if prob is not None else np.nan,
                    "text": self.texts,
                }
            )
            placed = None if part is None else part.labels.get((model, clusterer, space))
            if placed is not None and part.ids is not None:
                rows = pd.concat(
                    [
                        rows,
                        pd.DataFrame(
                            {
                                "text_id": part.ids,
                                "part": "training",
                                "model": model,
                                "clusterer": clusterer,
                                "space": space,
                                "cluster": placed,
                                "probability": np.nan,
                                "text": part.texts,
                            }
                        ),
                    ],
                    ignore_index=True,
                )
                rows = rows.sort_values("text_id", kind="stable")
            parts.append(rows)
        return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)

    def cluster_terms(self, model: str, clusterer: str, space: str) -> dict[int, str]:
        """``{cluster: "term, term, ..."}`` of one clustering (empty without descriptions)."""
        if self.clusters is None:
            return {}
        d = self.clusters[
            (self.clusters["model"] == model)
            & (self.clusters["clusterer"] == clusterer)
            & (self.clusters["space"] == space)
        ]
        return dict(zip(d["cluster"].astype(int), d["top_terms"].fillna("").astype(str)))

    def _map_clustering(self, model: str) -> tuple[str, str, str] | None:
        """The clustering a model's labelled map shows: the first clusterer, in UMAP space if clustered there."""
        spaces = ["umap", "raw"] if "umap" in self.config.cluster.spaces else ["raw"]
        for space in spaces:
            for method in self.config.cluster.clusterers:
                if (model, method, space) in self.cluster_labels:
                    return model, method, space
        return None

    def _colouring(self, model: str) -> tuple[np.ndarray, str]:
        """What a model's map is coloured by: the main label level, else its first clustering."""
        if self.labels_true is not None:
            return self.labels_true, self.level
        (key, labels), *_ = [(k, v) for k, v in self.cluster_labels.items() if k[0] == model]
        return labels, f"{key[1]} clusters ({key[2]})"

    def headline(self) -> dict[str, Any]:
        """Flat, JSON-ready numbers: per model, the main level's scores and the geometry metrics."""
        out: dict[str, Any] = {"corpus": self.corpus_name, "level": self.level, "n_texts": self.n_texts}
        main = self.table[self.table["level"] == self.level]
        numeric = [c for c in main.columns if c in (*metric_columns(), *spread_columns())]
        # several seeds: the mean over seeds (their spread is in results.csv)
        main = main.groupby(["model", "clusterer", "space"], sort=False)[numeric].mean().reset_index()
        geo_all = self.model_metrics.drop(columns=["seed"], errors="ignore").groupby("model", sort=False).mean()
        models: dict[str, Any] = {}
        for model, rows in main.groupby("model", sort=False):
            entry = {f"{r.clusterer}/{r.space}": {m: float(getattr(r, m)) for m in numeric} for r in rows.itertuples()}
            if model in geo_all.index:
                entry["geometry"] = {k: (None if pd.isna(v) else float(v)) for k, v in geo_all.loc[model].items()}
            models[str(model)] = entry
        out["models"] = models
        return out
