import pandas as pd
import pytest
import yaml

from simcse_lab.sweep import load_sweep, run_sweep


def _spec(tmp_path, tiny_csv, **extra):
    spec = {
        "target": "compare",
        "config": "default",
        "output_dir": str(tmp_path / "sweep"),
        "fixed": {
            "corpus_source": str(tiny_csv),
            "data_dir": str(tmp_path / "data"),
            "models_encoders": ["tfidf-lsa"],
            "models_simcse_from": [],
            "cluster_spaces": ["raw"],
            "cluster_clusterers": ["kmeans"],
            "reduce_plot_2d": False,
            "metrics_n_alignment_texts": 0,
            "corpus_heldout": 0,
        },
        # 40 clusters cannot be made from 30 texts: exactly one of the four cells fails
        "grid": {"corpus_n_samples": [30, 60], "cluster_n_clusters": [3, 40]},
        **extra,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_grid_with_a_failing_cell(tmp_path, tiny_csv):
    path = _spec(tmp_path, tiny_csv)
    result = run_sweep(path)
    status = {c.cell_id: c.status for c in result.cells}
    assert sorted(status.values()) == ["done", "done", "done", "failed"]
    failed = result.failed[0]
    assert failed.params == {"corpus_n_samples": 30, "cluster_n_clusters": 40}
    assert "n_clusters" in failed.error
    assert (tmp_path / "sweep" / failed.cell_id / "error.txt").is_file()
    summary = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert len(summary) == 3 and summary["mean"].between(0, 1).all()
    assert (tmp_path / "sweep" / "summary.md").is_file() and (tmp_path / "sweep" / "summary.png").is_file()
    assert "failed" in (tmp_path / "sweep" / "summary.md").read_text()

    again = run_sweep(path)
    statuses = sorted(c.status for c in again.cells)
    assert statuses == ["failed", "skipped", "skipped", "skipped"]
    pd.testing.assert_frame_equal(again.summary, result.summary)

    # the same sweep with every cell in this process: same outcome, same numbers
    inproc_dir = tmp_path / "inproc"
    inproc_dir.mkdir()
    inproc = run_sweep(_spec(inproc_dir, tiny_csv, in_process=True))
    assert sorted(c.status for c in inproc.cells) == ["done", "done", "done", "failed"]
    assert "n_clusters" in inproc.failed[0].error
    pd.testing.assert_frame_equal(inproc.summary, result.summary)


def test_mean_and_spread_over_seeds():
    from simcse_lab.sweep import summarize

    table = pd.DataFrame(
        {
            "pooling": ["mean"] * 3 + ["cls"] * 3,
            "seed": [1, 2, 3] * 2,
            "model": "m",
            "setting": "kmeans/raw",
            "quantity": "v_measure",
            "value": [0.1, 0.2, 0.3, 0.5, 0.5, 0.5],
        }
    )
    s = summarize(table, ["pooling", "seed"], "v_measure").set_index("pooling")
    assert s.loc["mean", "mean"] == pytest.approx(0.2) and s.loc["mean", "std"] == pytest.approx(0.1)
    assert s.loc["cls", "std"] == 0 and s.loc["cls", "count"] == 3


def test_bad_sweep_files(tmp_path, tiny_csv):
    with pytest.raises(FileNotFoundError):
        load_sweep(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"grid": {"corpus_nsamples": [1, 2]}}))
    with pytest.raises(
        ValueError, match="unknown parameter 'corpus_nsamples' \\(did you mean 'corpus_n_samples'\\?\\)"
    ):
        load_sweep(bad)
    bad.write_text(yaml.safe_dump({"grid": {}}))
    with pytest.raises(ValueError, match="non-empty lists"):
        load_sweep(bad)
    bad.write_text(yaml.safe_dump({"grid": {"seed": [1]}, "colour": "red"}))
    with pytest.raises(ValueError, match="unknown sweep key"):
        load_sweep(bad)
    bad.write_text(yaml.safe_dump({"grid": {"seed": [1, 2]}, "plot_x": "train_batch_size"}))
    with pytest.raises(ValueError, match="plot_x 'train_batch_size' is not a grid key"):
        load_sweep(bad)
    bad.write_text(yaml.safe_dump({"target": str(tiny_csv), "grid": {"seed": [1]}, "in_process": True}))
    with pytest.raises(ValueError, match="in_process: true needs target: compare"):
        load_sweep(bad)


