"""The SimCSE objectives beyond plain MNRL: miCSE's attention alignment, cached MNRL, hard
negatives in the batch, and the held-out evaluator that keeps the best checkpoint."""

import numpy as np
import pytest

from simcse_lab.core.config import TrainConfig

TINY = TrainConfig(epochs=1, batch_size=8, learning_rate=1e-3, max_seq_length=16, checkpoint_steps=2, logging_steps=1)


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
