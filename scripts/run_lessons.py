"""Execute the lessons with papermill and keep the executed copies for the docs site.

Each ``notebooks/NN_*.ipynb`` runs top to bottom with its own default parameters (what a learner
gets with "Restart & Run All"), in ``notebooks/`` as its working folder, sharing ``data/`` (the
caches: models trained by one lesson are reused by the next) and writing its run folder under
``notebooks/results/``. The executed copy, outputs included, goes to ``docs/lessons/``, where
``make docs`` renders it; papermill records each cell's and the whole run's duration in it, and
``docs/lessons/index.md`` shows those (``scripts/docs_tables.py``).

    python scripts/run_lessons.py                 # all eight
    python scripts/run_lessons.py 01 02           # some
    python scripts/run_lessons.py 07 -p metrics_n_seeds 2   # with a parameter changed
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "docs" / "lessons"


def main(argv: list[str] | None = None) -> int:
    import papermill as pm

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("lessons", nargs="*", help="lesson numbers (default: all)")
    p.add_argument(
        "-p",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter for every lesson run (VALUE read as YAML)",
    )
    args = p.parse_args(argv)
    params = {k: yaml.safe_load(v) for k, v in args.p}
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.lessons:
        paths = [q for q in paths if q.name[:2] in {n.zfill(2) for n in args.lessons}]
        if not paths:
            raise SystemExit(f"no lesson numbered {args.lessons}")
    OUT.mkdir(parents=True, exist_ok=True)
    for path in paths:
        t0 = time.perf_counter()
        print(f"{path.name} ...", flush=True)
        pm.execute_notebook(
            str(path),
            str(OUT / path.name),
            cwd=str(NOTEBOOKS),
            kernel_name="python3",
            parameters=params,
            progress_bar=False,
            log_output=False,
        )
        print(f"{path.name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
