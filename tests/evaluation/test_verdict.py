"""The label-free verdict on training: signals read where the trained model cannot reach, paired
bootstrap differences, abstaining across granularities, and KMeans at the start model's k."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from simcse_lab.core.config import load_config
from simcse_lab.core.registry import SIGNALS
from simcse_lab.evaluation.verdict import judge_pairs, paired_difference
from simcse_lab.evaluation.views import Judged, LexicalView

TOPICS = {
    "coat": "warm wool coat winter lining",
    "court": "court judge ruling appeal law",
    "phone": "battery screen charger phone display",
}


def _corpus(n_per=30, seed=0):
    """Texts of three topics, and a start model's vectors that place them in three groups."""
    rng = np.random.default_rng(seed)
    words = {t: w.split() for t, w in TOPICS.items()}
    texts = [" ".join(rng.choice(words[t], 4)) for t in TOPICS for _ in range(n_per)]
    topic = np.repeat(np.arange(3), n_per)
    start = np.eye(8)[topic] + rng.normal(0, 0.3, (len(texts), 8))
    return texts, topic, start


def _pair(
    trained_labels,
    trained_space,
    *,
    start_labels=None,
    across="never",
    signals=("start_silhouette",),
    clusterer="kmeans",
):
    texts, topic, start = _corpus()
    view = LexicalView(texts, min_df=1, n_components=5)
    judged = {
        ("m", clusterer, "raw"): Judged(topic if start_labels is None else start_labels, start, start, view),
        ("t", clusterer, "raw"): Judged(trained_labels, trained_space, start, view),
    }
    return judge_pairs(judged, {"m": None, "t": "m"}, signals=signals, abstain_across_k=across, n_resamples=100)


def test_a_trained_space_that_makes_wrong_clusters_compact_is_caught_in_the_start_models_space():
    texts, topic, start = _corpus()
    wrong = np.arange(len(texts)) % 3  # a grouping across the topics...
    squeezed = np.eye(8)[wrong] + np.random.default_rng(1).normal(0, 0.01, (len(texts), 8))  # ...made compact
    t = _pair(wrong, squeezed)[("t", "kmeans", "raw")]
    assert t["vs_start_own_silhouette"] > 0 and t["vs_start_own_silhouette_lo"] > 0  # its own space says better
    assert t["lf_verdict"] == "worse" and t["lf_diff_hi"] < 0  # the start model's space does not
    for name in ("lexical_silhouette", "lexical_nmi", "bow_kappa"):
        assert t[f"vs_start_{name}_hi"] < 0, name
    both = _pair(wrong, squeezed, signals=("own_silhouette", "start_silhouette"))[("t", "kmeans", "raw")]
    assert both["lf_verdict"] == "unclear" and both["lf_signal"] == "own_silhouette+start_silhouette"
    agreed = _pair(wrong, squeezed, signals=("start_silhouette", "lexical_nmi"))[("t", "kmeans", "raw")]
    assert agreed["lf_verdict"] == "worse" and agreed["lf_diff"] == t["vs_start_start_silhouette"]


def test_the_same_clustering_again_is_unclear_and_the_start_model_gets_values_but_no_verdict():
    texts, topic, start = _corpus()
    got = _pair(topic, start)
    t, m = got[("t", "kmeans", "raw")], got[("m", "kmeans", "raw")]
    assert t["lf_verdict"] == "unclear" and t["lf_diff"] == pytest.approx(0)
    assert "lf_verdict" not in m and m["start_silhouette"] == pytest.approx(m["own_silhouette"])
    assert set(SIGNALS.names()) <= set(m)


def test_across_different_numbers_of_clusters_the_verdict_abstains_when_asked_to():
    texts, topic, start = _corpus()
    coarse = (topic > 0).astype(int)  # 2 clusters against the start model's 3
    loose = _pair(coarse, start, across="never")[("t", "kmeans", "raw")]
    strict = _pair(coarse, start, across="kmeans")[("t", "kmeans", "raw")]
    hdbscan = _pair(coarse, start, across="kmeans", clusterer="hdbscan")[("t", "hdbscan", "raw")]
    assert hdbscan["lf_verdict"] == loose["lf_verdict"]  # HDBSCAN has no like-for-like row: read as it is
    always = _pair(coarse, start, across="always", clusterer="hdbscan")[("t", "hdbscan", "raw")]
    assert always["lf_verdict"] == "unclear"
    assert loose["lf_verdict"] in {"better", "worse"}
    assert strict["lf_verdict"] == "unclear" and "2 clusters against the start model's 3" in strict["lf_signal"]
    assert strict["lf_diff"] == loose["lf_diff"]  # the difference is still shown


def test_an_unknown_signal_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown verdict signal 'start_silhoutte' .*did you mean 'start_silhouette'"):
        _pair(np.zeros(90, int), np.zeros((90, 8)), signals=["start_silhoutte"])


def test_a_paired_difference_reads_both_on_the_same_resamples():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 500)  # large text-to-text spread, a small constant shift
    v = paired_difference(
        lambda r: float((base[r] + 0.05).mean()), lambda r: float(base[r].mean()), 500, n_resamples=50
    )
    assert v["verdict"] == "better" and v["lo"] == pytest.approx(0.05) and v["hi"] == pytest.approx(0.05)
    nan = paired_difference(lambda r: float("nan"), lambda r: 0.0, 10, n_resamples=5)
    assert nan["verdict"] == "undefined"


@dataclass
class _Run:
    name: str
    embeddings: np.ndarray
    trained_from: str | None = None


def test_a_trained_model_whose_kmeans_chose_another_k_is_also_clustered_at_the_start_models_k():
    from simcse_lab.core.runtime import Timer
    from simcse_lab.evaluation.clusterings import ModelClusterings, cluster_model
    from simcse_lab.evaluation.vs_start import SAME_K, add_same_k

    texts, topic, start = _corpus()
    two = np.eye(8)[(topic > 0).astype(int)] + np.random.default_rng(2).normal(0, 0.05, (len(texts), 8))
    cfg = load_config(
        "default",
        {
            "cluster.n_clusters": "auto",
            "cluster.clusterers": ["kmeans"],
            "cluster.spaces": ["raw"],
            "cluster.pairs": [],
            "metrics.n_bootstrap": 0,
        },
    )
    runs = [_Run("m", start), _Run("t", two, "m"), _Run("u", start.copy(), "m")]
    found = ModelClusterings()
    context = {"levels": {"topic": topic}, "n_classes": None, "texts": texts, "terms": None, "timer": Timer()}
    for r in runs:
        cluster_model(r.name, r.embeddings, {"raw": r.embeddings}, cfg, backend="cpu", out=found, **context)
    assert found.k_choices["m kmeans/raw"]["k"] == 3 and found.k_choices["t kmeans/raw"]["k"] == 2
    add_same_k(found, runs, cfg, backend="cpu", **context)
    k_of = {r["model"]: r["n_clusters"] for r in found.rows if r["clusterer"] == SAME_K}
    assert k_of == {"m": 3, "t": 3, "u": 3}
    assert np.array_equal(found.labels[("m", SAME_K, "raw")], found.labels[("m", "kmeans", "raw")])
    assert not np.array_equal(found.labels[("t", SAME_K, "raw")], found.labels[("t", "kmeans", "raw")])


