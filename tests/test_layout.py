"""Rooms by pipeline stage: imports point down the stage order, no module imports itself back
through others, the public API stays light."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "simcse_lab"
#: the stage order docs/layout.md documents: a stage imports only core and the stages before it
STAGES = ("core", "corpus", "encoding", "clustering", "evaluation", "training", "reporting")
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


def _stage_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def test_every_import_points_down_the_stage_order():
    wrong = []
    for stage in STAGES:
        allowed = set(STAGES[: STAGES.index(stage) + 1])
        for path in (PKG / stage).rglob("*.py"):
            for name in _imports(path):
                target = _stage_of(name)
                if target is not None and target not in allowed:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name} ({stage} -> {target})")
    assert not wrong, "\n".join(wrong)


def _module_graph() -> dict[str, set[str]]:
    """Every simcse_lab module and the simcse_lab modules it imports (at any depth)."""
    modules = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(rel[:-1] if rel[-1] == "__init__" else rel)] = path
    graph = {}
    for name, path in modules.items():
        deps = set()
        for imported in _imports(path):
            while imported and imported not in modules:  # "from package import name": the package
                imported = imported.rsplit(".", 1)[0] if "." in imported else ""
            if imported and imported != name:
                deps.add(imported)
        graph[name] = deps
    return graph


def test_no_import_circles():
    from graphlib import CycleError, TopologicalSorter

    try:
        tuple(TopologicalSorter(_module_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from None


def test_the_circle_check_finds_a_circle():
    from graphlib import CycleError, TopologicalSorter

    graph = {**_module_graph(), "simcse_lab.clustering.choose_k": {"simcse_lab.clustering.clusterers.kmeans"}}
    graph["simcse_lab.clustering.clusterers.kmeans"] = {"simcse_lab.clustering.choose_k"}
    with pytest.raises(CycleError):
        tuple(TopologicalSorter(graph).static_order())


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


def test_the_tests_are_laid_out_as_the_package():
    """A stage's tests sit in the folder named after it; the front ends' tests at the top."""
    tests = ROOT / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders == set(STAGES), folders
    names = [p.name for p in tests.rglob("test_*.py")]
    assert len(names) == len(set(names)), "pytest imports test modules by their base name: keep them unique"
