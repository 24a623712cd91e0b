"""Plots. Every ``plot_*`` takes data and an optional ``ax`` and returns the ``Axes``; nothing here
computes metrics, shows or saves figures, or touches global matplotlib settings.

Large point clouds (more than ``datashader_threshold`` points) are rasterised with datashader so
the figure stays readable and small.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "category_colors",
    "plot_alignment_uniformity",
    "plot_class_counts",
    "plot_embedding_2d",
    "plot_metric_bars",
    "plot_paired_differences",
    "plot_run",
    "plot_similarity_matrix",
    "plot_sweep_bars",
    "plot_sweep_lines",
    "plot_text_lengths",
    "plot_training_curves",
    "plot_training_loss",
]

_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
)


def category_colors(categories) -> dict[Any, str]:
    """A stable colour per category (sorted order); noise (-1) is light grey."""
    cats = sorted(set(np.asarray(categories).tolist()), key=lambda c: (str(type(c)), c))
    out: dict[Any, str] = {}
    for i, c in enumerate(c for c in cats if c != -1):
        out[c] = _PALETTE[i % len(_PALETTE)]
    if -1 in cats:
        out[-1] = "#d9d9d9"
    return out


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 6))
    return ax


def plot_embedding_2d(
    xy: np.ndarray,
    labels=None,
    *,
    ax=None,
    title: str | None = None,
    point_size: float | None = None,
    max_legend: int = 20,
    datashader_threshold: int = 20_000,
):
    """Scatter a 2-D projection coloured by ``labels`` (class names or cluster ids)."""
    from matplotlib.lines import Line2D

    ax = _axes(ax)
    xy = np.asarray(xy)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"plot_embedding_2d needs an (n, 2) array, got shape {xy.shape}")
    labels = np.zeros(len(xy), dtype=int) if labels is None else np.asarray(labels)
    if len(labels) != len(xy):
        raise ValueError(f"{len(labels)} labels for {len(xy)} points")
    colors = category_colors(labels)
    if len(xy) > datashader_threshold:
        _datashade(ax, xy, labels, colors)
    else:
        size = point_size or max(1.0, min(12.0, 12000 / max(len(xy), 1)))
        ax.scatter(xy[:, 0], xy[:, 1], c=[colors[v] for v in labels.tolist()], s=size, linewidths=0, alpha=0.8)
    if 1 < len(colors) <= max_legend:
        handles = [Line2D([], [], marker="o", ls="", color=c, label=str(k)) for k, c in colors.items()]
        ax.legend(handles=handles, loc="best", fontsize="small", markerscale=0.8, frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def _datashade(ax, xy: np.ndarray, labels: np.ndarray, colors: dict[Any, str]) -> None:
    try:
        import datashader as ds
        import datashader.transfer_functions as tf
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportError("large scatter plots need datashader: pip install datashader") from None
    keys = [str(k) for k in colors]
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "c": pd.Categorical([str(v) for v in labels], categories=keys)})
    pad = 1e-6
    x_range = (float(xy[:, 0].min()) - pad, float(xy[:, 0].max()) + pad)
    y_range = (float(xy[:, 1].min()) - pad, float(xy[:, 1].max()) + pad)
    canvas = ds.Canvas(plot_width=800, plot_height=800, x_range=x_range, y_range=y_range)
    agg = canvas.points(df, "x", "y", agg=ds.count_cat("c"))
    img = tf.dynspread(tf.shade(agg, color_key=dict(zip(keys, colors.values())), how="eq_hist"), threshold=0.5)
    ax.imshow(img.to_pil(), extent=[*x_range, *y_range], origin="upper", aspect="auto")


def plot_metric_bars(table: pd.DataFrame, *, metric: str = "v_measure", ax=None, title: str | None = None):
    """Grouped bars of ``metric`` per model, one bar per (clusterer, space)."""
    ax = _axes(ax)
    if metric not in table.columns:
        raise ValueError(f"table has no column {metric!r}; columns: {list(table.columns)}")
    pivot = table.assign(setting=table["clusterer"] + " / " + table["space"]).pivot_table(
        index="model", columns="setting", values=metric, aggfunc="mean", sort=False
    )
    pivot.plot.bar(ax=ax, rot=0)
    ax.set_ylabel(metric)
    ax.set_xlabel("")
    ax.legend(fontsize="small", frameon=False)
    ax.set_title(title or f"{metric} by model")
    return ax


def plot_run(xy: np.ndarray, panels: dict[str, np.ndarray], *, title: str = "", axes=None):
    """One row of 2-D projections of the same points, one panel per colouring (label, clusters...)."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5), squeeze=False)
        axes = axes[0]
        if title:
            fig.suptitle(title)
    for ax, (name, labels) in zip(axes, panels.items()):
        plot_embedding_2d(xy, labels, ax=ax, title=name)
    return axes