def test_the_printed_table_marks_an_abstention_and_the_sentence_names_signal_clustering_and_check():
    import pandas as pd

    from simcse_lab.reporting.tables import label_free_table
    from simcse_lab.reporting.verdicts import verdict_sentences

    rows = []
    for model, k_hdb, verdict, signal in [("m", 2, None, None), ("t", 9, "worse", "start_silhouette")]:
        rows.append(
            {
                "model": model,
                "clusterer": "kmeans-start-k",
                "space": "raw",
                "level": "",
                "n_clusters": 5,
                "silhouette": 0.1,
                "lf_signal": signal,
                "lf_diff": None if signal is None else -0.02,
                "lf_diff_lo": None if signal is None else -0.03,
                "lf_diff_hi": None if signal is None else -0.01,
                "lf_verdict": verdict,
            }
        )
        rows.append(
            {
                "model": model,
                "clusterer": "hdbscan",
                "space": "umap",
                "level": "",
                "n_clusters": k_hdb,
                "silhouette": 0.5,
                "lf_signal": signal and f"{signal} (not read: 9 clusters against 2)",
                "lf_diff": None if signal is None else -0.2,
                "lf_diff_lo": None if signal is None else -0.3,
                "lf_diff_hi": None if signal is None else -0.1,
                "lf_verdict": verdict and "unclear",
            }
        )
    table = pd.DataFrame(rows)
    shown = label_free_table(table).set_index(["model", "setting"])
    assert shown.loc[("t", "hdbscan/umap"), "verdict"] == "unclear (k differs)"
    assert shown.loc[("t", "kmeans-start-k/raw"), "verdict"] == "worse"
    check = {
        "signals": ["start_silhouette"],
        "abstain_across_k": "kmeans",
        "corpora": ["a", "b"],
        "test": {"agrees": 40, "decided": 42, "wrong_direction": 0, "abstains_where_decided": 2},
    }
    (line,) = verdict_sentences(table, {"m": None, "t": "m"}, check=check)
    assert line.startswith(
        "t against m: made it worse. On KMeans on the vectors at the start model's k (5 clusters"
        " each): start_silhouette -0.020 [-0.030, -0.010]"
    )
    assert "agreed with the labels in 40 of 42 decided claims, called 0 the wrong way" in line
    (other,) = verdict_sentences(table, {"m": None, "t": "m"}, check={**check, "signals": ["lexical_nmi"]})
    assert other.endswith("this verdict was not checked against labels.")


def test_read_first_names_the_start_models_clusters_unless_training_was_judged_better():
    import pandas as pd

    from simcse_lab.reporting.verdicts import read_first_sentence

    def table(verdict):
        return pd.DataFrame(
            [
                {
                    "model": m,
                    "clusterer": c,
                    "space": s,
                    "level": "",
                    "lexical_nmi": v,
                    "lf_verdict": None if m == "m" else verdict,
                }
                for m in ("m", "t")
                for c, s, v in [("kmeans", "raw", 0.2), ("hdbscan", "umap", 0.3)]
            ]
        )

    check = {"read_first": "always hdbscan/umap", "read_first_test": {"right": 10, "groups": 12}}
    helped = read_first_sentence(table("better"), {"m": None, "t": "m"}, check=check)
    assert helped == (
        "Read first: t, hdbscan/umap (always hdbscan/umap; the verdict says training helped); on the"
        " labelled test halves this rule picked a clustering within the best one's interval in 10 of"
        " 12 cases."
    )
    for verdict in ("worse", "unclear"):
        assert read_first_sentence(table(verdict), {"m": None, "t": "m"}, check=check).startswith(
            "Read first: m, hdbscan/umap"
        )
    highest = read_first_sentence(table("unclear"), {"m": None, "t": "m"}, check={"read_first": "highest lexical_nmi"})
    assert highest.startswith("Read first: m, hdbscan/umap (highest lexical_nmi")
    assert read_first_sentence(table("better"), {"m": None, "t": "m"}, check=None) is None


