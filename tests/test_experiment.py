import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from simcse_lab.core.config import (
    ExperimentConfig,
    from_dict,
    load_config,
    with_overrides,
)
from simcse_lab.experiment import compare, run, run_dir_for

pytestmark = pytest.mark.slow

TINY_TRAIN = {"train.epochs": 1, "train.batch_size": 8, "train.max_seq_length": 16, "train.learning_rate": 1e-3}


def tiny_config(tmp_path, tiny_csv, tiny_checkpoint, **extra) -> ExperimentConfig:
    return with_overrides(
        ExperimentConfig(),
        {
            "name": "tiny",
            "data_dir": str(tmp_path / "data"),
            "runs_dir": str(tmp_path / "runs"),
            "corpus.source": str(tiny_csv),
            "corpus.n_samples": None,
            "models.encoders": ["tfidf-lsa", str(tiny_checkpoint)],
            "models.simcse_from": [str(tiny_checkpoint)],
            "encode.max_seq_length": 16,
            "encode.show_progress": False,
            "reduce.n_neighbors": 10,
            "metrics.n_alignment_texts": 20,
            "metrics.sts_splits": [],
            "metrics.n_bootstrap": 20,
            **TINY_TRAIN,
            **extra,
        },
    )


def test_every_model_clusterer_space_and_level_is_scored(tmp_path, tiny_csv, tiny_checkpoint, monkeypatch):
    cfg = tiny_config(tmp_path, tiny_csv, tiny_checkpoint)
    result = run(cfg)
    t = result.table
    models = ["tfidf-lsa", str(tiny_checkpoint), f"simcse({tiny_checkpoint})"]
    assert list(t["model"].unique()) == models
    assert set(t["clusterer"]) == {"kmeans", "hdbscan", "hdbscan-hard"}
    assert set(t["space"]) == {"raw", "umap"} and set(t["level"]) == {"Cat1", "Cat2"}
    assert len(t) == 3 * 3 * 2 * 2
    assert t["v_measure"].between(0, 1).all()
    assert (t["v_measure_lo"] <= t["v_measure_hi"]).all() and (t["v_measure_std"] >= 0).all()
    kmeans = t[(t.clusterer == "kmeans") & (t.level == "Cat1")]
    # k = number of Cat1 classes (an untrained model may collapse points so KMeans finds fewer)
    assert (kmeans["n_clusters"] <= 3).all() and (kmeans[kmeans.model == "tfidf-lsa"]["n_clusters"] == 3).all()
    # TF-IDF separates the fixture's topic words perfectly
    assert kmeans[kmeans.model == "tfidf-lsa"]["v_measure"].max() > 0.9
    geo = result.model_metrics.set_index("model")
    assert np.isnan(geo.loc["tfidf-lsa", "alignment"])
    assert geo.loc[str(tiny_checkpoint), "alignment"] > 0  # dropout views differ

    run_dir = result.save(run_dir_for(cfg, result.corpus_fingerprint))
    for name in ("config.yaml", "manifest.json", "results.csv", "results.md", "metrics.json", "model_metrics.csv"):
        assert (run_dir / name).is_file(), name
    assert from_dict(yaml.safe_load((run_dir / "config.yaml").read_text())) == cfg
    assert pd.read_csv(run_dir / "results.csv").shape == t.shape
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["corpus"]["n_texts"] == 60 and "sentence-transformers" in manifest["versions"]
    assert any(k.startswith("train simcse") for k in manifest["seconds_per_step"])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["models"]) == set(models)
    figures = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    maps = [f for f in figures if f.endswith("__map.png")]  # one labelled map per model
    assert len(maps) == 3 and len(figures) == 3 + 4  # plus a panel figure per model and v_measure.png
    xy = np.load(run_dir / "arrays" / "tfidf-lsa__umap2d.npy", allow_pickle=False)
    assert xy.shape == (60, 2)

    # a rerun reuses the trained model, the cached embeddings, dropout views and UMAP projections:
    # it loads no model and fits no UMAP, and gives the same table
    log = next((tmp_path / "data" / "interim" / "models").glob("simcse-*/training_log.json"))
    stamp = log.stat().st_mtime_ns
    n_cached = len(list((tmp_path / "data" / "interim" / "embeddings").glob("*.npy")))

    def forbidden(*args, **kwargs):
        raise AssertionError("a warm rerun must not load a model or fit UMAP")

    monkeypatch.setattr("simcse_lab.encoding.resolve.load_located", forbidden)
    monkeypatch.setattr("simcse_lab.training.trainer.load_located", forbidden)
    monkeypatch.setattr("simcse_lab.clustering.reduce.UMAPReducer._fit", forbidden)
    again = run(cfg)
    assert log.stat().st_mtime_ns == stamp
    # one per model, plus the dropout views of the two neural ones
    assert len(list((tmp_path / "data" / "interim" / "embeddings").glob("*.npy"))) == n_cached == 3 + 2
    pd.testing.assert_frame_equal(again.table, t)


