import numpy as np
import pytest

from simcse_lab.evaluation.geometry import alignment_uniformity, mean_cosine
from simcse_lab.evaluation.scoring import score_clustering


def test_identical_labelings_score_one():
    y = np.array(["a", "a", "b", "b", "c", "c"])
    s = score_clustering(y, y)
    for key in ("v_measure", "homogeneity", "completeness", "ari", "ami"):
        assert s[key] == pytest.approx(1.0)
    assert s["n_clusters"] == 3 and s["noise_fraction"] == 0


def test_permuting_label_ids_changes_nothing():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=200)
    pred = rng.integers(0, 5, size=200)
    perm = np.array([3, 0, 4, 1, 2])
    assert score_clustering(y, pred) == pytest.approx(score_clustering(y, perm[pred]))


def test_independent_labelings_score_near_zero():
    rng = np.random.default_rng(1)
    s = score_clustering(rng.integers(0, 3, 3000), rng.integers(0, 3, 3000))
    assert s["v_measure"] < 0.01 and abs(s["ari"]) < 0.01


def test_noise_fraction():
    s = score_clustering([0, 0, 1, 1], [-1, 0, 1, -1])
    assert s["noise_fraction"] == 0.5 and s["n_clusters"] == 2


def test_bad_input():
    with pytest.raises(ValueError, match="labels_pred has 2"):
        score_clustering([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="empty"):
        score_clustering([], [])


def test_alignment_uniformity_limits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 16))
    same = alignment_uniformity(x, x)
    assert same["alignment"] == pytest.approx(0.0, abs=1e-12)
    noisy = alignment_uniformity(x, x + rng.normal(scale=0.5, size=x.shape))
    assert noisy["alignment"] > 0.05
    # collapsed embeddings are the least uniform possible (log E exp(0) = 0)
    collapsed = alignment_uniformity(np.ones((10, 4)), np.ones((10, 4)))
    assert collapsed["uniformity"] == pytest.approx(0.0, abs=1e-9)
    assert same["uniformity"] < -1.0
    with pytest.raises(ValueError, match="same shape"):
        alignment_uniformity(x, x[:10])


def test_mean_cosine_limits():
    rng = np.random.default_rng(0)
    assert mean_cosine(np.tile(rng.normal(size=(1, 32)), (100, 1))) == pytest.approx(1.0)
    assert abs(mean_cosine(rng.normal(size=(3000, 64)))) < 0.02
