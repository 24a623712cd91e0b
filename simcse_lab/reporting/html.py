"""Results that outlive a kernel: JSON + figures written next to an executed notebook, a one-page
HTML report of a run folder, and an interactive UMAP view with the text on hover.

Everything here reads and writes files; nothing computes metrics. The HTML files embed their
images and scripts, so they open from disk in a browser with no server and no network.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.assets import atomic_write
from ..evaluation.verdict import measured_check
from .spreadsheet import read_csv
from .tables import has_label_free, label_free_table
from .verdicts import read_first_sentence, verdict_sentences

logger = logging.getLogger(__name__)

__all__ = ["build_html_report", "interactive_umap", "write_results"]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and obj != obj:  # NaN has no JSON form
        return None
    return obj


def write_results(results_dir: str | Path, metrics: dict[str, Any], figures: dict[str, Any] | None = None) -> Path:
    """Write ``metrics.json`` and ``<name>.png`` for each matplotlib figure into ``results_dir``.

    ``metrics.json`` is written last, so its presence means the results are complete.
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    for name, fig in (figures or {}).items():
        fig.savefig(results_dir / f"{name}.png", dpi=90, bbox_inches="tight")
    atomic_write(results_dir / "metrics.json", json.dumps(_jsonable(metrics), indent=2).encode())
    return results_dir


def interactive_umap(
    xy: np.ndarray,
    labels,
    texts: list[str],
    path: str | Path,
    *,
    title: str = "",
    max_chars: int = 300,
    hover: dict[str, list[str]] | None = None,
) -> Path:
    """A standalone bokeh page: the 2-D projection coloured by label, the text on hover, and any
    ``hover`` columns (``{name: one string per point}``: a clustering and its cluster's terms)."""
    try:
        from bokeh.embed import file_html
        from bokeh.models import ColumnDataSource, HoverTool
        from bokeh.plotting import figure
        from bokeh.resources import INLINE
    except ImportError:
        raise ImportError("the interactive view needs bokeh: pip install 'umap-learn[plot]'") from None
    from .plots import category_colors

    xy = np.asarray(xy)
    labels = np.asarray(labels)
    if not (len(xy) == len(labels) == len(texts)):
        raise ValueError(f"{len(xy)} points, {len(labels)} labels and {len(texts)} texts must match")
    colors = category_colors(labels)
    short = [t if len(t) <= max_chars else t[:max_chars] + "…" for t in texts]
    source = ColumnDataSource(
        {
            "x": xy[:, 0],
            "y": xy[:, 1],
            "label": [str(v) for v in labels],
            "color": [colors[v] for v in labels.tolist()],
            "text": short,
            **{f"h{i}": list(v) for i, v in enumerate((hover or {}).values())},
        }
    )
    fig = figure(title=title, width=900, height=750, tools="pan,wheel_zoom,box_zoom,reset,save")
    fig.scatter("x", "y", source=source, color="color", legend_field="label", size=5, alpha=0.7)
    fig.add_tools(
        HoverTool(
            tooltips=[("label", "@label"), *((name, f"@h{i}") for i, name in enumerate(hover or {})), ("text", "@text")]
        )
    )
    fig.legend.click_policy = "hide"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(file_html(fig, INLINE, title or "UMAP"), encoding="utf-8")
    return path


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}" style="max-width:100%">'


REQUIRED_COLUMNS = ("model", "clusterer", "space", "level", "v_measure")  # v_measure: NaN without labels


