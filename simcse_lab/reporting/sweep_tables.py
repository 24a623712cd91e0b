"""A sweep's table: one row per number of every finished cell, its summary over seeds, and its plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["save_sweep_plot", "summarize", "sweep_rows"]


def _flatten(obj: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, (*prefix, str(k))))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix] = float(obj)
    return out


def sweep_rows(params: dict[str, Any], cell_id: str, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per number in a cell's ``metrics.json``, with the cell's parameters and id."""
    rows = []
    for path, value in _flatten(metrics).items():
        row: dict[str, Any] = {**{k: _hashable(v) for k, v in params.items()}, "cell": cell_id}
        if len(path) == 4 and path[0] == "models":
            row.update({"model": path[1], "setting": path[2], "quantity": path[3]})
        else:
            row.update({"model": "", "setting": "", "quantity": "/".join(path)})
        row["value"] = value
        rows.append(row)
    return rows


def _hashable(v: Any) -> Any:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v


def summarize(table: pd.DataFrame, grid_keys: list[str], metric: str) -> pd.DataFrame:
    """Mean, std and count of ``metric`` over seeds, per grid point, model and setting."""
    if table.empty:
        return pd.DataFrame()
    rows = table[table["quantity"] == metric]
    keys = [k for k in grid_keys if k != "seed" and k in rows.columns] + ["model", "setting"]
    return rows.groupby(keys, sort=False, dropna=False)["value"].agg(["mean", "std", "count"]).reset_index()


def save_sweep_plot(
    table: pd.DataFrame,
    summary: pd.DataFrame,
    path: Path,
    *,
    grid_keys: list[str],
    metric: str,
    plot_x: str | None = None,
    plot_quantities: list[str] | None = None,
) -> None:
    """``summary.png``: lines over ``plot_x`` (one panel per quantity) or bars per grid point."""
    from matplotlib.figure import Figure

    from .plots import plot_sweep_bars, plot_sweep_lines

    if plot_x:
        quantities = [q for q in (plot_quantities or [metric]) if not table.empty and q in set(table["quantity"])]
        if not quantities:
            return
        fig = Figure(figsize=(5.5 * len(quantities), 4.2))
        for ax, quantity in zip(fig.subplots(1, len(quantities), squeeze=False)[0], quantities):
            plot_sweep_lines(table, x=plot_x, quantity=quantity, grid_keys=grid_keys, ax=ax)
    else:
        if summary.empty:
            return
        keys = [k for k in grid_keys if k != "seed" and k in summary.columns]
        n_points = len(summary.drop_duplicates(keys)) if keys else 1
        fig = Figure(figsize=(max(6, 1.5 * n_points + 3), 4.5))
        plot_sweep_bars(summary, grid_keys=grid_keys, metric=metric, ax=fig.subplots())
    fig.tight_layout()
    fig.savefig(path, dpi=90)