def plot_class_counts(counts: dict[str, int], *, ax=None, title: str | None = None):
    """Horizontal bars of texts per class, largest first."""
    ax = _axes(ax)
    items = sorted(counts.items(), key=lambda kv: kv[1])
    ax.barh([k for k, _ in items], [v for _, v in items], color="#1f77b4")
    ax.set_xlabel("texts")
    if title:
        ax.set_title(title)
    return ax


def plot_text_lengths(lengths, *, ax=None, bins: int = 40, title: str | None = None):
    """Histogram of text lengths (words, or tokens) with the median marked."""
    ax = _axes(ax)
    lengths = np.asarray(lengths)
    ax.hist(lengths, bins=bins, color="#7f7f7f")
    ax.axvline(float(np.median(lengths)), color="#d62728", ls="--", label=f"median {np.median(lengths):.0f}")
    ax.set_xlabel("words per text")
    ax.set_ylabel("texts")
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return ax


def plot_similarity_matrix(sim: np.ndarray, *, ax=None, title: str | None = None):
    """Heatmap of a batch's view-1 x view-2 cosine similarities (positives on the diagonal)."""
    ax = _axes(ax)
    im = ax.imshow(sim, cmap="viridis", vmin=min(0.0, float(np.min(sim))), vmax=1.0)
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    ax.set_xlabel("second dropout view")
    ax.set_ylabel("first dropout view")
    if title:
        ax.set_title(title)
    return ax


