"""Every notebook runs top to bottom under papermill on tiny parameters and writes results we can check."""

import ast
import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_are_thin_and_parameterised():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, path.name
        for node in ast.parse(params[0].source).body:
            assert isinstance(node, (ast.Assign, ast.AnnAssign)), f"{path.name}: parameters cell holds only literals"
            assert ast.literal_eval(node.value) is not None or True
        for cell in nb.cells:
            if cell.cell_type == "code":
                tree = ast.parse(cell.source)
                defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
                assert not defs, f"{path.name} defines functions; logic belongs in simcse_lab"
                assert not cell.get("outputs"), f"{path.name} is committed with outputs"
        lines = params[0].source.splitlines()
        assert all("#" in ln for ln in lines if ln.strip()), f"{path.name}: every parameter has a comment"


def test_lessons_share_one_set_up_call_and_teach():
    """One set-up call instead of a copied cell; prose around every step; findings written from the
    numbers the lesson computed (a cell that builds Markdown from them), not typed once."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
        assert "cfg = start_lesson(globals())" in code[0].source, path.name
        assert not any("from_params" in c.source or "basicConfig" in c.source for c in code), path.name
        assert any("Markdown(" in c.source and "{" in c.source for c in code), f"{path.name} states no finding"
        prose = sum(len(c.source) for c in nb.cells if c.cell_type == "markdown")
        assert prose >= 2000, f"{path.name}: {prose} characters of explanation"


def _run(name, tmp_path, **params):
    import papermill as pm

    results = tmp_path / "results" / name
    out = tmp_path / f"{name}.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / f"{name}.ipynb"),
        str(out),
        cwd=str(ROOT / "notebooks"),
        kernel_name="python3",
        parameters={
            "data_dir": str(tmp_path / "data"),
            "runs_dir": str(tmp_path / "runs"),
            "results_dir": str(results),
            **params,
        },
        progress_bar=False,
    )
    return json.loads((results / "metrics.json").read_text()), results


@pytest.fixture
def base(tiny_csv):
    return {"corpus_source": str(tiny_csv), "reduce_n_neighbors": 10, "encode_show_progress": False}


@pytest.mark.slow
def test_01_corpus_with_papermill_cli_and_config_style_params_file(tmp_path, base):
    """`papermill -f params.yaml` with a file written like a config file (sections) works too."""
    import subprocess
    import sys

    import yaml

    results = tmp_path / "results" / "01"
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "results_dir": str(results),
                "corpus": {"source": base["corpus_source"], "n_samples": 30},
            }
        )
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(ROOT / "notebooks" / "01_corpus.ipynb"),
            str(tmp_path / "01.ipynb"),
            "-f",
            str(params),
            "-p",
            "seed",
            "3",
            "--cwd",
            str(ROOT / "notebooks"),
            "--log-level",
            "WARNING",
        ],
        check=True,
        capture_output=True,
    )
    metrics = json.loads((results / "metrics.json").read_text())
    assert metrics["n_texts"] == 30 and metrics["levels"]["Cat1"]["counts"] == {"toys": 10, "food": 10, "pets": 10}
    assert (tmp_path / "01.ipynb").is_file()


@pytest.mark.slow
def test_01_corpus(tmp_path, base):
    metrics, results = _run("01_corpus", tmp_path, **base)
    assert metrics["n_texts"] == 60
    assert metrics["levels"]["Cat1"]["n_classes"] == 3
    assert metrics["hierarchy"]["toys"] == ["games", "puzzles"]
    assert (results / "class_counts.png").is_file() and (results / "text_lengths.png").is_file()


@pytest.mark.slow
def test_02_baseline(tmp_path, base, tiny_checkpoint):
    metrics, results = _run(
        "02_baseline", tmp_path, models_encoders=[str(tiny_checkpoint)], encode_max_seq_length=16, **base
    )
    (model,) = metrics["models"]
    assert set(metrics["models"][model]) >= {"kmeans/raw", "kmeans/umap", "hdbscan/umap", "geometry"}
    assert 0 <= metrics["models"][model]["kmeans/umap"]["v_measure"] <= 1
    assert (results / "report.html").is_file()


@pytest.mark.slow
def test_03_train_simcse(tmp_path, base, tiny_checkpoint):
    metrics, results = _run(
        "03_train_simcse",
        tmp_path,
        models_simcse_from=[str(tiny_checkpoint)],
        train_epochs=1.0,
        train_batch_size=8,
        train_max_seq_length=16,
        encode_max_seq_length=16,
        n_demo_texts=4,
        **base,
    )
    assert metrics["dropout"]["eval_mode_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert metrics["dropout"]["train_mode_cosine"] < 1.0
    assert metrics["infonce_loss_demo_batch"] > 0
    assert metrics["train"]["global_step"] == 8
    assert Path(metrics["model_dir"], "modules.json").is_file()
    assert (results / "similarity_matrix.png").is_file() and (results / "training_loss.png").is_file()


@pytest.mark.slow
def test_04_supervised(tmp_path, base, tiny_checkpoint):
    metrics, _ = _run(
        "04_supervised", tmp_path, models_encoders=["tfidf-lsa", str(tiny_checkpoint)], encode_max_seq_length=16, **base
    )
    assert set(metrics["models"]) == {"tfidf-lsa", str(tiny_checkpoint)}


@pytest.mark.slow
def test_05_comparison(tmp_path, base, tiny_checkpoint):
    metrics, results = _run(
        "05_comparison",
        tmp_path,
        models_encoders=["tfidf-lsa"],
        models_simcse_from=[str(tiny_checkpoint)],
        train_epochs=1.0,
        train_batch_size=8,
        train_max_seq_length=16,
        encode_max_seq_length=16,
        metrics_n_alignment_texts=20,
        **base,
    )
    assert set(metrics["models"]) == {"tfidf-lsa", f"simcse({tiny_checkpoint})"}
    assert metrics["models"]["tfidf-lsa"]["kmeans/raw"]["v_measure"] > 0.9
    assert (results / "figures" / "v_measure.png").is_file()
    assert (results / "figures" / "tfidf-lsa.html").is_file()  # interactive view with text on hover


@pytest.mark.slow
def test_06_when_simcse_helps(tmp_path, base, tiny_checkpoint):
    metrics, results = _run(
        "06_when_simcse_helps",
        tmp_path,
        models_simcse_from=["mlm", str(tiny_checkpoint)],
        pretrain_tokenizer=str(tiny_checkpoint),
        pretrain_hidden_size=32,
        pretrain_num_layers=2,
        pretrain_num_heads=2,
        pretrain_max_steps=4,
        pretrain_batch_size=16,
        pretrain_max_seq_length=16,
        train_epochs=1.0,
        train_batch_size=8,
        train_max_seq_length=16,
        encode_max_seq_length=16,
        train_eval_steps=2,
        train_eval_n_texts=20,
        metrics_sts_splits=[],
        metrics_n_alignment_texts=10,
        **base,
    )
    assert set(metrics["models"]) == {"mlm", str(tiny_checkpoint), "simcse(mlm)", f"simcse({tiny_checkpoint})"}
    import pandas as pd

    curves = pd.read_csv(results / "curves.csv")
    assert set(curves["model"]) == {"mlm", str(tiny_checkpoint)}
    assert (curves.groupby("model")["step"].min() == 0).all()  # the untouched model is step 0
    assert curves["v_measure"].between(0, 1).all() and set(curves["kept"]) <= {"trained", "base"}
    assert (results / "figures" / "training_curves.png").is_file()


@pytest.mark.slow
def test_07_methods_that_help(tmp_path, base, tiny_checkpoint):
    ckpt = str(tiny_checkpoint)
    metrics, results = _run(
        "07_methods_that_help",
        tmp_path,
        corpus_half="test",
        corpus_n_samples=None,
        corpus_heldout=0.5,
        models_encoders=[ckpt, f"neighbours({ckpt})"],
        models_simcse_from=[],
        metrics_n_seeds=2,
        baseline=ckpt,
        train_epochs=1.0,
        train_batch_size=8,
        train_max_seq_length=16,
        train_learning_rate=1e-3,
        encode_max_seq_length=16,
        encode_backend="torch",
        metrics_sts_splits=[],
        metrics_n_alignment_texts=10,
        **base,
    )
    assert set(metrics["models"]) == {ckpt, f"neighbours({ckpt})"} and metrics["n_texts"] == 15
    import pandas as pd

    paired = pd.read_csv(results / "paired.csv")
    assert (
        set(paired["setting"]) == {"kmeans/raw", "hdbscan/umap", "hdbscan-hard/umap"} and (paired["n_seeds"] == 2).all()
    )
    base_rows = paired[paired["model"] == ckpt]
    assert (base_rows["diff"] == 0).all()  # the baseline paired with itself
    assert (results / "figures" / "paired_differences.png").is_file()


@pytest.mark.slow
def test_08_without_labels(tmp_path, base, tiny_checkpoint):
    ckpt = str(tiny_checkpoint)
    metrics, results = _run(
        "08_without_labels",
        tmp_path,
        corpus_half="test",
        corpus_n_samples=None,
        corpus_heldout=0.5,
        corpus_drop_labels=[],
        models_encoders=[ckpt, f"selftrain({ckpt})"],
        models_simcse_from=[],
        metrics_n_seeds=2,
        baseline=ckpt,
        cluster_n_clusters="auto",
        train_epochs=1.0,
        train_batch_size=8,
        train_max_seq_length=16,
        train_learning_rate=1e-3,
        train_warmup_ratio=0.0,
        encode_max_seq_length=16,
        encode_backend="torch",
        metrics_sts_splits=[],
        metrics_n_alignment_texts=10,
        **base,
    )
    import pandas as pd

    agreement = pd.read_csv(results / "agreement.csv")
    assert set(agreement["model"]) == {f"selftrain({ckpt})"} and (agreement["n_seeds"] == 2).all()
    assert set(agreement["verdict"]) | set(agreement["lf_verdict"]) <= {"better", "worse", "unclear"}
    correlations = pd.read_csv(results / "correlations.csv")
    assert {"silhouette", "stability"} <= set(correlations["score"])
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["k_choice"] and all(c["criterion"] == "silhouette" for c in manifest["k_choice"].values())
    # the training k is read off the curve by cluster.train_k_rule, the scored KMeans' by cluster.k_rule
    rules = {name.endswith(" training"): c["rule"] for name, c in manifest["k_choice"].items()}
    assert rules == {True: "first-peak", False: "best"}
