"""Texts without labels: label-free scores, k chosen without labels, readable clusters, the
label-free verdict on training, and `simcse-lab explore`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simcse_lab.core.config import load_config, validate
from simcse_lab.evaluation.granularity import fine_k
from simcse_lab.evaluation.scoring import assess, k_criterion, label_free_scores

DATA = Path(__file__).resolve().parents[2] / "data"  # the repository's caches, shared with the other tests


def _blobs(n_per=40, k=4, dim=8, spread=0.15, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:k] * 2
    x = np.concatenate([rng.normal(0, spread, (n_per, dim)) + c for c in centres])
    return x, np.repeat(np.arange(k), n_per)


def test_label_free_scores_need_no_labels_and_prefer_the_true_clusters():
    x, y = _blobs()
    shuffled = np.random.default_rng(1).permutation(y)
    from simcse_lab.clustering.clusterers import KMeansClusterer

    def refit(rows, seed):
        return KMeansClusterer(n_clusters=4, random_state=seed).fit_predict(x[rows])

    ((level, good),) = assess(y, {}, x=x, refit=refit, n_bootstrap=20)
    ((_, bad),) = assess(shuffled, {}, x=x, n_bootstrap=20)
    assert level == "" and np.isnan(good["v_measure"])
    assert {"silhouette", "davies_bouldin", "calinski_harabasz", "stability"} <= set(label_free_scores())
    assert good["silhouette"] > 0.5 > bad["silhouette"]
    assert good["davies_bouldin"] < bad["davies_bouldin"]
    assert good["calinski_harabasz"] > bad["calinski_harabasz"]
    assert good["stability"] == pytest.approx(1.0)
    assert good["silhouette_lo"] <= good["silhouette"] <= good["silhouette_hi"]
    assert np.isnan(good["dbcv"])  # only for density clusterings
    ((_, dens),) = assess(y, {}, x=x, density=True)
    assert dens["dbcv"] > 0


def test_with_labels_every_level_gets_the_same_label_free_scores():
    x, y = _blobs()
    rows = assess(y, {"A": y, "B": y % 2}, x=x)
    assert [lvl for lvl, _ in rows] == ["A", "B"]
    assert rows[0][1]["silhouette"] == rows[1][1]["silhouette"]
    assert rows[0][1]["v_measure"] == pytest.approx(1.0) and rows[1][1]["v_measure"] < 1


def test_n_clusters_auto_is_chosen_without_labels_and_a_typo_is_one_clear_error():
    from simcse_lab.clustering.clusterers import KMeansClusterer

    x, _ = _blobs(k=5)
    with pytest.raises(ValueError, match="n_clusters='auto' needs k_score"):
        KMeansClusterer(n_clusters="auto", random_state=0, k_max=9).fit_predict(x)
    score, higher = k_criterion("silhouette", seed=0)
    km = KMeansClusterer(n_clusters="auto", random_state=0, k_max=9, k_score=score, k_higher_is_better=higher)
    labels = km.fit_predict(x)
    assert km.n_clusters == km.k_choice_.k == 5 == len(np.unique(labels))
    assert set(km.k_choice_.curve) == set(range(2, 10)) and not km.k_choice_.as_dict()["at_largest_k"]
    from simcse_lab.clustering.choose_k import choose_k

    assert choose_k(x, score=score, k_max=4, seed=0).as_dict()["at_largest_k"]  # 5 blobs, at most 4 tried: said so
    validate(load_config("default", {"cluster.n_clusters": "auto", "selftrain.n_clusters": "auto"}))
    for key in ("cluster.n_clusters", "selftrain.n_clusters", "sccl.n_clusters"):
        with pytest.raises(ValueError, match=f"{key} must be an integer >= 2, 'auto' or null, got 'atuo'"):
            validate(load_config("default", {key: "atuo"}))


SCORE = k_criterion("silhouette")[0]


def test_k_rules_read_the_curve_and_a_training_method_reads_it_by_its_own_rule():
    from simcse_lab.clustering.choose_k import RULES, choose_k
    from simcse_lab.core.schema_clustering import K_RULES

    assert tuple(RULES) == K_RULES
    # silhouette-like: best at 3, nearly as good at 9, a local best at 12
    curve = {
        2: 0.20,
        3: 0.30,
        4: 0.25,
        5: 0.22,
        6: 0.21,
        7: 0.24,
        8: 0.26,
        9: 0.29,
        10: 0.25,
        11: 0.24,
        12: 0.27,
        13: 0.10,
    }
    x, _ = _blobs(k=3)
    picks = {rule: choose_k(x, score=SCORE, k_min=2, k_max=13, rule=rule, curve=curve).k for rule in RULES}
    assert picks == {"best": 3, "within-10%": 9, "within-25%": 12, "largest-peak": 12, "first-peak": 3}
    # best at the low end of the range (a skewed corpus's 2): first-peak takes the first local best,
    # and a longer range moves largest-peak with it but not first-peak
    edge = {2: 0.40, 3: 0.20, 4: 0.22, 5: 0.26, 6: 0.24, 7: 0.23, 8: 0.25, 9: 0.21}
    longer = {**edge, **{k: 0.22 + 0.001 * (k % 2) for k in range(10, 31)}}
    for rule, at_9, at_30 in (("best", 2, 2), ("first-peak", 5, 5), ("largest-peak", 8, 29)):
        assert choose_k(x, score=SCORE, k_min=2, k_max=9, rule=rule, curve=edge).k == at_9
        assert choose_k(x, score=SCORE, k_min=2, k_max=30, rule=rule, curve=longer).k == at_30
    lower = {k: -v for k, v in curve.items()}  # a lower-is-better criterion reads the same curve upside down
    assert (
        choose_k(
            x,
            score=SCORE,
            k_min=2,
            k_max=13,
            rule="largest-peak",
            criterion="davies_bouldin",
            higher_is_better=False,
            curve=lower,
        ).k
        == 12
    )
    assert choose_k(x, score=SCORE, k_min=2, k_max=13, rule="within-10%", curve=curve).as_dict()["rule"] == "within-10%"
    with pytest.raises(ValueError, match="cluster.k_criterion must be a label-free score of the space"):
        k_criterion("v_measure")
    with pytest.raises(ValueError, match="cluster.k_rule must be one of best, within-10%"):
        choose_k(x, score=SCORE, rule="biggest")
    cfg = load_config("default", {"cluster.train_k_rule": "within-25%"})
    assert cfg.cluster.train_k_rule == "within-25%" and cfg.cluster.k_rule == "best"
    with pytest.raises(ValueError, match="cluster.train_k_rule"):
        validate(load_config("default", {"cluster.train_k_rule": "largest"}))


def test_clusters_are_described_by_their_terms_and_nearest_texts():
    from simcse_lab.evaluation.describe import TermIndex, describe_clusters

    texts = [f"dress {w} fits" for w in "abcdefghij"] + [f"coat {w} warm" for w in "abcdefghij"]
    x, _ = _blobs(n_per=10, k=2)
    d = describe_clusters(np.repeat([0, 1], 10), texts, x, TermIndex(texts))
    assert d["size"].tolist() == [10, 10]
    assert d["top_terms"].str.split(", ").str[0].isin(["dress", "fits"]).iloc[0]
    assert d["top_terms"].str.split(", ").str[0].isin(["coat", "warm"]).iloc[1]
    assert d.loc[0, "text_1"].startswith("dress") and d.loc[1, "text_1"].startswith("coat")


def test_each_label_free_score_is_read_as_a_verdict_in_its_own_direction():
    from simcse_lab.reporting.agreement import score_verdicts

    seeds = [1, 2, 3]
    rows = []
    for seed, jitter in zip(seeds, [0.0, 0.002, -0.002]):
        for model, vm, sil, db, dbcv in [("m", 0.30, 0.10, 2.0, np.nan), ("t", 0.40, 0.20, 1.0, np.nan)]:
            rows.append(
                {
                    "model": model,
                    "clusterer": "kmeans",
                    "space": "raw",
                    "level": "L",
                    "seed": seed,
                    "v_measure": vm + jitter,
                    "silhouette": sil + jitter,
                    "davies_bouldin": db + jitter,
                    "dbcv": dbcv,
                }
            )
    v = score_verdicts(pd.DataFrame(rows), baseline="m").set_index("score")
    assert set(v["model"]) == {"t"} and (v["verdict"] == "better").all()
    # Davies-Bouldin fell: lower is better, so that is a better verdict too
    assert v.loc["silhouette", "lf_verdict"] == v.loc["davies_bouldin", "lf_verdict"] == "better"
    assert v.loc["dbcv", "lf_verdict"] == "n/a" and not v.loc["dbcv", "agree"]


def _texts_file(tmp_path, n_per=30):
    rng = np.random.default_rng(0)
    topics = {
        "shipping": ["parcel arrived late", "courier lost the package", "delivery was quick"],
        "battery": ["battery drains overnight", "charger stopped working", "battery life is great"],
        "screen": ["screen cracked easily", "display is bright", "touch screen unresponsive"],
    }
    lines = [
        f"{rng.choice(p)} {rng.choice(['really', 'sadly', 'honestly'])} number {i}"
        for p in topics.values()
        for i in range(n_per)
    ]
    path = tmp_path / "my_texts.txt"
    path.write_text("\n".join(rng.permutation(lines)) + "\n")
    return path


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "simcse_lab.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_compare_scores_a_corpus_without_labels(tmp_path):
    path = _texts_file(tmp_path)
    r = _cli(
        "compare",
        "default",
        "--set",
        f"corpus.source={path}",
        "--set",
        "corpus.heldout=0",
        "--set",
        "models.encoders=[tfidf-lsa]",
        "--set",
        "models.simcse_from=[]",
        "--set",
        "metrics.sts_splits=[]",
        "--set",
        "cluster.spaces=[raw]",
        "--set",
        "cluster.clusterers=[kmeans,evoc]",
        "--set",
        f"data_dir={DATA}",
        "--set",
        f"runs_dir={tmp_path / 'runs'}",
        "--set",
        "metrics.n_bootstrap=20",
        "-q",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Label-free scores" in r.stdout and "V-measure" not in r.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    table = pd.read_csv(run_dir / "results.csv")
    assert table["v_measure"].isna().all() and table["silhouette"].notna().all()
    assert set(table["clusterer"]) == {"kmeans", "evoc"}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    (choice,) = manifest["k_choice"].values()
    assert choice["criterion"] == "silhouette" and choice["n_classes"] is None
    assert (run_dir / "figures" / "k_choice.png").is_file()
    clusters = pd.read_csv(run_dir / "clusters.csv")
    assert clusters["top_terms"].notna().all() and (clusters.groupby("clusterer")["size"].sum() == 90).all()
    assign = pd.read_csv(run_dir / "assignments.csv")
    assert len(assign) == 90 * 2 and set(assign["text_id"]) == set(range(90))
    assert assign[assign["clusterer"] == "evoc"]["probability"].notna().all()
    report = (run_dir / "report.html").read_text()
    assert "What the clusters are about" in report
    assert f"<h1>simcse-lab run <code>{run_dir.name}</code>" in report and ".partial" not in report


@pytest.mark.slow
def test_explore_runs_the_walk_through_on_a_small_unlabelled_file(tmp_path):
    path = _texts_file(tmp_path)
    # 3 topics of 3 phrases each: KMeans picks the 9 phrases, and the fine level needs k up to 18 at least
    r = _cli(
        "explore",
        str(path),
        "--set",
        f"data_dir={DATA}",
        "--set",
        f"runs_dir={tmp_path / 'runs'}",
        "--set",
        "metrics.n_bootstrap=20",
        "--set",
        "train.batch_size=8",
        "--set",
        "cluster.k_max=30",
        "-q",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "alignment" not in r.stdout  # explore skips alignment/uniformity: they do not help read clusters
    (run_dir,) = (tmp_path / "runs").iterdir()
    table = pd.read_csv(run_dir / "results.csv")
    assert set(table["model"]) == {"minilm", "selftrain(minilm)"}
    trained = table[table["model"] == "selftrain(minilm)"]
    assert trained["lf_verdict"].isin(["better", "worse", "unclear"]).all()
    assert "vs start: " in r.stdout and "| verdict" in r.stdout and "clusters.csv" in r.stdout
    # the closing answer: one sentence per trained model, naming what the verdict read
    assert "- selftrain(minilm) against minilm: " in r.stdout and "KMeans on the vectors" in r.stdout
    assert {"kmeans-start-k", "kmeans", "hdbscan"} <= set(table["clusterer"])
    # a coarse and a fine level of KMeans clusters (the fine one off the same curve), described in clusters.csv
    choices = json.loads((run_dir / "manifest.json").read_text())["k_choice"]
    for model, rows in table.groupby("model"):
        coarse, fine = (int(rows.loc[rows.clusterer == c, "n_clusters"].iloc[0]) for c in ("kmeans", "kmeans-fine"))
        curve = {int(k): v for k, v in choices[f"{model} kmeans/raw"]["curve"].items()}
        assert coarse == choices[f"{model} kmeans/raw"]["k"] and fine == fine_k(curve, coarse)
        assert 2 * coarse <= fine <= 4 * coarse
    assert "kmeans-fine" in set(pd.read_csv(run_dir / "clusters.csv")["clusterer"])
    assert trained["vs_start_start_silhouette"].notna().all() and trained["lf_signal"].notna().all()
    for model in ("minilm", "selftrain_minilm"):
        assert (run_dir / "figures" / f"{model}__map.png").is_file()
    assert (run_dir / "assignments.csv").is_file() and (run_dir / "clusters.csv").is_file()
    # every text gets a cluster: the half the model trained on is placed too, marked as such
    placed = pd.read_csv(run_dir / "assignments.csv", keep_default_na=False)
    lines = path.read_text().splitlines()
    for _, one in placed.groupby(["model", "clusterer", "space"]):
        assert sorted(one["text_id"]) == list(range(len(lines)))
        assert one["text"].tolist() == [lines[i] for i in one["text_id"]]
        assert set(one["part"]) == {"scored", "training"} and (one["part"] == "scored").sum() == len(lines) // 2
        assert one.loc[one["part"] == "training", "probability"].eq("").all()


class _BlobModel:
    """A stand-in for a SentenceTransformer: ``encode`` returns fixed vectors of 3 clear clusters."""

    def __init__(self):
        self.x, _ = _blobs(n_per=20, k=3)

    def encode(self, texts, **_):
        return self.x[: len(texts)]


def test_the_training_evaluator_scores_without_labels_by_silhouette():
    from simcse_lab.training.evaluator import ClusteringEvaluator

    texts = [f"t{i}" for i in range(60)]
    ev = ClusteringEvaluator(texts, None, by="silhouette", seed=0)
    got = ev(_BlobModel(), steps=0)
    assert ev.metric_key == "eval_heldout_silhouette" and set(got) == {"heldout_silhouette"}
    assert ev.k == 3 and ev.k_choice["k"] == 3 and got["heldout_silhouette"] > 0.5
    # labels given but silhouette asked for: the labels are not read
    assert ClusteringEvaluator(texts, np.zeros(60), by="silhouette").labels is None
    with pytest.raises(ValueError, match="keep-best by V-measure needs labels; set train.keep_best_by=silhouette"):
        ClusteringEvaluator(texts, None)
    with pytest.raises(ValueError, match="train.keep_best_by must be one of"):
        validate(load_config("default", {"train.keep_best_by": "dbcv"}))


@pytest.mark.slow
@pytest.mark.parametrize("by", ["silhouette", "verdict"])
def test_keep_best_without_labels_trains_and_judges_without_labels(tmp_path, tiny_checkpoint, tiny_df, by):
    import dataclasses

    from simcse_lab.core.config import TrainConfig
    from simcse_lab.training.simcse import train_simcse

    cfg = TrainConfig(
        epochs=1, batch_size=8, learning_rate=1e-3, max_seq_length=16, checkpoint_steps=2, logging_steps=1
    )
    cfg = dataclasses.replace(cfg, eval_steps=2, eval_n_texts=30, keep_best=True, keep_best_by=by)
    texts = tiny_df.Text.tolist()
    log = train_simcse(
        str(tiny_checkpoint),
        texts[::2],
        cfg,
        output_dir=tmp_path / "e",
        seed=0,
        device="cpu",
        show_progress=False,
        eval_texts=texts[1::2],
        eval_labels=None,
    ).log
    evals = [e for e in log["log_history"] if f"eval_heldout_{by}" in e]
    assert len(evals) == 2
    held = log["heldout_v_measure"]
    assert held["by"] == by and held["k_choice"]["criterion"] == "silhouette"
    assert held["best"] == max(e[f"eval_heldout_{by}"] for e in evals)
    if by == "silhouette":
        assert held["kept"] == ("base" if held["best"] < held["before"] else "trained")
    else:  # the untouched model scores 0, and only a verdict of better (above 0) keeps the trained one
        assert held["before"] == 0.0 and held["signals"] == ["lexical_silhouette", "lexical_nmi"]
        assert held["kept"] == ("trained" if held["best"] > 0 else "base")


def test_explore_on_too_few_texts_to_train_on_refuses_before_encoding(tmp_path):
    path = _texts_file(tmp_path, n_per=7)  # 21 texts: 10 to score, 11 to train on, one step of 32
    data = tmp_path / "data"
    r = _cli("explore", str(path), "--set", f"data_dir={data}", "--set", f"runs_dir={tmp_path / 'runs'}", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(
        "simcse-lab: error: selftrain(minilm) on 11 training texts (train.batch_size=32): 1 optimizer step, too few"
    )
    assert not (data / "interim" / "embeddings").exists()  # nothing was encoded
    assert not list((tmp_path / "runs").glob("*"))  # and no run folder was begun
