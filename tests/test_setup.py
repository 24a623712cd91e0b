"""The set-up the README promises stays true: two commands, one dependency list, no import side effects."""

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    assert python == "python=3.11"
    pip = next(d for d in deps if isinstance(d, dict))["pip"]
    editable = next(p for p in pip if p.startswith("-e"))
    extras = set(re.search(r"\[(.*)\]", editable).group(1).split(","))
    assert extras == set(_pyproject()["project"]["optional-dependencies"]) - GPU_ONLY
    torch_pin = next(p for p in pip if p.startswith("torch"))
    assert torch_pin in (ROOT / "Makefile").read_text()
    version = torch_pin.split("==")[1]
    torch_req = next(d for d in _pyproject()["project"]["dependencies"] if d.startswith("torch"))
    lo, hi = re.search(r">=([\d.]+),<([\d.]+)", torch_req).groups()
    as_tuple = lambda v: tuple(int(p) for p in v.split("."))  # noqa: E731
    assert as_tuple(lo) <= as_tuple(version) < as_tuple(hi)


# RAPIDS cuML needs a CUDA GPU: `pip install -e .[gpu]` by hand on such a machine, never by make
GPU_ONLY = {"gpu"}


def test_makefile_installs_every_extra():
    extras = re.search(r"^EXTRAS\s*=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert set(extras.split(",")) == set(_pyproject()["project"]["optional-dependencies"]) - GPU_ONLY
    assert "ray" in extras.split(",")  # CI tests the Ray engine


def test_sentence_transformers_major_is_pinned():
    req = next(d for d in _pyproject()["project"]["dependencies"] if d.startswith("sentence-transformers"))
    assert ">=6" in req and "<7" in req


def test_readme_and_ci_use_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_import_has_no_side_effects(tmp_path):
    code = (
        "import logging, sys, warnings\n"
        "import numpy, pandas, yaml  # third-party imports may add filters of their own (pandas does)\n"
        "before = list(warnings.filters)\n"
        "import simcse_lab, simcse_lab.core.config, simcse_lab.core.assets, simcse_lab.corpus.load,"
        " simcse_lab.encoding.resolve, simcse_lab.encoding.encode, simcse_lab.training.simcse,"
        " simcse_lab.clustering.reduce, simcse_lab.clustering.clusterers, simcse_lab.evaluation.scores,"
        " simcse_lab.reporting.plots, simcse_lab.experiment, simcse_lab.cli\n"
        "assert not logging.getLogger().handlers, 'logging configured at import'\n"
        "assert warnings.filters == before, 'warning filters changed at import'\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'umap', 'hdbscan') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []
