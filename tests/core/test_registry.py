"""A new method, clusterer or score is one registered thing: the schema, the table's columns, the
bootstrap and the scaling report pick it up from the registry, with nothing else to edit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from simcse_lab.core.registry import CLUSTERERS, METHODS, SCORES, Registry

TOY_PLUGIN = '''
"""A plugin as a user would write one: imports at the top are only the light registry pieces."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simcse_lab.clustering.clusterer import Clusterer
from simcse_lab.core.fields import setting
from simcse_lab.core.registry import CLUSTERERS, METHODS, SCORES


@dataclass(frozen=True)
class ToyConfig:
    """toy(base): the base model as it is, with a setting to prove the section reaches the method."""

    strength: float = setting(1.0, "how strongly nothing is done", gt=0)


@METHODS.register("toy", "a method that returns its base model untouched", section="toy", config=ToyConfig)
def train_toy(base, ctx, *, output_dir=None):
    from simcse_lab.training.lifecycle import TrainResult

    cfg = ctx.need_config(f"toy({base.spec})")
    Path(cfg.runs_dir).mkdir(parents=True, exist_ok=True)
    (Path(cfg.runs_dir) / "toy_strength.txt").write_text(str(cfg.toy.strength))
    return TrainResult(Path(base.target), {"strength": cfg.toy.strength})


@dataclass(frozen=True)
class HalvesConfig:
    """halves: split the texts at a quantile of the first coordinate."""

    quantile: float = setting(0.5, "where the split lies", gt=0, lt=1)


@CLUSTERERS.register("halves", "two clusters: above and below a quantile of the first coordinate", config=HalvesConfig)
@dataclass
class Halves(Clusterer):
    quantile: float = 0.5

    @classmethod
    def from_config(cls, cfg, *, n_samples, n_classes, seed=42, backend="cpu"):
        return cls(cfg.halves.quantile)

    @classmethod
    def describe_fit(cls, cfg, n, backend):
        return f"split of {n} at quantile {cfg.halves.quantile}"

    def fit_predict(self, x):
        first = np.asarray(x)[:, 0]
        return (first > np.quantile(first, self.quantile)).astype(np.int64)


@SCORES.register("purity", "share of texts in their cluster's majority class", spread=True)
def purity(c):
    total = 0
    for k in np.unique(c.labels_pred):
        _, counts = np.unique(c.labels_true[c.labels_pred == k], return_counts=True)
        total += counts.max()
    return total / len(c.labels_pred)
'''


def test_registries_list_the_built_in_entries_in_order():
    assert METHODS.names()[:3] == ("simcse", "sup-simcse", "neighbours")
    assert {"kmeans", "hdbscan"} <= set(CLUSTERERS.names())
    assert SCORES.names()[:2] == ("v_measure", "homogeneity")
    assert SCORES["v_measure"].meta.spread is True
    assert CLUSTERERS["hdbscan"].meta.density and CLUSTERERS["hdbscan"].meta.config.__name__ == "HDBSCANConfig"


def test_unknown_names_and_double_registration_are_clear_errors():
    reg: Registry = Registry("widget", "simcse_lab.evaluation.scores")
    reg.register("round", "a round widget")(len)
    with pytest.raises(ValueError, match=r"unknown widget 'rund' \(did you mean 'round'\?\); allowed: round"):
        reg["rund"]
    with pytest.raises(ValueError, match="widget 'round' is registered twice"):
        reg.register("round", "another")(sum)
    # what an entry carries is a typed record: a misspelt keyword fails where it is written
    with pytest.raises(ValueError, match=r"score 'purity' is registered with unknown keyword\(s\) \['needs_label'\]"):
        SCORES.register("purity", "share of the majority class", needs_label=False)
    assert SCORES["silhouette"].meta.needs_labels is False and SCORES["v_measure"].meta.needs_labels is True


def test_a_clusterer_that_does_not_derive_from_the_base_is_refused_in_one_line():
    from simcse_lab.clustering.clusterers import make_clusterer

    CLUSTERERS.register("bare", "no base class")(type("Bare", (), {}))
    try:
        with pytest.raises(
            TypeError, match="clusterer 'bare' .* must derive from simcse_lab.clustering.clusterer.Clusterer"
        ):
            make_clusterer("bare", None, n_samples=10, n_classes=None)
    finally:
        CLUSTERERS._entries.pop("bare")


def test_a_toy_method_clusterer_and_score_from_a_plugin_reach_the_comparison_table(tmp_path, tiny_csv, tiny_checkpoint):
    (tmp_path / "toy_plugin.py").write_text(TOY_PLUGIN)
    config = {
        "name": "toy",
        "data_dir": str(tmp_path / "data"),
        "runs_dir": str(tmp_path / "runs"),
        "corpus": {"source": str(tiny_csv), "n_samples": None},
        "models": {"encoders": [str(tiny_checkpoint), f"toy({tiny_checkpoint})"], "simcse_from": []},
        "toy": {"strength": 2.5},
        "encode": {"max_seq_length": 16, "show_progress": False, "backend": "torch"},
        "reduce": {"plot_2d": False},
        "cluster": {"clusterers": ["kmeans", "halves"], "spaces": ["raw"], "halves": {"quantile": 0.4}},
        "metrics": {"n_alignment_texts": 0, "sts_splits": [], "n_bootstrap": 5},
    }
    (tmp_path / "toy.yaml").write_text(json.dumps(config))
    env = {
        **os.environ,
        "SIMCSE_LAB_PLUGINS": "toy_plugin",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    code = textwrap.dedent("""
        import sys
        from simcse_lab.cli import main
        sys.exit(main(["config", "--keys"]) or main(["compare", "-q", sys.argv[1]]))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "toy.yaml")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "toy.strength" in proc.stdout  # the method's section is part of the config schema
    assert "cluster.halves.quantile" in proc.stdout  # and so is the clusterer's
    assert (tmp_path / "runs" / "toy_strength.txt").read_text() == "2.5"  # and reaches the method
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
    table = pd.read_csv(run_dir / "results.csv")
    assert {"purity", "purity_std", "purity_lo", "purity_hi"} <= set(table.columns)  # score + its spread
    assert set(table["clusterer"]) == {"kmeans", "halves"}
    assert set(table["model"]) == {str(tiny_checkpoint), f"toy({tiny_checkpoint})"}
    main = table[table["level"] == "Cat1"].set_index(["model", "clusterer"])
    # the toy method returns its base unchanged: the same vectors, the same scores
    assert (
        main.loc[(f"toy({tiny_checkpoint})", "halves"), "purity"]
        == main.loc[(str(tiny_checkpoint), "halves"), "purity"]
    )
    assert main["purity"].between(1 / 3, 1).all()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["scaling"]["halves_fit"] == f"split of {len(pd.read_csv(tiny_csv))} at quantile 0.4"


def test_a_plugin_that_cannot_be_imported_is_one_line_and_help_still_works(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "SIMCSE_LAB_PLUGINS": "no_such_plugin_module"}
    cli = [sys.executable, "-m", "simcse_lab.cli"]
    shown = subprocess.run([*cli, "--help"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert shown.returncode == 0 and "usage: simcse-lab" in shown.stdout and not shown.stderr
    ran = subprocess.run([*cli, "config", "default"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert ran.returncode == 2 and ran.stderr.strip().splitlines() == [
        "simcse-lab: error: $SIMCSE_LAB_PLUGINS names the plugin module 'no_such_plugin_module', which cannot be"
        " imported (No module named 'no_such_plugin_module')"
    ]