def plot_training_loss(log_history: list[dict], *, ax=None, title: str | None = "SimCSE training loss"):
    """Loss per logged step from a trainer's ``log_history``."""
    ax = _axes(ax)
    points = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    if not points:
        raise ValueError("log_history has no loss entries")
    steps, losses = zip(*points)
    ax.plot(steps, losses, marker="o", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    if title:
        ax.set_title(title)
    return ax


def plot_alignment_uniformity(model_metrics: pd.DataFrame, *, ax=None, title: str | None = None):
    """Each model as a point in the (uniformity, alignment) plane; lower-left is better."""
    ax = _axes(ax)
    df = model_metrics.dropna(subset=["alignment", "uniformity"])
    if df.empty:
        raise ValueError("no model has both alignment and uniformity")
    ax.scatter(df["uniformity"], df["alignment"], s=60)
    for row in df.itertuples():
        ax.annotate(str(row.model), (row.uniformity, row.alignment), textcoords="offset points", xytext=(5, 5))
    ax.set_xlabel("uniformity (lower is better)")
    ax.set_ylabel("alignment (lower is better)")
    ax.set_title(title or "alignment vs uniformity")
    return ax


def plot_training_curves(curves: pd.DataFrame, *, ax=None, title: str | None = "held-out V-measure during SimCSE"):
    """V-measure over training steps, one line per model (step 0 = the untouched model)."""
    ax = _axes(ax)
    if curves.empty:
        raise ValueError("no training curve to plot (was train.eval_steps set?)")
    for model, rows in curves.groupby("model", sort=False):
        ax.plot(rows["step"], rows["v_measure"], marker="o", ms=3, label=str(model))
    ax.set_xlabel("SimCSE training step")
    ax.set_ylabel("held-out V-measure (KMeans)")
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return ax


def plot_sweep_bars(summary: pd.DataFrame, *, grid_keys: list[str], metric: str = "v_measure", ax=None):
    """A sweep's ``summary`` (mean, std per grid point, model and setting) as grouped bars with
    ± std over seeds: one group per grid point, one bar per model, at the first setting."""
    ax = _axes(ax)
    keys = [k for k in grid_keys if k != "seed" and k in summary.columns]
    label = summary[keys].astype(str).agg(", ".join, axis=1) if keys else pd.Series(["all"] * len(summary))
    data = summary.assign(point=label.values, series=summary["model"] + " " + summary["setting"])
    setting = data["setting"].iloc[0]
    data = data[data["setting"] == setting]
    mean = data.pivot_table(index="point", columns="series", values="mean", sort=False)
    std = data.pivot_table(index="point", columns="series", values="std", sort=False).fillna(0)
    mean.plot.bar(ax=ax, yerr=std, rot=30, capsize=3)
    ax.set_ylabel(f"{metric} (mean ± std over seeds)")
    ax.set_xlabel(", ".join(keys))
    ax.set_title(f"{metric}, {setting}")
    ax.legend(fontsize="small", frameon=False)
    return ax


def plot_sweep_lines(table: pd.DataFrame, *, x: str, quantity: str, grid_keys: list[str], ax=None):
    """A sweep's tidy ``table`` as mean (± std over seeds) of ``quantity`` against the numeric
    grid key ``x``: a line per model and per value of the other grid keys, scores at their first
    setting (e.g. kmeans/raw)."""
    ax = _axes(ax)
    others = [k for k in grid_keys if k not in (x, "seed")]
    rows = table[table["quantity"] == quantity]
    rows = rows[rows["setting"] == rows["setting"].iloc[0]]
    stats = rows.groupby([*others, "model", x], sort=True)["value"].agg(["mean", "std"]).reset_index()
    for key, line in stats.groupby([*others, "model"], sort=False):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join([f"{k}={v}" for k, v in zip(others, key[:-1])] + [str(key[-1])])
        ax.errorbar(line[x], line["mean"], yerr=line["std"].fillna(0), marker="o", capsize=3, label=label)
    if (stats["mean"] >= 0).all():
        ax.set_ylim(bottom=0)  # differences between scores near zero should look like what they are
    ax.set_xlabel(x)
    ax.set_ylabel(f"{quantity} ({rows['setting'].iloc[0]})")
    ax.legend(fontsize="x-small", frameon=False)
    return ax


def plot_paired_differences(paired: pd.DataFrame, *, ax=None, title: str | None = None):
    """`simcse_lab.reporting.tables.paired_differences` as bars with their confidence intervals:
    one group per model, one bar per label level x clusterer/space, and a line at 0."""
    ax = _axes(ax)
    data = paired.assign(series=paired["level"] + ", " + paired["setting"])
    diff = data.pivot_table(index="model", columns="series", values="diff", sort=False)
    lo = data.pivot_table(index="model", columns="series", values="diff_lo", sort=False)
    hi = data.pivot_table(index="model", columns="series", values="diff_hi", sort=False)
    err = np.stack([(diff - lo).to_numpy().T, (hi - diff).to_numpy().T], axis=1)  # (series, 2, models)
    diff.plot.bar(ax=ax, yerr=np.nan_to_num(err), rot=20, capsize=3)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("difference (mean over seeds, 95% CI)")
    ax.set_xlabel("")
    if title:
        ax.set_title(title)
    ax.legend(fontsize="x-small", frameon=False)
    return ax
