import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from simcse_lab.reporting.plots import (  # noqa: E402
    category_colors,
    plot_embedding_2d,
    plot_metric_bars,
)


def test_scatter_returns_axes_with_legend():
    ax = Figure().subplots()
    xy = np.random.default_rng(0).normal(size=(50, 2))
    labels = np.array(["a", "b"] * 25)
    out = plot_embedding_2d(xy, labels, ax=ax, title="t")
    assert out is ax and ax.get_title() == "t"
    assert len(ax.collections) == 1 and ax.get_legend() is not None


def test_large_clouds_go_through_datashader():
    ax = Figure().subplots()
    xy = np.random.default_rng(0).normal(size=(500, 2))
    plot_embedding_2d(xy, np.arange(500) % 3, ax=ax, datashader_threshold=100)
    assert len(ax.images) == 1 and len(ax.collections) == 0


def test_noise_is_grey_and_colours_are_stable():
    colors = category_colors([2, -1, 0, 1])
    assert colors[-1] == "#d9d9d9" and category_colors([0, 1, 2]) == {k: colors[k] for k in (0, 1, 2)}


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot_embedding_2d(np.zeros((5, 3)), ax=Figure().subplots())
    with pytest.raises(ValueError, match="3 labels for 5 points"):
        plot_embedding_2d(np.zeros((5, 2)), [1, 2, 3], ax=Figure().subplots())


def test_metric_bars():
    t = pd.DataFrame(
        {
            "model": ["a", "a", "b", "b"],
            "clusterer": ["kmeans"] * 4,
            "space": ["raw", "umap"] * 2,
            "v_measure": [0.1, 0.2, 0.3, 0.4],
        }
    )
    ax = plot_metric_bars(t, ax=Figure().subplots())
    assert len(ax.patches) == 4
    with pytest.raises(ValueError, match="no column 'ari'"):
        plot_metric_bars(t, metric="ari", ax=Figure().subplots())


def test_sweep_lines_one_per_model_and_other_grid_value():
    from simcse_lab.reporting.plots import plot_sweep_lines

    table = pd.DataFrame(
        {
            "steps": [100, 300, 100, 300] * 2,
            "width": [128, 128, 256, 256] * 2,
            "cell": "c",
            "model": ["mlm"] * 4 + ["simcse(mlm)"] * 4,
            "setting": "kmeans/raw",
            "quantity": "v_measure",
            "value": [0.01, 0.02, 0.015, 0.03, 0.01, 0.02, 0.02, 0.04],
        }
    )
    ax = plot_sweep_lines(table, x="steps", quantity="v_measure", grid_keys=["width", "steps"])
    assert len(ax.containers) == 4 and ax.get_xlabel() == "steps" and ax.get_ylim()[0] == 0
    labels = sorted(t.get_text() for t in ax.get_legend().get_texts())
    assert labels[0] == "width=128, mlm"


def test_sweep_bars_one_group_per_grid_point():
    from simcse_lab.reporting.plots import plot_sweep_bars

    summary = pd.DataFrame(
        {
            "pooling": ["mean", "cls"],
            "model": "m",
            "setting": "kmeans/raw",
            "mean": [0.2, 0.5],
            "std": [0.1, 0.0],
            "count": [3, 3],
        }
    )
    ax = plot_sweep_bars(summary, grid_keys=["pooling", "seed"], metric="v_measure")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mean", "cls"]
    assert [round(p.get_height(), 3) for p in ax.patches] == [0.2, 0.5]


class _OneClusterRun:
    """What the labelled maps read of a run: one model whose drawn clustering has a single cluster."""

    corpus_name = "tiny"

    def __init__(self, labels):
        self.projections = {"m": np.random.default_rng(0).normal(size=(len(labels), 2))}
        self.cluster_labels = {("m", "hdbscan", "umap"): labels}

    def _map_clustering(self, model):
        return model, "hdbscan", "umap"

    def cluster_terms(self, *key):
        return {0: "a, b"}


@pytest.mark.parametrize("labels", [np.zeros(30, int), np.r_[np.zeros(20, int), -np.ones(10, int)]])
def test_a_map_that_cannot_be_drawn_is_skipped_with_a_warning(tmp_path, caplog, labels):
    from simcse_lab.reporting.run_figures import _maps

    drawn = []
    _maps(_OneClusterRun(labels), lambda name, inputs, draw: drawn.append(draw(tmp_path / name)))
    assert not drawn and not list(tmp_path.iterdir())
    assert "labelled map of m skipped" in caplog.text and "hdbscan/umap" in caplog.text