def test_explicit_cells_instead_of_a_grid(tmp_path):
    from simcse_lab.sweep import _cells

    path = tmp_path / "cells.yaml"
    cells = [
        {"train_learning_rate": 1e-5, "train_batch_size": 16},
        {"train_learning_rate": 3e-5, "train_batch_size": 64},
    ]
    path.write_text(yaml.safe_dump({"cells": cells}))
    spec = load_sweep(path)
    assert [c.params for c in _cells(spec)] == cells  # exactly these, not their 4 combinations
    assert spec.grid == {"train_learning_rate": [1e-5, 3e-5], "train_batch_size": [16, 64]}
    path.write_text(yaml.safe_dump({"cells": cells, "grid": {"seed": [1]}}))
    with pytest.raises(ValueError, match="either 'grid' or 'cells'"):
        load_sweep(path)
    path.write_text(yaml.safe_dump({"cells": [{"seed": 1}, {"train_batch_size": 16}]}))
    with pytest.raises(ValueError, match="same parameter names"):
        load_sweep(path)


@pytest.mark.slow
def test_notebook_cells_keep_their_notebook_beside_the_run_folder(tmp_path, tiny_csv):
    """A notebook cell's parameters and executed notebook stay in the cell folder; the run folder
    the notebook saves (replaced whole on saving) is ``<cell>/results``."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = {
        "target": str(root / "notebooks" / "02_baseline.ipynb"),
        "config": "default",
        "output_dir": str(tmp_path / "nb-sweep"),
        "fixed": {
            "corpus_source": str(tiny_csv),
            "data_dir": str(tmp_path / "data"),
            "models_encoders": ["tfidf-lsa"],
            "cluster_spaces": ["raw"],
            "reduce_plot_2d": False,
            "metrics_sts_splits": [],
            "metrics_n_alignment_texts": 0,
            "corpus_drop_labels": [],
        },
        "grid": {"corpus_n_samples": [45, 60]},
    }
    path = tmp_path / "nb.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = run_sweep(path)
    assert [c.status for c in result.cells] == ["done", "done"], [c.error for c in result.cells]
    for cell in result.cells:
        cell_dir = tmp_path / "nb-sweep" / cell.cell_id
        assert (cell_dir / "02_baseline.ipynb").is_file() and (cell_dir / "params.yaml").is_file()
        assert (cell_dir / "results" / "metrics.json").is_file() and (cell_dir / "results" / "report.html").is_file()
    assert [c.status for c in run_sweep(path).cells] == ["skipped", "skipped"]


def test_a_cell_is_identified_by_its_resolved_request(tmp_path, tiny_csv):
    """A changed ``fixed:`` section, or two grid values that slug alike, never share a cell."""
    from simcse_lab.sweep import _cells

    path = _spec(tmp_path, tiny_csv)
    before = [c.cell_id for c in _cells(load_sweep(path))]
    spec = yaml.safe_load(path.read_text())
    spec["fixed"]["cluster_clusterers"] = ["kmeans", "hdbscan"]
    path.write_text(yaml.safe_dump(spec))
    after = [c.cell_id for c in _cells(load_sweep(path))]
    assert len(set(after)) == 4 and not set(after) & set(before)
    a, b = tmp_path / "reviews 2023.csv", tmp_path / "reviews_2023.csv"
    for f in (a, b):
        f.write_bytes(tiny_csv.read_bytes())
    spec["grid"] = {"corpus_source": [str(a), str(b)]}
    path.write_text(yaml.safe_dump(spec))
    ids = [c.cell_id for c in _cells(load_sweep(path))]
    assert len(set(ids)) == 2 and ids[0].split("-")[:-1] == ids[1].split("-")[:-1]  # one slug, two hashes


def test_notebook_sweep_with_a_misspelt_parameter_is_refused(tmp_path):
    from pathlib import Path

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "02_baseline.ipynb"
    path = tmp_path / "nb.yaml"
    path.write_text(yaml.safe_dump({"target": str(nb), "grid": {"corpus_n_sampels": [30, 90]}}))
    with pytest.raises(ValueError, match="unknown parameter 'corpus_n_sampels' \\(did you mean 'corpus_n_samples'"):
        load_sweep(path)


@pytest.mark.slow
def test_a_metric_no_cell_wrote_is_an_error_that_keeps_the_results(tmp_path, tiny_csv):
    path = _spec(tmp_path, tiny_csv, metric="vmeasure", grid={"seed": [1]})
    with pytest.raises(ValueError, match="sweep metric 'vmeasure' is not a quantity the cells wrote \\(did you mean"):
        run_sweep(path)
    assert (tmp_path / "sweep" / "results.csv").is_file()