def test_seed_profile_code_path_with_local_stand_ins(tmp_path, tiny_csv, tiny_checkpoint):
    """The article's trio, with tiny local checkpoints standing in for the hub models."""
    from sentence_transformers import SentenceTransformer

    paraphrase = tmp_path / "paraphrase-stand-in"
    SentenceTransformer(str(tiny_checkpoint), device="cpu").save(str(paraphrase))
    seed = load_config("seed")
    cfg = with_overrides(
        seed,
        {
            "data_dir": str(tmp_path / "data"),
            "runs_dir": str(tmp_path / "runs"),
            "corpus.source": str(tiny_csv),
            "models.encoders": [str(tiny_checkpoint), str(paraphrase)],
            "models.simcse_from": [str(tiny_checkpoint)],
            "encode.max_seq_length": 16,
            "train.max_seq_length": 16,
            "encode.show_progress": False,
            "reduce.n_neighbors": 10,
            "metrics.n_alignment_texts": 0,
            "metrics.sts_splits": [],
        },
    )
    assert cfg.train.batch_size == 20 and cfg.train.epochs == 2  # the seed's settings are kept
    table = compare(cfg)
    assert table["model"].nunique() == 3
    log = json.loads(next((tmp_path / "data" / "interim" / "models").glob("simcse-*/training_log.json")).read_text())
    assert log["global_step"] == 6  # 60 texts / batch 20 x 2 epochs
    run_dir = Path(table["run_dir"].iloc[0])
    fingerprint = json.loads((run_dir / "manifest.json").read_text())["corpus"]["fingerprint"]
    assert run_dir == run_dir_for(cfg, fingerprint) and (run_dir / "results.md").is_file()


def test_an_unlabelled_corpus_is_scored_without_labels(tmp_path):
    txt = tmp_path / "t.txt"
    txt.write_text("\n".join(f"{w} line {i}" for i in range(20) for w in ("red wine", "green tea")))
    cfg = with_overrides(
        ExperimentConfig(),
        {
            "corpus.source": str(txt),
            "data_dir": str(tmp_path),
            "models.encoders": ["tfidf-lsa"],
            "models.simcse_from": [],
            "metrics.sts_splits": [],
            "cluster.spaces": ["raw"],
            "cluster.clusterers": ["kmeans"],
            "reduce.n_neighbors": 5,
        },
    )
    result = run(cfg)
    assert result.labels_true is None and result.level == "" and result.main_metric == "silhouette"
    (row,) = result.table.to_dict("records")
    assert row["level"] == "" and np.isnan(row["v_measure"]) and row["silhouette"] > 0.5
    assert result.manifest["k_choice"]["tfidf-lsa kmeans/raw"]["n_classes"] is None


def test_config_problems_are_caught_before_work(tmp_path):
    cfg = with_overrides(ExperimentConfig(), {"cluster.clusterers": ["kmeans", "spectral"], "data_dir": str(tmp_path)})
    with pytest.raises(
        ValueError, match=r"cluster.clusterers: unknown value 'spectral' \(allowed: kmeans, hdbscan, evoc\)"
    ):
        run(cfg)
    assert not (tmp_path / "raw").exists()


