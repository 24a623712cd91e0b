import json

import numpy as np
import pandas as pd
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


EVIL = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "'quoted", "<script>x</script>"]


def test_csv_cells_a_spreadsheet_would_run_are_guarded_and_read_back_as_written(tmp_path):
    from simcse_lab.reporting.spreadsheet import read_csv, to_csv

    table = pd.DataFrame({"text": [*EVIL, "plain"], "=level": "x", "score": [-0.5] * (len(EVIL) + 1)})
    to_csv(table, tmp_path / "t.csv")
    raw = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)  # what a spreadsheet is given
    assert all(cell.startswith("'") for cell in raw["text"][: len(EVIL) - 1]) and raw["text"].iloc[-1] == "plain"
    assert raw["text"].iloc[len(EVIL) - 1] == "<script>x</script>" and list(raw.columns)[1] == "'=level"
    assert (raw["score"] == -0.5).all()  # numbers stay numbers
    assert read_csv(tmp_path / "t.csv").equals(table)


def test_the_report_shows_cluster_texts_as_written_and_escaped(tmp_path):
    from simcse_lab.reporting.html import _clusters_section
    from simcse_lab.reporting.spreadsheet import to_csv

    clusters = pd.DataFrame(
        {
            "model": "m",
            "clusterer": "kmeans",
            "space": "raw",
            "cluster": range(len(EVIL)),
            "size": 1,
            "share": 0.1,
            "top_terms": "a, b",
            "text_1": EVIL,
        }
    )
    to_csv(clusters, tmp_path / "clusters.csv")
    page = "\n".join(_clusters_section(tmp_path / "clusters.csv"))
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>" not in page
    assert "=HYPERLINK(" in page and "'=HYPERLINK" not in page and "@SUM(A1)" in page