def test_the_verdicts_are_read_back_from_the_cache_unless_a_clustering_or_a_setting_changed(tmp_path, monkeypatch):
    from simcse_lab.core.cache import ArrayCache
    from simcse_lab.evaluation import vs_start
    from simcse_lab.evaluation.clusterings import ModelClusterings

    texts, topic, start = _corpus()
    runs = [_Run("m", start), _Run("t", start + 0.01, "m"), _Run("other", start)]
    cfg = load_config("default", {"metrics.n_bootstrap": 20})
    calls = []
    real = vs_start.judge_pairs
    monkeypatch.setattr(vs_start, "judge_pairs", lambda *a, **k: calls.append(1) or real(*a, **k))

    def judged(labels_t, cfg=cfg):
        found = ModelClusterings()
        for name, labels in [("m", topic), ("t", labels_t), ("other", topic)]:
            found.labels[(name, "kmeans", "raw")] = labels
            found.rows.append({"model": name, "clusterer": "kmeans", "space": "raw", "level": ""})
        spaces = {r.name: {"raw": r.embeddings} for r in runs}
        vs_start.judge_against_start(found, runs, spaces, cfg, texts=texts, cache=ArrayCache(tmp_path))
        return {r["model"]: r for r in found.rows}

    first = judged(topic)
    assert "start_silhouette" not in first["other"]  # not in a pair: not read
    again = judged(topic)
    assert len(calls) == 1 and again["t"]["lf_verdict"] == first["t"]["lf_verdict"]
    assert again["t"]["vs_start_lexical_nmi"] == first["t"]["vs_start_lexical_nmi"]
    judged(np.roll(topic, 1))
    judged(topic, load_config("default", {"metrics.n_bootstrap": 20, "metrics.verdict_signals": ["bow_kappa"]}))
    assert len(calls) == 3


def test_the_default_verdict_is_the_rule_whose_error_rate_was_measured():
    """bench/verdicts.py writes the rule it chose on the dev halves and its claims on the test halves;
    the default config must read that rule, or explore would quote another verdict's error rate."""
    from simcse_lab.evaluation.verdict import measured_check

    check = measured_check()
    assert check is not None, "simcse_lab/evaluation/verdict_check.json is missing: run python bench/verdicts.py"
    metrics = load_config("default").metrics
    assert list(metrics.verdict_signals) == check["signals"]
    assert metrics.verdict_abstain_across_k == check["abstain_across_k"]
    assert {"agrees", "decided", "wrong_direction", "abstains_where_decided"} <= set(check["test"])


class _FixedModel:
    """A stand-in for a SentenceTransformer whose ``encode`` returns the vectors it was given."""

    def __init__(self, x):
        self.x = x

    def encode(self, texts, **_):
        return self.x[: len(texts)]


def test_keep_best_by_verdict_scores_the_untouched_model_0_and_only_a_better_clustering_above_0():
    from simcse_lab.training.evaluator import ClusteringEvaluator

    words = [
        ["goal", "match", "team", "league", "score"],
        ["vote", "party", "election", "senate", "law"],
        ["chip", "laptop", "software", "code", "screen"],
    ]
    rng = np.random.default_rng(0)
    topic = np.repeat(np.arange(3), 30)
    texts = [" ".join(rng.choice(words[t], 4)) + f" w{i}" for i, t in enumerate(topic)]
    untouched = rng.normal(size=(90, 16))
    centres = rng.normal(size=(3, 16)) * 4
    follows_topics = centres[topic] + rng.normal(size=(90, 16))
    scrambled = centres[(topic + rng.integers(0, 3, 90)) % 3] + rng.normal(size=(90, 16))
    ev = ClusteringEvaluator(
        texts, np.zeros(90), by="verdict", signals=("lexical_silhouette", "lexical_nmi"), seed=0, n_resamples=50
    )
    assert ev.labels is None and ev.metric_key == "eval_heldout_verdict"
    assert ev(_FixedModel(untouched), steps=0) == {"heldout_verdict": 0.0}
    assert ev(_FixedModel(follows_topics), steps=1)["heldout_verdict"] > 0
    assert ev(_FixedModel(untouched), steps=2)["heldout_verdict"] == 0.0  # the same clustering: no better
    assert ev(_FixedModel(scrambled), steps=3)["heldout_verdict"] < 0
    with pytest.raises(ValueError, match="keep-best by verdict needs the signals it reads"):
        ClusteringEvaluator(texts, None, by="verdict")
    with pytest.raises(ValueError, match="lexical_silhouette"):  # did you mean
        ClusteringEvaluator(texts, None, by="verdict", signals=("lexical_silhuette",))