def test_seeds_repeat_the_comparison_and_report_their_spread(tmp_path, tiny_csv, tiny_checkpoint):
    cfg = tiny_config(
        tmp_path,
        tiny_csv,
        tiny_checkpoint,
        **{
            "models.encoders": ["tfidf-lsa"],
            "models.simcse_from": [],
            "metrics.n_seeds": 3,
            "corpus.n_samples": 45,
            "reduce.plot_2d": False,
            "cluster.spaces": ["raw"],
            "cluster.clusterers": ["kmeans"],
        },
    )
    result = run(cfg)
    assert sorted(result.table["seed"].unique()) == [42, 43, 44]
    assert len(result.table) == 3 * 2  # 3 seeds x 2 levels
    shown = result.summary_with_spread()
    assert "±" in shown.iloc[0, 0]
    mean = result.summary().iloc[0, 0]
    expected = result.table[result.table.level == "Cat1"]["v_measure"].mean()
    assert mean == pytest.approx(expected)
    run_dir = result.save(tmp_path / "run")
    headline = json.loads((run_dir / "metrics.json").read_text())
    assert headline["models"]["tfidf-lsa"]["kmeans/raw"]["v_measure"] == pytest.approx(expected)


def test_sts_columns_and_supervised_simcse_rows(tmp_path, tiny_csv, tiny_checkpoint, monkeypatch):
    """STS-B Spearman lands in model_metrics; supervised SimCSE trains from (stand-in) NLI triplets."""
    from simcse_lab.corpus import benchmarks as evalsets

    triplets = [
        (f"the {w} was great", f"a {w} was nice", f"the coffee was bad number {i}")
        for i, w in enumerate(["puzzle", "lego", "doll", "kite", "game", "blocks"] * 4)
    ]
    monkeypatch.setattr(evalsets, "load_nli_triplets", lambda *a, **k: triplets)
    cfg = tiny_config(
        tmp_path,
        tiny_csv,
        tiny_checkpoint,
        **{
            "models.encoders": ["tfidf-lsa"],
            "models.simcse_from": [],
            "models.supervised_simcse_from": [str(tiny_checkpoint)],
            "metrics.sts_splits": ["dev"],
            "reduce.plot_2d": False,
            "cluster.spaces": ["raw"],
            "cluster.clusterers": ["kmeans"],
        },
    )
    result = run(cfg)
    geo = result.model_metrics.set_index("model")
    assert geo.loc["tfidf-lsa", "sts_dev"] == pytest.approx(0.693, abs=0.01)  # measured: TF-IDF/LSA on STS-B dev
    assert f"sup-simcse({tiny_checkpoint})" in set(result.table["model"])
    log = json.loads(next((tmp_path / "data" / "interim" / "models").glob("supsimcse-*/training_log.json")).read_text())
    assert log["global_step"] == 3  # 24 triplets / batch 8


def test_offline_seed_design_with_an_mlm_pretrained_encoder(tmp_path, tiny_csv, tiny_checkpoint):
    """The `seed-offline` profile's code path: `mlm` is pretrained on the corpus, then SimCSE'd from."""
    cfg = with_overrides(
        load_config("seed-offline"),
        {
            "data_dir": str(tmp_path / "data"),
            "runs_dir": str(tmp_path / "runs"),
            "corpus.source": str(tiny_csv),
            "corpus.n_samples": 45,
            "models.encoders": ["mlm", "tfidf-lsa"],
            "pretrain.tokenizer": str(tiny_checkpoint),
            "pretrain.hidden_size": 32,
            "pretrain.num_layers": 2,
            "pretrain.num_heads": 2,
            "pretrain.max_steps": 6,
            "pretrain.batch_size": 16,
            "pretrain.max_seq_length": 16,
            "encode.max_seq_length": 16,
            "encode.show_progress": False,
            "reduce.n_neighbors": 10,
            "metrics.sts_splits": [],
            "metrics.n_alignment_texts": 10,
            "metrics.n_bootstrap": 0,
            **TINY_TRAIN,
        },
    )
    result = run(cfg)
    assert list(result.table["model"].unique()) == ["mlm", "tfidf-lsa", "simcse(mlm)"]
    (mlm_dir,) = (tmp_path / "data" / "interim" / "models").glob("mlm-*")
    log = json.loads((mlm_dir / "pretrain_log.json").read_text())
    assert log["global_step"] == 6
    assert yaml.safe_load((mlm_dir / "pretrain_config.yaml").read_text())["n_texts"] == 60  # all texts, not 45
    geo = result.model_metrics.set_index("model")
    assert geo.loc["simcse(mlm)", "mean_cosine"] < geo.loc["mlm", "mean_cosine"]  # SimCSE undoes anisotropy
