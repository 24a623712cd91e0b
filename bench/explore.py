"""Benchmark: ``simcse-lab explore`` as a new user runs it, on an idle machine and beside a busy one.

    python bench/explore.py                      # 2,000 reviews, one seed: idle, then beside a busy loop
    python bench/explore.py --n 1000 --source 20newsgroups-train

Each variant runs the command in a fresh process with an empty cache folder, holding only what
``make install`` leaves (the encode backends' speed record; the corpus download is copied in, as a
user's own file would already be on disk), so every model is encoded, trained, projected and
clustered. **busy** runs the same command while the benchmark keeps one CPU-bound process (a
Python busy loop, started before and stopped after) on the machine, the way another job shares
it. The table gives each variant's wall time, the time per stage from the run's manifest, and the
V-measures and verdicts it printed, so that a speed-up that changes a result shows.

Writes ``<out>/explore-<source>-<n>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).with_name("simcse-lab")
BUSY = "while True: pass"


def _installed(data_dir: Path, into: Path) -> None:
    """What make install leaves in the cache folder (the speed record), and the downloads."""
    for record in (data_dir / "interim" / "onnx").glob("speed-*.json"):
        (into / "interim" / "onnx").mkdir(parents=True, exist_ok=True)
        shutil.copy2(record, into / "interim" / "onnx" / record.name)
    if (data_dir / "raw").is_dir():
        shutil.copytree(data_dir / "raw", into / "raw", symlinks=True)


def run_variant(name: str, args: argparse.Namespace, busy: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-explore-{name}-") as tmp:
        tmp = Path(tmp)
        _installed(ROOT / "data", tmp / "data")
        cmd = [
            str(BIN),
            "explore",
            args.source,
            "-q",
            "--set",
            f"corpus.n_samples={args.n}",
            "--set",
            f"data_dir={tmp / 'data'}",
            "--set",
            f"runs_dir={tmp / 'runs'}",
            "--set",
            "encode.show_progress=false",
        ]
        loop = subprocess.Popen([sys.executable, "-c", BUSY]) if busy else None
        try:
            if loop is not None:
                time.sleep(1.0)  # the busy process is running before the run starts, as another job would be
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
            wall = time.perf_counter() - t0
        finally:
            if loop is not None:
                loop.kill()
                loop.wait()
        if proc.returncode != 0:
            raise SystemExit(f"{name}: explore failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        (run_dir,) = [p for p in (tmp / "runs").iterdir() if p.is_dir() and not p.name.startswith(".")]
        manifest = json.loads((run_dir / "manifest.json").read_text())
        level = json.loads((run_dir / "metrics.json").read_text())["level"]
        verdicts = [line[2:] for line in proc.stdout.splitlines() if line.startswith("- ") and " against " in line]
        return {
            "variant": name,
            "busy_process": busy,
            "wall_seconds": round(wall, 1),
            "run_seconds": manifest["wall_seconds"],
            "threads": manifest["hardware"].get("torch_threads"),
            "stages": manifest["seconds_per_step"],
            "v_measure": _v_measures(run_dir / "results.csv", level),
            "verdicts": [v.split(". On ")[0] for v in verdicts],
        }


def _v_measures(results_csv: Path, level: str | None) -> dict[str, float]:
    from simcse_lab.reporting.spreadsheet import read_csv

    table = read_csv(results_csv)
    if not level:  # a corpus without labels: nothing to print
        return {}
    rows = table[table["level"] == level]
    return {f"{r.model} {r.clusterer}/{r.space}": round(float(r.v_measure), 3) for r in rows.itertuples()}


def _stage_groups(stages: dict[str, float]) -> dict[str, float]:
    groups: dict[str, float] = {}
    for step, seconds in stages.items():
        head = step.split(" ")[0]
        groups[head] = round(groups.get(head, 0.0) + seconds, 1)
    return dict(sorted(groups.items(), key=lambda kv: -kv[1]))


def markdown(result: dict) -> str:
    idle, busy = result["variants"]
    lines = [
        f"# explore on {result['n']} texts of {result['source']}, one seed, cold",
        "",
        f"Machine: {result['machine']}; Python {result['python']}.",
        "",
        "| | idle | beside one busy process |",
        "|---|---|---|",
        f"| wall time (s) | {idle['wall_seconds']:.0f} | {busy['wall_seconds']:.0f} |",
        f"| threads for encoding and clustering (training: every core) | {idle['threads']} | {busy['threads']} |",
        "",
        f"Beside the busy process the run took {busy['wall_seconds'] / idle['wall_seconds']:.2f}x its idle time.",
        "",
        "Stages (seconds, summed by kind):",
        "",
        f"- **idle**: {', '.join(f'{k} {v}' for k, v in _stage_groups(idle['stages']).items())}",
        f"- **busy**: {', '.join(f'{k} {v}' for k, v in _stage_groups(busy['stages']).items())}",
        "",
        "V-measure (labels passed only to print it) and the verdicts, idle / busy:",
        "",
    ]
    for key, value in idle["v_measure"].items():
        lines.append(f"- {key}: {value:.3f} / {busy['v_measure'].get(key, float('nan')):.3f}")
    for a, b in zip(idle["verdicts"], busy["verdicts"]):
        lines.append(f"- {a} / {b.split(': ', 1)[-1]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", default="ecommerce-reviews", help="bundled corpus name or file (default: the reviews)")
    p.add_argument("--n", type=int, default=2000, help="texts (corpus.n_samples)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    variants = [run_variant("idle", args, busy=False), run_variant("busy", args, busy=True)]
    from simcse_lab.core.runtime import cpu_name

    result = {
        "source": args.source,
        "n": args.n,
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "variants": variants,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"explore-{Path(args.source).stem}-{args.n}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
