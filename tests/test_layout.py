"""Rooms by pipeline stage: imports point down, modules stay small, the public API stays light."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "simcse_lab"
STAGES = ("core", "corpus", "encoding", "training", "clustering", "evaluation", "reporting")
TOP = ("experiment", "sweep", "cli", "lessons")


def _imports(path: Path) -> set[str]:
    """Absolute names of the simcse_lab modules a file imports (at any depth)."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    package = list(rel[:-1]) if rel[-1] != "__init__" else list(rel[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.add(name)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {n for n in out if n.startswith("simcse_lab")}


def test_no_stage_imports_the_orchestrator_or_its_front_ends():
    for stage in STAGES:
        for path in (PKG / stage).rglob("*.py"):
            bad = {n for n in _imports(path) if n.split(".")[1:2] and n.split(".")[1] in TOP}
            assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_core_imports_no_stage():
    for path in (PKG / "core").rglob("*.py"):
        bad = {n for n in _imports(path) if n.split(".")[1:2] and n.split(".")[1] in STAGES[1:]}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_no_module_over_300_lines():
    long = {str(p.relative_to(ROOT)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > 300}
    assert not long


def test_the_public_api_is_lazy():
    code = (
        "import sys, simcse_lab\n"
        "assert not [m for m in ('torch', 'sentence_transformers', 'umap', 'hdbscan', 'simcse_lab.experiment')"
        " if m in sys.modules]\n"
        "from simcse_lab import Result, compare, load_config, resolve, run\n"
        "assert callable(run) and callable(compare) and callable(resolve) and isinstance(Result, type)\n"
        "assert load_config('default').corpus.n_samples == 2000\n"
        "assert not [m for m in ('torch', 'sentence_transformers', 'umap', 'hdbscan') if m in sys.modules]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
