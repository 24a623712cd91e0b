"""Issue 4: STS-B, supervised SimCSE data, miCSE, cached MNRL, held-out evaluator, confidence intervals."""

import numpy as np
import pytest

from simcse_lab.core.config import TrainConfig
from simcse_lab.corpus.benchmarks import load_nli_triplets, parse_sts
from simcse_lab.evaluation.geometry import sts_spearman
from simcse_lab.evaluation.scoring import bootstrap_scores
from simcse_lab.evaluation.statistics import mean_ci

TINY = TrainConfig(epochs=1, batch_size=8, learning_rate=1e-3, max_seq_length=16, checkpoint_steps=2, logging_steps=1)


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


def test_attention_alignment_zero_iff_identical():
    import torch

    from simcse_lab.training.losses import attention_alignment

    a = torch.softmax(torch.randn(2, 3, 5, 5), dim=-1)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    assert attention_alignment(a, a, mask).item() == pytest.approx(0.0, abs=1e-7)
    b = torch.softmax(torch.randn(2, 3, 5, 5), dim=-1)
    assert attention_alignment(a, b, mask).item() > 0
    assert attention_alignment(a, b, mask).item() == pytest.approx(attention_alignment(b, a, mask).item())


def _features(model, texts):
    from sentence_transformers.util import batch_to_device

    return [batch_to_device(model.preprocess(texts), model.device) for _ in range(2)]


def test_micse_weight_zero_is_exactly_simcse(tiny_checkpoint):
    import torch
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )

    from simcse_lab.encoding.locations import load_sentence_transformer
    from simcse_lab.training.losses import MiCSELoss

    model, _, _ = load_sentence_transformer(str(tiny_checkpoint), max_seq_length=16)
    model.train()
    texts = ["the puzzle was great", "tea and bread", "a collar felt nice", "the kite was big"]
    feats = _features(model, texts)
    torch.manual_seed(0)
    plain = MultipleNegativesRankingLoss(model, scale=20.0)(feats, None)
    torch.manual_seed(0)
    micse0 = MiCSELoss(model, scale=20.0, attention_weight=0.0)(feats, None)
    assert micse0.item() == plain.item()
    torch.manual_seed(0)
    micse = MiCSELoss(model, scale=20.0, attention_weight=1.0)(feats, None)
    assert micse.item() > 0 and micse.requires_grad


@pytest.mark.slow
@pytest.mark.parametrize("option", [{"attention_weight": 0.5}, {"loss": "cached-mnrl", "mini_batch_size": 3}])
def test_micse_and_cached_losses_train(tmp_path, tiny_checkpoint, tiny_df, option):
    import dataclasses

    from simcse_lab.training.simcse import train_simcse

    cfg = dataclasses.replace(TINY, **option)
    log = train_simcse(
        str(tiny_checkpoint),
        tiny_df.Text.tolist(),
        cfg,
        output_dir=tmp_path / "r",
        seed=0,
        device="cpu",
        show_progress=False,
    ).log
    assert log["global_step"] == 8 and np.isfinite(log["train_loss"])


@pytest.mark.slow
def test_hard_negatives_are_in_the_batch(tmp_path, tiny_checkpoint, monkeypatch):
    import torch

    from simcse_lab.training import losses
    from simcse_lab.training import simcse as train

    seen = []
    real = losses.make_loss

    def spy_loss(model, cfg):
        inner = real(model, cfg)

        class Spy(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = inner

            def forward(self, features, labels=None):
                seen.append([f["input_ids"].shape[0] for f in features])
                return self.inner(features, labels)

        return Spy()

    monkeypatch.setattr(losses, "make_loss", spy_loss)
    triplets = [
        (f"the {w} was great {i}", f"a {w} was nice {i}", f"the coffee was bad {i}")
        for i, w in enumerate(["puzzle", "lego", "doll", "kite"] * 4)
    ]
    train.train_supervised_simcse(
        str(tiny_checkpoint), triplets, TINY, output_dir=tmp_path / "s", seed=0, device="cpu", show_progress=False
    )
    assert seen and all(len(cols) == 3 for cols in seen)  # anchor, positive, hard negative
    assert seen[0] == [8, 8, 8]


@pytest.mark.slow
def test_heldout_evaluator_logs_and_keeps_the_best(tmp_path, tiny_checkpoint, tiny_df):
    import dataclasses

    from simcse_lab.training.simcse import train_simcse

    cfg = dataclasses.replace(TINY, eval_steps=2, eval_n_texts=30, keep_best=True)
    texts, labels = tiny_df.Text.tolist(), tiny_df.Cat1.to_numpy()
    log = train_simcse(
        str(tiny_checkpoint),
        texts[::2],
        cfg,
        output_dir=tmp_path / "e",
        seed=0,
        device="cpu",
        show_progress=False,
        eval_texts=texts[1::2],
        eval_labels=labels[1::2],
    ).log
    evals = [e for e in log["log_history"] if "eval_heldout_v_measure" in e]
    assert len(evals) == 2  # steps 2 and 4 of 4
    held = log["heldout_v_measure"]
    assert held["best"] == max(e["eval_heldout_v_measure"] for e in evals)
    assert held["kept"] in ("trained", "base")
    if held["kept"] == "base":
        assert held["best"] < held["before"]


def test_bad_loss_options():
    import dataclasses

    from simcse_lab.core.config import validate

    with pytest.raises(ValueError, match=r"train.loss must be one of \['mnrl', 'cached-mnrl'\], got 'triplet'"):
        validate(dataclasses.replace(TINY, loss="triplet"))
    with pytest.raises(ValueError, match="loss=mnrl only"):
        validate(dataclasses.replace(TINY, loss="cached-mnrl", attention_weight=0.1))
