"""Label-free training methods: each trains through the one resolver, uses no label, and is
reused from its keyed run folder."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from simcse_lab.core.config import ExperimentConfig, validate, with_overrides
from simcse_lab.training.methods import (
    delete_words,
    draw_neighbour_positives,
    mine_neighbours,
    pseudo_labels,
)

METHODS = ["neighbours", "sccl", "selftrain", "tsdae", "ct"]


def _cfg(tmp_path, tiny_csv, tiny_checkpoint, **extra):
    return with_overrides(
        ExperimentConfig(),
        {
            "data_dir": str(tmp_path / "data"),
            "runs_dir": str(tmp_path / "runs"),
            "corpus.source": str(tiny_csv),
            "corpus.n_samples": None,
            "encode.max_seq_length": 16,
            "encode.show_progress": False,
            "encode.backend": "torch",
            "train.batch_size": 8,
            "train.max_seq_length": 16,
            "train.learning_rate": 1e-3,
            "train.epochs": 1,
            "selftrain.rounds": 2,
            **extra,
        },
    )


def test_neighbours_are_mined_without_self():
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    nn = mine_neighbours(x, 3)
    assert nn.shape == (20, 3) and not (nn == np.arange(20)[:, None]).any()
    sims = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (x / np.linalg.norm(x, axis=1, keepdims=True)).T
    np.fill_diagonal(sims, -np.inf)
    assert (nn[:, 0] == sims.argmax(axis=1)).all()  # nearest first
    assert (draw_neighbour_positives(nn, positive="nearest", seed=0) == nn[:, 0]).all()
    drawn = draw_neighbour_positives(nn, positive="random", seed=0)
    assert all(d in row for d, row in zip(drawn, nn))
    assert (drawn == draw_neighbour_positives(nn, positive="random", seed=0)).all()


def test_pseudo_labels_keep_the_central_fraction():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))]
    labels, keep = pseudo_labels(x, 2, confidence=0.5, seed=0)
    assert len(np.unique(labels)) == 2 and len(keep) == 20
    assert len(set(labels[keep[labels[keep] == labels[0]]])) == 1


def test_deletion_noise_is_seeded_and_keeps_a_word():
    a = delete_words("one two three four five", 0.99, np.random.default_rng(1))
    assert a and a == delete_words("one two three four five", 0.99, np.random.default_rng(1))


def test_method_settings_are_validated():
    with pytest.raises(ValueError, match="neighbours.positive must be one of"):
        validate(dataclasses.replace(ExperimentConfig().neighbours, positive="furthest"))
    with pytest.raises(ValueError, match="selftrain.confidence must be > 0 and <= 1"):
        validate(dataclasses.replace(ExperimentConfig().selftrain, confidence=1.5))


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_each_method_trains_and_no_label_enters_training(tmp_path, tiny_csv, tiny_checkpoint, tiny_df, method):
    """Shuffling the labels leaves the trained model bit-identical: no label reaches training."""
    from simcse_lab.encoding.resolve import SpecContext, resolve_target

    shuffled = tmp_path / "shuffled.csv"
    rng = np.random.default_rng(0)
    tiny_df.assign(Cat1=rng.permutation(tiny_df.Cat1.values), Cat2=rng.permutation(tiny_df.Cat2.values)).to_csv(
        shuffled, index=False
    )
    weights = []
    for name, source in (("a", tiny_csv), ("b", shuffled)):
        cfg = _cfg(tmp_path / name, source, tiny_checkpoint)
        folder = Path(resolve_target(f"{method}({tiny_checkpoint})", SpecContext.for_config(cfg)).target)
        files = sorted(folder.rglob("*.safetensors"))
        assert files
        weights.append([f.read_bytes() for f in files])
    assert weights[0] == weights[1]


@pytest.mark.slow
def test_methods_change_the_model_and_are_reused(tmp_path, tiny_csv, tiny_checkpoint):
    from simcse_lab.encoding.resolve import SpecContext, resolve, resolve_target

    cfg = _cfg(tmp_path, tiny_csv, tiny_checkpoint)
    texts = ["the kite was big", "the coffee was fresh"]
    before = resolve(str(tiny_checkpoint), cfg).encode(texts)
    ctx = SpecContext.for_config(cfg)
    first = resolve_target(f"neighbours({tiny_checkpoint})", ctx)
    after = resolve(f"neighbours({tiny_checkpoint})", cfg, ctx=ctx).encode(texts)
    assert not np.allclose(before, after)
    log = ctx.trained[f"neighbours({tiny_checkpoint})"].log
    assert log["global_step"] == 8 and log["kind"] == "neighbours"
    again = resolve_target(f"neighbours({tiny_checkpoint})", SpecContext.for_config(cfg))
    assert again.target == first.target  # the keyed run folder is found, not retrained


@pytest.mark.slow
def test_the_ceiling_reference_trains_on_the_true_labels_and_needs_them(tmp_path, tiny_csv, tiny_checkpoint, tiny_df):
    """truelabels is the one method that reads labels: shuffled labels train another model, it never
    sees the held-out texts, and a corpus without labels is refused in one line."""
    from simcse_lab.encoding.resolve import SpecContext, resolve_target

    shuffled = tmp_path / "shuffled.csv"
    tiny_df.assign(Cat1=np.random.default_rng(0).permutation(tiny_df.Cat1.values)).to_csv(shuffled, index=False)
    weights, logs = [], []
    for name, source in (("a", tiny_csv), ("b", shuffled)):
        cfg = _cfg(tmp_path / name, source, tiny_checkpoint, **{"corpus.heldout": 0.5, "truelabels.epochs": 1.0})
        ctx = SpecContext.for_config(cfg)
        folder = Path(resolve_target(f"truelabels({tiny_checkpoint})", ctx).target)
        weights.append([f.read_bytes() for f in sorted(folder.rglob("*.safetensors"))])
        logs.append(ctx.trained[f"truelabels({tiny_checkpoint})"].log)
    assert weights[0] != weights[1]
    n_train = len(tiny_df) - round(0.5 * len(tiny_df))  # the held-out half is never trained on
    assert logs[0]["kind"] == "truelabels" and logs[0]["global_step"] == -(-n_train // 8)
    unlabelled = tmp_path / "texts.txt"
    unlabelled.write_text("\n".join(tiny_df.Text) + "\n")
    cfg = _cfg(tmp_path / "c", unlabelled, tiny_checkpoint, **{"corpus.drop_labels": []})
    with pytest.raises(ValueError, match="trains on the true labels, and the corpus has none"):
        resolve_target(f"truelabels({tiny_checkpoint})", SpecContext.for_config(cfg))


def test_a_training_k_too_large_for_the_texts_names_its_key():
    from simcse_lab.training.methods._common import n_clusters_for

    x = np.zeros((60, 4))
    assert n_clusters_for(30, None, "selftrain(minilm)", x) == (30, None)
    for spec, key in (("selftrain(minilm)", "selftrain.n_clusters"), ("sccl(minilm)", "sccl.n_clusters")):
        with pytest.raises(ValueError, match=rf"{key}=31 \(its setting\) is too many clusters for 60 training texts"):
            n_clusters_for(31, None, spec, x)
