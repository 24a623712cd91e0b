import json

import pytest
import yaml

from simcse_lab.core.config import TrainConfig, validate
from simcse_lab.encoding.resolve import load_encoder
from simcse_lab.training.simcse import train_simcse

pytestmark = pytest.mark.slow

TINY = TrainConfig(epochs=1, batch_size=8, learning_rate=1e-3, max_seq_length=16, checkpoint_steps=2, logging_steps=1)


def test_trains_and_writes_a_standard_folder(tmp_path, tiny_checkpoint, tiny_df):
    texts = tiny_df.Text.tolist()
    result = train_simcse(
        str(tiny_checkpoint), texts, TINY, output_dir=tmp_path / "run", seed=0, device="cpu", show_progress=False
    )
    out = result.model_dir
    assert out == tmp_path / "run" / "model" and (out / "modules.json").is_file()
    log = json.loads((tmp_path / "run" / "training_log.json").read_text())
    assert result.log == log  # the typed result carries the log written beside the model
    assert log["global_step"] == 8  # 60 texts / batch 8
    losses = [e["loss"] for e in log["log_history"] if "loss" in e]
    assert losses and all(v > 0 for v in losses)
    cfg = yaml.safe_load((tmp_path / "run" / "train_config.yaml").read_text())
    assert cfg["train"]["batch_size"] == 8 and cfg["n_texts"] == 60
    enc = load_encoder(str(out), max_seq_length=16)
    assert enc.identity["kind"] == "sentence-transformers"
    assert enc.encode(["the kite was big"]).shape == (1, 32)
    # a finished run is reused, not retrained
    again = train_simcse(
        str(tiny_checkpoint), texts, TINY, output_dir=tmp_path / "run", seed=0, device="cpu", show_progress=False
    )
    assert (
        again.model_dir == out
        and again.log == log
        and json.loads((tmp_path / "run" / "training_log.json").read_text()) == log
    )


def test_training_changes_the_model(tmp_path, tiny_checkpoint, tiny_df):
    import numpy as np

    out = train_simcse(
        str(tiny_checkpoint),
        tiny_df.Text.tolist(),
        TINY,
        output_dir=tmp_path / "r",
        seed=0,
        device="cpu",
        show_progress=False,
    ).model_dir
    texts = tiny_df.Text.tolist()[:5]
    before = load_encoder(str(tiny_checkpoint), max_seq_length=16).encode(texts)
    after = load_encoder(str(out), max_seq_length=16).encode(texts)
    assert not np.allclose(before, after)


def test_interrupted_run_resumes_from_checkpoint(tmp_path, tiny_checkpoint, tiny_df):
    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 5:
                raise KeyboardInterrupt

    class FirstStep(TrainerCallback):
        first = None

        def on_step_end(self, args, state, control, **kw):
            if FirstStep.first is None:
                FirstStep.first = state.global_step

    texts = tiny_df.Text.tolist()
    with pytest.raises(KeyboardInterrupt):
        train_simcse(
            str(tiny_checkpoint),
            texts,
            TINY,
            output_dir=tmp_path / "run",
            seed=0,
            device="cpu",
            show_progress=False,
            callbacks=[Crash()],
        )
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-4").is_dir()
    assert not (tmp_path / "run" / "training_log.json").exists()
    train_simcse(
        str(tiny_checkpoint),
        texts,
        TINY,
        output_dir=tmp_path / "run",
        seed=0,
        device="cpu",
        show_progress=False,
        callbacks=[FirstStep()],
    )
    log = json.loads((tmp_path / "run" / "training_log.json").read_text())
    assert log["resumed_from"] == "checkpoint-4"
    assert FirstStep.first == 5 and log["global_step"] == 8


def test_default_output_dir_is_keyed_by_settings(tmp_path, tiny_checkpoint, tiny_df):
    texts = tiny_df.Text.tolist()
    a = train_simcse(str(tiny_checkpoint), texts, TINY, data_dir=tmp_path, seed=0, device="cpu", show_progress=False)
    b = train_simcse(str(tiny_checkpoint), texts, TINY, data_dir=tmp_path, seed=0, device="cpu", show_progress=False)
    assert a.model_dir == b.model_dir and a.model_dir.parent.parent == tmp_path / "interim" / "models"


@pytest.mark.parametrize(
    "field,value,msg",
    [("batch_size", 1, "batch_size"), ("epochs", 0, "epochs"), ("learning_rate", 2.0, "learning_rate")],
)
def test_bad_settings(field, value, msg):
    import dataclasses

    with pytest.raises(ValueError, match=msg):
        validate(dataclasses.replace(TrainConfig(), **{field: value}))


def test_too_few_texts(tiny_checkpoint):
    with pytest.raises(ValueError, match="at least 2 distinct"):
        train_simcse(str(tiny_checkpoint), ["same", "same", ""], TINY)


@pytest.mark.slow
def test_torchrun_two_processes_train_with_gloo(tmp_path, tiny_csv, tiny_checkpoint):
    """`torchrun --standalone --nproc_per_node=2` runs the unchanged CLI: world size 2, in-batch
    negatives gathered across ranks, only rank 0 writes, the saved model loads, and an interrupted
    run resumes from its newest checkpoint."""
    import json
    import math
    import os
    import shutil
    import subprocess
    import sys

    from sentence_transformers import SentenceTransformer

    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "simcse_lab.cli",
        "train",
        "--model",
        str(tiny_checkpoint),
        "--set",
        f"corpus.source={tiny_csv}",
        "--set",
        f"data_dir={tmp_path / 'data'}",
        "--set",
        "corpus.n_samples=null",
        "--set",
        "corpus.heldout=0",
        "--set",
        "corpus.drop_labels=[]",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.max_seq_length=16",
        "--set",
        "train.learning_rate=1e-3",
        "--set",
        "train.checkpoint_steps=1",
        "--set",
        "encode.show_progress=false",
        "-q",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = [ln for ln in proc.stdout.splitlines() if ln.startswith("trained model:")]
    assert len(said) == 1  # one rank speaks
    (run,) = list((tmp_path / "data" / "interim" / "models").glob("simcse-*"))
    log = json.loads((run / "training_log.json").read_text())
    assert log["world_size"] == 2
    # 60 texts, batch 8 on each of 2 ranks: 3-4 steps (the sampler may drop a ragged last batch); one process: 8
    assert log["global_step"] in (60 // 16, math.ceil(60 / 16))
    assert SentenceTransformer(str(run / "model"), device="cpu").encode(["a dog toy"]).shape == (1, 32)

    # interrupted after the checkpoint before the last: no log, no model, the last checkpoint gone
    (run / "training_log.json").unlink()
    shutil.rmtree(run / "model")
    ckpts = sorted(run.glob("checkpoints/checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    shutil.rmtree(ckpts[-1])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = json.loads((run / "training_log.json").read_text())
    assert log["resumed_from"] == ckpts[-2].name and log["world_size"] == 2
