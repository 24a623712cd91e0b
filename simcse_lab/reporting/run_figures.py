"""A run folder's figures: per model the 2-D UMAP panels, the labelled map and the interactive view;
the k-choice curves and the score bars.

Drawing them is a large part of a rerun that finds everything else cached, so each figure is
drawn only when what it shows changed: its inputs (the arrays, names and titles it is drawn from,
and the drawing code) are digested, the digests kept in ``figures/.inputs.json``, and a figure of
the folder being replaced whose digest is the same is copied instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..core.hashing import content_hash
from .run_folder import FileReuse, slug

logger = logging.getLogger(__name__)

__all__ = ["save_figures"]


def _code_digest() -> str:
    """The drawing code's own digest: a changed plot function draws every figure again."""
    here = Path(__file__).parent
    return content_hash(
        [
            (p.name, p.read_text())
            for p in (here / "run_figures.py", here / "plots.py", here / "maps.py", here / "html.py")
        ]
    )


def save_figures(result: Any, fig_dir: Path, *, previous: Path | None = None) -> None:
    """Every figure of ``result`` (a `simcse_lab.reporting.results.Result`) into ``fig_dir``."""
    reuse = FileReuse(fig_dir, previous / "figures" if previous is not None else None, _code_digest(), "figure")
    _umap_panels(result, reuse)
    if result.manifest.get("k_choice"):
        reuse("k_choice.png", result.manifest["k_choice"], lambda path: _k_choice(result.manifest["k_choice"], path))
    if result.clusters is not None and result.config.metrics.describe_clusters:
        _maps(result, reuse)
    main = result.table[result.table["level"] == result.level]
    if not main.empty:
        metric = result.main_metric
        title = f"V-measure vs {result.level}" if result.level else "silhouette (no labels)"
        reuse(f"{metric}.png", [main.to_csv(index=False), metric, title], lambda path: _bars(main, metric, title, path))
    if result.texts:
        _interactive(result, reuse)
    reuse.close()


def _umap_panels(result: Any, reuse: FileReuse) -> None:
    for model, xy in result.projections.items():
        panels = {f"label: {result.level}": result.labels_true} if result.labels_true is not None else {}
        for method in result.config.cluster.clusterers:  # each clusterer once, in UMAP space if it ran there
            key = next(
                (k for k in [(model, method, "umap"), (model, method, "raw")] if k in result.cluster_labels), None
            )
            if key is not None:
                panels[f"{method} ({key[2]})"] = result.cluster_labels[key]
        title = f"{model}: UMAP 2-D of {result.corpus_name}"

        def draw(path: Path, xy=xy, panels=panels, title=title) -> None:
            from matplotlib.figure import Figure  # imported only when a figure is drawn

            from .plots import plot_run

            fig = Figure(figsize=(5 * len(panels), 5.2))
            plot_run(xy, panels, axes=fig.subplots(1, len(panels), squeeze=False)[0])
            fig.suptitle(title)
            fig.tight_layout()
            fig.savefig(path, dpi=90)

        reuse(f"{slug(model)}.png", [xy, panels, title], draw)


def _k_choice(choices: dict[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure

    from .maps import plot_k_choice

    fig = Figure(figsize=(8, 4.8))
    plot_k_choice(choices, ax=fig.subplots())
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _bars(main: Any, metric: str, title: str, path: Path) -> None:
    from matplotlib.figure import Figure

    from .plots import plot_metric_bars

    fig = Figure(figsize=(max(6, 2 * main["model"].nunique() + 2), 4.5))
    plot_metric_bars(main, ax=fig.subplots(), metric=metric, title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _maps(result: Any, reuse: FileReuse) -> None:
    from .maps import labelled_map

    for model, xy in result.projections.items():
        key = result._map_clustering(model)
        if key is None:
            continue
        labels, terms = result.cluster_labels[key], result.cluster_terms(*key)
        named = len(set(np.asarray(labels).tolist()) - {-1})
        if named < 2:  # datamapplot places labels between clusters: one cluster (besides noise) cannot be drawn
            logger.warning(
                "labelled map of %s skipped: its %s/%s clustering has %d cluster(s) besides noise, and the map needs 2",
                model,
                key[1],
                key[2],
                named,
            )
            continue
        title, sub = (
            f"{model}: {result.corpus_name}",
            f"{key[1]} clusters ({key[2]}), named by their top c-TF-IDF terms",
        )
        try:
            reuse(
                f"{slug(model)}__map.png",
                [xy, labels, terms, title, sub],
                lambda path, xy=xy, labels=labels, terms=terms, title=title, sub=sub: labelled_map(
                    xy, labels, terms, path, title=title, sub_title=sub
                ),
            )
        except ImportError as exc:
            logger.warning("labelled maps skipped: %s", exc)
            return
        except ValueError as exc:  # a layout datamapplot cannot draw: the tables and the report are still written
            logger.warning(
                "labelled map of %s (%s/%s) skipped: datamapplot could not draw it (%s)", model, key[1], key[2], exc
            )


def _interactive(result: Any, reuse: FileReuse, *, max_points: int = 25_000) -> None:
    if len(result.texts) > max_points:
        logger.info("interactive UMAP views skipped: %d texts > %d", len(result.texts), max_points)
        return
    from .html import interactive_umap

    try:
        for model, xy in result.projections.items():
            colour, by = result._colouring(model)
            hover = {}
            key = result._map_clustering(model)
            if key is not None:
                terms = result.cluster_terms(*key)
                labels = result.cluster_labels[key]
                hover = {
                    f"{key[1]}/{key[2]}": [str(v) for v in labels],
                    "terms": [terms.get(int(v), "") for v in labels],
                }
            title = f"{model}: UMAP of {result.corpus_name}, coloured by {by}"
            reuse(
                f"{slug(model)}.html",
                [xy, np.asarray(colour).astype(str), result.texts, hover, title],
                lambda path, xy=xy, colour=colour, hover=hover, title=title: interactive_umap(
                    xy, colour, result.texts, path, title=title, hover=hover
                ),
            )
    except ImportError as exc:
        logger.warning("interactive UMAP views skipped: %s", exc)