def _read_run_folder(run_dir: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The manifest and results table of a run folder, or one ``ValueError`` saying what is wrong."""
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder not found: {run_dir}")
    csv = run_dir / "results.csv"
    if not csv.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no results.csv)")
    try:
        table = read_csv(csv)
    except (ValueError, OSError, UnicodeDecodeError) as exc:  # pandas' ParserError/EmptyDataError are ValueErrors
        raise ValueError(
            f"{csv} cannot be read as a table ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{csv} was not written by simcse-lab compare: it lacks the column(s) {missing}")
    table["level"] = table["level"].fillna("")  # a corpus without labels has level "" (read back as NaN)
    if not pd.api.types.is_numeric_dtype(table["v_measure"]):
        raise ValueError(f"{csv}: column 'v_measure' is not numeric")
    manifest: dict[str, Any] = {}
    if (run_dir / "manifest.json").is_file():
        try:
            manifest = json.loads((run_dir / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            logger.warning("%s is unreadable (%s); the report has no manifest section", run_dir / "manifest.json", exc)
        if not isinstance(manifest, dict):
            manifest = {}
    return manifest, table


def _clusters_section(path: Path, *, max_rows: int = 60) -> list[str]:
    """What each cluster is about, per clustering: size, top terms, the texts nearest its centre."""
    clusters = read_csv(path)
    out = [
        "<h2>What the clusters are about</h2>",
        "<p>Per clustering: each cluster's size, its top terms by class-based TF-IDF and the three texts "
        "nearest its centre (all in <code>clusters.csv</code>; which text went where is in "
        "<code>assignments.csv</code>).</p>",
    ]
    for (model, clusterer, space), d in clusters.groupby(["model", "clusterer", "space"], sort=False):
        shown = d.drop(columns=["model", "clusterer", "space"]).sort_values("size", ascending=False).head(max_rows)
        out += [
            f"<details><summary><b>{html.escape(str(model))}</b> {html.escape(str(clusterer))}/"
            f"{html.escape(str(space))}: {len(d)} clusters</summary>",
            shown.to_html(index=False, float_format="%.3f"),
            "</details>",
        ]
    return out


def build_html_report(run_dir: str | Path, *, out: str | Path | None = None, name: str | None = None) -> Path:
    """One self-contained HTML page from a run folder written by ``Result.save``; ``name`` is the
    run's name in the title (default: the folder's, which is a temporary one while it is saved)."""
    run_dir = Path(run_dir)
    name = name or run_dir.name
    manifest, table = _read_run_folder(run_dir)
    level = table["level"].iloc[0] if len(table) else ""
    main = table[table["level"] == level]
    summary = main.assign(setting=main["clusterer"] + "/" + main["space"]).pivot_table(
        index="model", columns="setting", values="v_measure", sort=False
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>simcse-lab run {html.escape(name)}</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head><body>",
        f"<h1>simcse-lab run <code>{html.escape(name)}</code></h1>",
    ]
    corpus = manifest.get("corpus", {})
    if corpus:
        parts.append(
            f"<p>Corpus <b>{html.escape(str(corpus.get('name')))}</b>: {corpus.get('n_texts')} texts; "
            f"{html.escape(str(corpus.get('source', '')))}. Wall time {manifest.get('wall_seconds', '?')} s.</p>"
        )
    trained_from = {m["name"]: m.get("trained_from") for m in manifest.get("models", [])}
    check = measured_check()
    sentences = verdict_sentences(table, trained_from, check=check) if "lf_verdict" in table else []
    first = read_first_sentence(table, trained_from, check=check) if sentences else None
    sentences += [first] if first else []
    if sentences:  # the answer first: did training help, read without labels
        parts += [
            "<h2>Did training help? (read without labels)</h2><ul>",
            *(f"<li>{html.escape(line)}</li>" for line in sentences),
            "</ul>",
        ]
    if level:
        one_header = summary.rename_axis(columns=None).reset_index()  # model as a column: one header row
        parts += [
            f"<h2>V-measure against {html.escape(str(level))}</h2>",
            one_header.to_html(index=False, float_format="%.3f"),
        ]
    free = label_free_table(table, level=level)
    if has_label_free(free):
        parts += [
            "<h2>Label-free scores (no labels used)</h2>",
            "<p>silhouette: cosine, in the clustered space (higher is better); davies_bouldin: lower is "
            "better; calinski_harabasz, dbcv (density clusterings), stability (ARI across re-clusterings of "
            "80% subsamples): higher is better. vs start: a trained model's clustering against its start model's, "
            "read where the trained model cannot inflate it, with a 95% interval over resampled texts; verdict: "
            "better or worse only when every one of them says so.</p>",
            free.to_html(index=False, float_format="%.3f"),
        ]
    if (run_dir / "model_metrics.csv").is_file():
        parts += [
            "<h2>Embedding geometry</h2>",
            read_csv(run_dir / "model_metrics.csv").to_html(index=False, float_format="%.3f"),
        ]
    if (run_dir / "clusters.csv").is_file():
        parts += _clusters_section(run_dir / "clusters.csv")
    figures = sorted((run_dir / "figures").glob("*.png")) if (run_dir / "figures").is_dir() else []
    if figures:
        parts.append("<h2>Figures</h2>")
        parts += [f"<h3>{html.escape(p.stem)}</h3>{_img(p)}" for p in figures]
    pages = sorted((run_dir / "figures").glob("*.html")) if (run_dir / "figures").is_dir() else []
    if pages:
        parts.append("<h2>Interactive UMAP views (text on hover)</h2><ul>")
        parts += [f"<li><a href='figures/{html.escape(p.name)}'>{html.escape(p.stem)}</a></li>" for p in pages]
        parts.append("</ul>")
    parts += ["<h2>All scores</h2>", table.to_html(index=False, float_format="%.3f")]
    if (run_dir / "config.yaml").is_file():
        parts += ["<h2>Config</h2>", f"<pre>{html.escape((run_dir / 'config.yaml').read_text())}</pre>"]
    if manifest:
        parts += ["<h2>Manifest</h2>", f"<pre>{html.escape(json.dumps(manifest, indent=2))}</pre>"]
    parts.append("</body></html>")
    out = Path(out) if out else run_dir / "report.html"
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
