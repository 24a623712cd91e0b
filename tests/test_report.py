import json

import numpy as np
import pytest

from simcse_lab.reporting.html import build_html_report, interactive_umap, write_results


def test_write_results_marks_completion_last(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.subplots().plot([0, 1])
    out = write_results(tmp_path / "r", {"a": np.float32(0.5), "b": {"c": float("nan")}}, {"plot": fig})
    assert json.loads((out / "metrics.json").read_text()) == {"a": 0.5, "b": {"c": None}}
    assert (out / "plot.png").is_file() and not (out / "metrics.json.tmp").exists()


def test_interactive_view_has_text_on_hover(tmp_path):
    xy = np.random.default_rng(0).normal(size=(5, 2))
    texts = [f"review <{i}> about a dress" for i in range(5)]
    page = interactive_umap(xy, ["a", "b", "a", "b", "a"], texts, tmp_path / "v.html", title="t")
    html = page.read_text()
    assert "review &lt;3&gt; about a dress" in html or "review <3> about a dress" in html
    import re

    assert not re.search(r"<script[^>]*src=[\"']https?:", html)  # scripts are inline: opens offline, no server
    with pytest.raises(ValueError, match="must match"):
        interactive_umap(xy, ["a"] * 5, texts[:2], tmp_path / "w.html")


def test_report_needs_a_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        build_html_report(tmp_path)
