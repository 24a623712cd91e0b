"""Run ``compare`` or a notebook over a grid of parameters and aggregate the results.

A sweep file (YAML)::

    target: compare                 # or a notebook path, e.g. notebooks/05_comparison.ipynb
    config: default                 # base profile or YAML file
    output_dir: runs/sweeps/pooling
    fixed:                          # parameters every cell gets (notebook names or dotted keys)
      corpus_n_samples: 1000
    grid:                           # every combination is one cell
      train_pooling: [mean, cls]
      train_batch_size: [16, 32]
      seed: [1, 2, 3]
    # or, instead of grid, the cells themselves (e.g. a fractional factorial design):
    # cells:
    #   - {train_learning_rate: 1.0e-5, train_batch_size: 16}
    #   - {train_learning_rate: 3.0e-5, train_batch_size: 64}
    metric: v_measure               # what the summary table and plot show
    timeout_s: 3600                 # per cell
    in_process: false               # compare only: run cells in this process (see below)
    plot_x: train_batch_size        # optional: a numeric grid key; summary.png then draws lines
    plot_quantities: [v_measure, mean_cosine]   # with plot_x: one panel each (default: metric)

Each cell runs in its own process (``simcse-lab compare`` or ``papermill``) and writes into
``<output_dir>/<cell id>/``; a cell whose ``metrics.json`` exists is complete and skipped on a
rerun. A failing cell is recorded (``error.txt``) and the sweep goes on. With ``in_process: true``
(``compare`` targets only) the cells run one after another in the sweep's own process instead:
UMAP's numba compilation (25-30 s) and the imports are paid once rather than per cell, at the
price of isolation (no per-cell timeout; a crash of the interpreter ends the sweep). The aggregate is
``summary.csv`` / ``summary.md`` (mean, std and count over ``seed``) and ``summary.png``.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .config import key_of_param, load_config

logger = logging.getLogger(__name__)

__all__ = ["Cell", "SweepResult", "SweepSpec", "load_sweep", "run_sweep", "summarize"]


@dataclass(frozen=True)
class SweepSpec:
    target: str = "compare"
    config: str = "default"
    output_dir: str = "runs/sweep"
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)
    metric: str = "v_measure"
    timeout_s: int = 3600
    in_process: bool = False
    plot_x: str | None = None
    plot_quantities: list[str] = field(default_factory=list)


@dataclass
class Cell:
    cell_id: str
    params: dict[str, Any]
    status: str = "pending"  # done | skipped | failed
    seconds: float = 0.0
    error: str = ""


@dataclass
class SweepResult:
    cells: list[Cell]
    table: pd.DataFrame
    summary: pd.DataFrame
    output_dir: Path

    @property
    def failed(self) -> list[Cell]:
        return [c for c in self.cells if c.status == "failed"]


def load_sweep(path: str | Path) -> SweepSpec:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"sweep file {path} must be a mapping")
    allowed = set(SweepSpec.__dataclass_fields__)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown sweep key(s) {unknown}; allowed: {sorted(allowed)}")
    if data.get("grid") and data.get("cells"):
        raise ValueError("give a sweep either 'grid' or 'cells', not both")
    spec = SweepSpec(**data)
    _validate(spec)
    return spec


def _validate(spec: SweepSpec) -> None:
    if spec.cells:
        keys = list(spec.cells[0]) if isinstance(spec.cells[0], dict) else []
        if not keys or not all(isinstance(c, dict) and list(c) == keys for c in spec.cells):
            raise ValueError("sweep 'cells' must be mappings with the same parameter names in the same order")
        # the grid keys and their values, for validation, summaries and plots
        object.__setattr__(spec, "grid", {k: sorted({c[k] for c in spec.cells}, key=str) for k in keys})
        object.__setattr__(spec, "cells", [dict(c) for c in spec.cells])
    if not spec.grid or not all(isinstance(v, list) and v for v in spec.grid.values()):
        raise ValueError("sweep 'grid' must map parameter names to non-empty lists")
    is_notebook = spec.target != "compare"
    if spec.plot_x is not None and spec.plot_x not in spec.grid:
        raise ValueError(f"sweep plot_x {spec.plot_x!r} is not a grid key ({', '.join(spec.grid)})")
    if is_notebook and spec.in_process:
        raise ValueError("sweep in_process: true needs target: compare (notebooks run in their own kernel)")
    if is_notebook and not Path(spec.target).is_file():
        raise FileNotFoundError(f"sweep target notebook not found: {spec.target}")
    for name in [*spec.fixed, *spec.grid]:
        if key_of_param(name) is None and not is_notebook:
            raise ValueError(f"sweep parameter {name!r} is not a config key; see `simcse-lab config --keys`")
    if not is_notebook:
        load_config(spec.config)  # fails early on a bad profile name


def _cell_id(params: dict[str, Any]) -> str:
    parts = []
    for k, v in params.items():
        value = "+".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
        parts.append(f"{k}={value}")
    return re.sub(r"[^A-Za-z0-9=+._-]+", "_", "__".join(parts))[:200]


def _cells(spec: SweepSpec) -> list[Cell]:
    if spec.cells:
        return [Cell(_cell_id(c), dict(c)) for c in spec.cells]
    keys = list(spec.grid)
    return [
        Cell(_cell_id(dict(zip(keys, combo))), dict(zip(keys, combo)))
        for combo in itertools.product(*(spec.grid[k] for k in keys))
    ]


def _yaml_value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text[: -len("\n...")] if text.endswith("\n...") else text  # scalars end with a document marker


def _command(spec: SweepSpec, cell: Cell, cell_dir: Path) -> list[str]:
    params = {**spec.fixed, **cell.params}
    if spec.target == "compare":
        cmd = [sys.executable, "-m", "simcse_lab.cli", "compare", spec.config, "--run-dir", str(cell_dir), "-q"]
        for name, value in params.items():
            cmd += ["--set", f"{key_of_param(name)}={_yaml_value(value)}"]
        return cmd
    param_file = cell_dir / "params.yaml"
    param_file.write_text(
        yaml.safe_dump({"config": spec.config, "results_dir": str(cell_dir.resolve()), **params}, sort_keys=False)
    )
    out_nb = cell_dir / Path(spec.target).name
    # notebooks resolve their default paths (../data, results/) from their own folder
    return [
        sys.executable, "-m", "papermill", str(Path(spec.target).resolve()), str(out_nb.resolve()),
        "-f", str(param_file.resolve()), "--cwd", str(Path(spec.target).resolve().parent), "--log-level", "WARNING",
    ]


def _flatten(obj: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, (*prefix, str(k))))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix] = float(obj)
    return out


def _rows(cell: Cell, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for path, value in _flatten(metrics).items():
        row: dict[str, Any] = {**{k: _hashable(v) for k, v in cell.params.items()}, "cell": cell.cell_id}
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


def _plot(summary: pd.DataFrame, grid_keys: list[str], metric: str, path: Path) -> None:
    from matplotlib.figure import Figure

    if summary.empty:
        return
    keys = [k for k in grid_keys if k != "seed" and k in summary.columns]
    label = summary[keys].astype(str).agg(", ".join, axis=1) if keys else pd.Series(["all"] * len(summary))
    data = summary.assign(point=label.values, series=summary["model"] + " " + summary["setting"])
    setting = data["setting"].iloc[0]
    data = data[data["setting"] == setting]
    mean = data.pivot_table(index="point", columns="series", values="mean", sort=False)
    std = data.pivot_table(index="point", columns="series", values="std", sort=False).fillna(0)
    fig = Figure(figsize=(max(6, 1.5 * len(mean) + 3), 4.5))
    ax = fig.subplots()
    mean.plot.bar(ax=ax, yerr=std, rot=30, capsize=3)
    ax.set_ylabel(f"{metric} (mean ± std over seeds)")
    ax.set_xlabel(", ".join(keys))
    ax.set_title(f"{metric}, {setting}")
    ax.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _run_in_process(argv: list[str], done: Path) -> tuple[bool, str]:
    """``simcse-lab <argv>`` in this process; (finished, what it printed to stderr or the error)."""
    import contextlib
    import io
    import traceback

    from .cli import main

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    except Exception:  # noqa: BLE001 - a failing cell is recorded, the sweep goes on
        return False, err.getvalue() + traceback.format_exc()
    return code == 0 and done.is_file(), err.getvalue()


def _plot_lines(table: pd.DataFrame, spec: SweepSpec, path: Path) -> None:
    """One panel per quantity: mean (± std over seeds) against ``plot_x``, a line per model and
    per value of the other grid keys; scores at their first setting (e.g. kmeans/raw)."""
    from matplotlib.figure import Figure

    quantities = [q for q in (spec.plot_quantities or [spec.metric]) if q in set(table["quantity"])]
    if table.empty or not quantities:
        return
    others = [k for k in spec.grid if k not in (spec.plot_x, "seed")]
    fig = Figure(figsize=(5.5 * len(quantities), 4.2))
    for ax, quantity in zip(fig.subplots(1, len(quantities), squeeze=False)[0], quantities):
        rows = table[table["quantity"] == quantity]
        rows = rows[rows["setting"] == rows["setting"].iloc[0]]
        stats = rows.groupby([*others, "model", spec.plot_x], sort=True)["value"].agg(["mean", "std"]).reset_index()
        for key, line in stats.groupby([*others, "model"], sort=False):
            key = key if isinstance(key, tuple) else (key,)
            label = ", ".join([f"{k}={v}" for k, v in zip(others, key[:-1])] + [str(key[-1])])
            ax.errorbar(line[spec.plot_x], line["mean"], yerr=line["std"].fillna(0), marker="o", capsize=3, label=label)
        if (stats["mean"] >= 0).all():
            ax.set_ylim(bottom=0)  # differences between scores near zero should look like what they are
        ax.set_xlabel(spec.plot_x)
        ax.set_ylabel(f"{quantity} ({rows['setting'].iloc[0]})")
        ax.legend(fontsize="x-small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def run_sweep(spec: SweepSpec | str | Path) -> SweepResult:
    """Run every cell not yet complete, then aggregate all complete cells."""
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    else:
        _validate(spec)
    out = Path(spec.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = {k: v for k, v in spec.__dict__.items() if not (k == "grid" and spec.cells)}
    (out / "sweep.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
    cells = _cells(spec)
    rows: list[dict[str, Any]] = []
    import time

    for i, cell in enumerate(cells, 1):
        cell_dir = out / cell.cell_id
        done = cell_dir / "metrics.json"
        if done.is_file():
            cell.status = "skipped"
        else:
            cell_dir.mkdir(parents=True, exist_ok=True)
            (cell_dir / "error.txt").unlink(missing_ok=True)
            logger.info("[%d/%d] %s", i, len(cells), cell.cell_id)
            t0 = time.perf_counter()
            cmd = _command(spec, cell, cell_dir)
            if spec.in_process:
                ok, detail = _run_in_process(cmd[3:], done)
            else:
                try:
                    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=spec.timeout_s)
                    ok, detail = proc.returncode == 0 and done.is_file(), (proc.stderr or proc.stdout)
                except subprocess.TimeoutExpired:
                    ok, detail = False, f"timed out after {spec.timeout_s}s"
            cell.seconds = round(time.perf_counter() - t0, 1)
            (cell_dir / "run.log").write_text(detail or "")
            if ok:
                cell.status = "done"
            else:
                cell.status = "failed"
                lines = [ln for ln in (detail or "").splitlines() if ln.strip()]
                errors = [ln for ln in lines if "error" in ln.lower()]
                cell.error = (errors or lines or ["no output"])[-1][:500]
                (cell_dir / "error.txt").write_text(cell.error + "\n")
                logger.warning("cell %s failed: %s", cell.cell_id, cell.error)
        if done.is_file():
            rows.extend(_rows(cell, json.loads(done.read_text())))
    table = pd.DataFrame(rows)
    summary = summarize(table, list(spec.grid), spec.metric)
    table.to_csv(out / "results.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    status = pd.DataFrame([{"cell": c.cell_id, "status": c.status, "seconds": c.seconds, "error": c.error} for c in cells])
    status.to_csv(out / "cells.csv", index=False)
    md = [f"# sweep {out.name}: {spec.metric} (mean ± std over seeds)", ""]
    md += [summary.to_markdown(index=False, floatfmt=".3f") if not summary.empty else "(no complete cell)", ""]
    md += ["## cells", "", status.to_markdown(index=False), ""]
    (out / "summary.md").write_text("\n".join(md))
    if spec.plot_x:
        _plot_lines(table, spec, out / "summary.png")
    else:
        _plot(summary, list(spec.grid), spec.metric, out / "summary.png")
    return SweepResult(cells=cells, table=table, summary=summary, output_dir=out)
