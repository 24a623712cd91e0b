"""A sweep's table: one row per number of every finished cell, and its summary over seeds."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["summarize", "sweep_rows"]


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
