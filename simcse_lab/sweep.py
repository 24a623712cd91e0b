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
``<output_dir>/<cell id>/`` (``<values>-<hash of the resolved request>``; a notebook cell: its
parameters and executed notebook there, its run folder in ``<cell id>/results/``); a cell whose
``metrics.json`` exists is complete and skipped on a rerun. A failing cell is recorded
(``error.txt``: the one-line error the process ended with) and the sweep goes on. With ``in_process:
true`` (``compare`` targets only) the cells run one after another in the sweep's own process
instead, through the library (`simcse_lab.experiment.run` and ``Result.save``): UMAP's numba
compilation and the imports are paid once rather than per cell, at the price of isolation
(no per-cell timeout; a crash of the interpreter ends the sweep). The aggregate is
``summary.csv`` / ``summary.md`` (mean, std and count over ``seed``) and ``summary.png``.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .core.config import config_hash, load_config, read_yaml, validate
from .core.hashing import content_hash
from .core.params import check_param_names, key_of_param
from .reporting.run_folder import check_writable_folder
from .reporting.spreadsheet import to_csv
from .reporting.sweep_tables import save_sweep_plot, summarize, sweep_rows

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
    try:
        data = read_yaml(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"sweep file {path}: invalid YAML ({' '.join(str(exc).split())})") from None
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
    if is_notebook:
        import papermill

        declared = list(papermill.inspect_notebook(spec.target))
        check_param_names([*spec.fixed, *spec.grid], declared, where=f"sweep of {Path(spec.target).name}")
    else:
        check_param_names([*spec.fixed, *spec.grid], [], where="sweep of compare")
    if not is_notebook:
        for cell in _cells(spec):  # fails early on a bad profile name or a bad value in any cell
            validate(load_config(spec.config, _overrides(spec, cell)))


def _cell_id(spec: SweepSpec, params: dict[str, Any]) -> str:
    """A readable slug of the cell's own values, then the hash of what the cell runs: for
    ``compare`` the resolved config (``fixed`` and the profile included), for a notebook its path,
    base config and every parameter. A changed ``fixed:`` or two values with one slug
    (``'a b.csv'``, ``'a_b.csv'``) never share a cell."""
    parts = []
    for k, v in params.items():
        value = "+".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
        parts.append(f"{k}={value}")
    readable = re.sub(r"[^A-Za-z0-9=+._-]+", "_", "__".join(parts))[:160]
    if spec.target == "compare":
        digest = config_hash(load_config(spec.config, _overrides(spec, Cell("", params))))
    else:
        digest = content_hash({"target": Path(spec.target).name, "config": spec.config, **spec.fixed, **params})
    return f"{readable}-{digest[:10]}"


def _cells(spec: SweepSpec) -> list[Cell]:
    if spec.cells:
        return [Cell(_cell_id(spec, c), dict(c)) for c in spec.cells]
    keys = list(spec.grid)
    return [
        Cell(_cell_id(spec, dict(zip(keys, combo))), dict(zip(keys, combo)))
        for combo in itertools.product(*(spec.grid[k] for k in keys))
    ]


def _yaml_value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text[: -len("\n...")] if text.endswith("\n...") else text  # scalars end with a document marker


def _overrides(spec: SweepSpec, cell: Cell) -> dict[str, Any]:
    return {key_of_param(name): value for name, value in {**spec.fixed, **cell.params}.items()}


def results_dir_of(spec: SweepSpec, cell_dir: Path) -> Path:
    """Where a cell's run folder (``metrics.json`` and the rest) goes: the cell folder itself for
    ``compare``; for a notebook ``<cell>/results``, beside the parameters and the executed notebook
    (a run folder is replaced whole when saved, so it holds nothing else)."""
    return cell_dir if spec.target == "compare" else cell_dir / "results"


def _command(spec: SweepSpec, cell: Cell, cell_dir: Path) -> list[str]:
    params = {**spec.fixed, **cell.params}
    if spec.target == "compare":
        cmd = [sys.executable, "-m", "simcse_lab.cli", "compare", spec.config, "--run-dir", str(cell_dir), "-q"]
        for key, value in _overrides(spec, cell).items():
            cmd += ["--set", f"{key}={_yaml_value(value)}"]
        return cmd
    param_file = cell_dir / "params.yaml"
    param_file.write_text(
        yaml.safe_dump(
            {"config": spec.config, "results_dir": str(results_dir_of(spec, cell_dir).resolve()), **params},
            sort_keys=False,
        )
    )
    out_nb = cell_dir / Path(spec.target).name
    # notebooks resolve their default paths (../data, results/) from their own folder
    return [
        sys.executable,
        "-m",
        "papermill",
        str(Path(spec.target).resolve()),
        str(out_nb.resolve()),
        "-f",
        str(param_file.resolve()),
        "--cwd",
        str(Path(spec.target).resolve().parent),
        "--log-level",
        "WARNING",
    ]


