"""Benchmarks the geometry is read against (STS-B, SNLI) and the intervals around a score: a
bootstrap over the scored texts, a t interval over seeds."""

import numpy as np
import pytest

from simcse_lab.corpus.benchmarks import load_nli_triplets, parse_sts
from simcse_lab.evaluation.geometry import sts_spearman
from simcse_lab.evaluation.scoring import bootstrap_scores
from simcse_lab.evaluation.statistics import mean_ci


def test_parse_sts_handles_extra_fields_and_quotes(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text(
        'g\tMSRvid\t2012\t0001\t5.000\tA "quoted" man.\tA man.\ng\tnews\t2014\t0002\t1.250\tOne.\tTwo.\textra\tfields\n'
    )
    pairs = parse_sts(path, "dev")
    assert pairs.sentences1 == ['A "quoted" man.', "One."] and pairs.sentences2 == ["A man.", "Two."]
    assert pairs.scores.tolist() == [5.0, 1.25]
    path.write_text("too\tfew\tfields\n")
    with pytest.raises(ValueError, match="at least 7"):
        parse_sts(path)


def test_sts_spearman_limits():
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(200, 16))
    gold = rng.uniform(0, 5, 200)
    # second sentence = first + noise that shrinks as gold similarity grows: similarity tracks gold
    noise = rng.normal(size=(200, 16))
    x2 = x1 + noise * (5 - gold)[:, None]
    assert sts_spearman(x1, x2, gold) > 0.6
    assert abs(sts_spearman(x1, x2[rng.permutation(200)], gold)) < 0.2  # shuffled pairs
    from simcse_lab.evaluation.geometry import paired_cosine

    assert np.allclose(paired_cosine(x1, x1), 1.0)  # identical sentences: similarity 1
    assert np.isnan(sts_spearman(x1, x1, gold))  # ... so nothing to rank
    with pytest.raises(ValueError, match="gold scores"):
        sts_spearman(x1, x2, gold[:10])


def test_real_sts_and_snli_files(tmp_path):
    from simcse_lab.corpus.benchmarks import load_sts

    test = load_sts("test", data_dir=tmp_path)
    assert len(test) == 1379 and test.scores.min() == 0 and test.scores.max() == 5
    dev = load_sts("dev", data_dir=tmp_path)
    assert len(dev) == 1500 and dev.sentences1[0] != test.sentences1[0]  # dev is not test
    triplets = load_nli_triplets("train", data_dir=tmp_path)
    assert 27_000 <= len(triplets) <= 27_500
    p, e, c = triplets[0]
    assert p == "A person on a horse jumps over a broken down airplane." and e != c
    assert len(load_nli_triplets("train", n=100, seed=1, data_dir=tmp_path)) == 100


def test_confidence_intervals_shrink_with_more_seeds():
    rng = np.random.default_rng(0)
    stable = 0.5 + rng.normal(scale=0.01, size=30)
    _, h3 = mean_ci(stable[:3])
    _, h10 = mean_ci(stable[:10])
    _, h30 = mean_ci(stable)
    assert h30 < h10 < h3
    assert mean_ci([0.4])[1] != mean_ci([0.4])[1]  # one seed: no interval


def test_bootstrap_interval_narrows_with_more_texts():
    rng = np.random.default_rng(0)

    def width(n):
        y = rng.integers(0, 3, n)
        pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
        b = bootstrap_scores(y, pred, n_resamples=100, seed=0)["v_measure"]
        assert b["lo"] <= b["mean"] <= b["hi"]
        return b["hi"] - b["lo"]

    assert width(2000) < width(200)