def _run_cell(spec: SweepSpec, cell: Cell, cell_dir: Path) -> tuple[bool, str]:
    """Run one cell; (finished, its log or the error it ended with, last line = the reason)."""
    if spec.in_process:
        from .experiment import run

        try:
            run(load_config(spec.config, _overrides(spec, cell))).save(cell_dir)
        except Exception as exc:  # a failing cell is recorded, the sweep goes on
            logger.debug("cell %s", cell.cell_id, exc_info=True)
            return False, f"{type(exc).__name__}: {exc}"
        return True, ""
    try:
        proc = subprocess.run(_command(spec, cell, cell_dir), capture_output=True, text=True, timeout=spec.timeout_s)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {spec.timeout_s}s"
    # the CLI ends a failure with one line, "simcse-lab: error: ..."; papermill with the exception
    return proc.returncode == 0, proc.stderr or proc.stdout


def _check_metric(spec: SweepSpec, table: pd.DataFrame, out: Path) -> None:
    """``metric`` and ``plot_quantities`` must be quantities the cells wrote (checked once a cell is
    complete; every cell's numbers are in ``results.csv`` by then)."""
    import difflib

    if table.empty:
        return
    written = sorted(set(table["quantity"]))
    for name in [spec.metric, *spec.plot_quantities]:
        if name not in written:
            near = difflib.get_close_matches(name, written, n=1)
            raise ValueError(
                f"sweep metric {name!r} is not a quantity the cells wrote"
                + (f" (did you mean {near[0]!r}?)" if near else f" ({', '.join(written[:12])}, ...)")
                + f"; every cell's numbers are kept in {out / 'results.csv'}"
            )


def run_sweep(spec: SweepSpec | str | Path) -> SweepResult:
    """Run every cell not yet complete, then aggregate all complete cells."""
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    else:
        _validate(spec)
    out = check_writable_folder(spec.output_dir, "sweep output_dir")
    record = {k: v for k, v in spec.__dict__.items() if not (k == "grid" and spec.cells)}
    (out / "sweep.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
    cells = _cells(spec)
    rows: list[dict[str, Any]] = []

    for i, cell in enumerate(cells, 1):
        cell_dir = out / cell.cell_id
        done = results_dir_of(spec, cell_dir) / "metrics.json"
        if done.is_file():
            cell.status = "skipped"
        else:
            cell_dir.mkdir(parents=True, exist_ok=True)
            for stale in ("error.txt", "run.log"):  # the sweep's own notes from a failed try
                (cell_dir / stale).unlink(missing_ok=True)
            logger.info("[%d/%d] %s", i, len(cells), cell.cell_id)
            t0 = time.perf_counter()
            ok, detail = _run_cell(spec, cell, cell_dir)
            cell.seconds = round(time.perf_counter() - t0, 1)
            (cell_dir / "run.log").write_text(detail or "")
            if ok and done.is_file():
                cell.status = "done"
            else:
                cell.status = "failed"
                lines = [ln for ln in (detail or "").splitlines() if ln.strip()]
                cell.error = (lines or ["no output"])[-1][:500]
                (cell_dir / "error.txt").write_text(cell.error + "\n")
                logger.warning("cell %s failed: %s", cell.cell_id, cell.error)
        if done.is_file():
            rows.extend(sweep_rows(cell.params, cell.cell_id, json.loads(done.read_text())))
    table = pd.DataFrame(rows)
    to_csv(table, out / "results.csv")
    _check_metric(spec, table, out)
    summary = summarize(table, list(spec.grid), spec.metric)
    to_csv(summary, out / "summary.csv")
    status = pd.DataFrame(
        [{"cell": c.cell_id, "status": c.status, "seconds": c.seconds, "error": c.error} for c in cells]
    )
    to_csv(status, out / "cells.csv")
    md = [f"# sweep {out.name}: {spec.metric} (mean ± std over seeds)", ""]
    md += [summary.to_markdown(index=False, floatfmt=".3f") if not summary.empty else "(no complete cell)", ""]
    md += ["## cells", "", status.to_markdown(index=False), ""]
    (out / "summary.md").write_text("\n".join(md))
    save_sweep_plot(
        table,
        summary,
        out / "summary.png",
        grid_keys=list(spec.grid),
        metric=spec.metric,
        plot_x=spec.plot_x,
        plot_quantities=spec.plot_quantities,
    )
    return SweepResult(cells=cells, table=table, summary=summary, output_dir=out)
