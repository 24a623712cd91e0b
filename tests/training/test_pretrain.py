import json

import pytest

from simcse_lab.core.config import PretrainConfig, validate
from simcse_lab.training.pretrain import mlm_loss, pretrain_mlm

pytestmark = pytest.mark.slow


def tiny(tokenizer, **kw):
    base = dict(
        tokenizer=str(tokenizer),
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        max_steps=40,
        batch_size=16,
        learning_rate=5e-3,
        max_seq_length=16,
        checkpoint_steps=4,
        logging_steps=1,
    )
    return PretrainConfig(**{**base, **kw})


def test_mlm_pretraining_lowers_the_loss_and_loads_as_a_model_spec(tmp_path, tiny_checkpoint, tiny_df):
    from simcse_lab.encoding.resolve import load_encoder

    texts = tiny_df.Text.tolist()
    # 2 steps: one step alone would fall in the warm-up at learning rate 0 (refused)
    barely = pretrain_mlm(
        texts, tiny(tiny_checkpoint, max_steps=2), output_dir=tmp_path / "a", seed=0, device="cpu", show_progress=False
    ).model_dir
    trained = pretrain_mlm(
        texts, tiny(tiny_checkpoint), output_dir=tmp_path / "b", seed=0, device="cpu", show_progress=False
    ).model_dir
    assert mlm_loss(trained, texts, max_seq_length=16) < mlm_loss(barely, texts, max_seq_length=16) - 0.5
    log = json.loads((trained.parent / "pretrain_log.json").read_text())
    assert log["global_step"] == 40 and log["last_logged_loss"] < log["first_logged_loss"]
    enc = load_encoder(str(trained), max_seq_length=16, pooling="mean")
    assert enc.identity["kind"] == "transformers"
    assert enc.encode(["the kite was big"]).shape == (1, 32)


def test_resume_continues_from_the_checkpoint(tmp_path, tiny_checkpoint, tiny_df):
    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 6:
                raise KeyboardInterrupt

    cfg = tiny(tiny_checkpoint, max_steps=10)
    with pytest.raises(KeyboardInterrupt):
        pretrain_mlm(
            tiny_df.Text.tolist(),
            cfg,
            output_dir=tmp_path / "r",
            seed=0,
            device="cpu",
            show_progress=False,
            callbacks=[Crash()],
        )
    assert (tmp_path / "r" / "checkpoints" / "checkpoint-4").is_dir()
    out = pretrain_mlm(tiny_df.Text.tolist(), cfg, output_dir=tmp_path / "r", seed=0, device="cpu", show_progress=False)
    log = json.loads((out.run_dir / "pretrain_log.json").read_text())
    assert out.log == log
    assert log["resumed_from"] == "checkpoint-4" and log["global_step"] == 10
    # a finished run is reused
    assert pretrain_mlm(tiny_df.Text.tolist(), cfg, output_dir=tmp_path / "r", seed=0, device="cpu") == out


def test_continue_from_an_existing_checkpoint(tmp_path, tiny_checkpoint, tiny_df):
    # the tiny fixture is a BertModel without an MLM head: transformers adds a fresh head
    out = pretrain_mlm(
        tiny_df.Text.tolist(),
        tiny(tiny_checkpoint, base=str(tiny_checkpoint), max_steps=4),
        data_dir=tmp_path,
        seed=0,
        device="cpu",
        show_progress=False,
    ).model_dir
    assert out.parent.parent == tmp_path / "interim" / "models" and (out / "config.json").is_file()


def test_bad_settings():
    with pytest.raises(ValueError, match="multiple of"):
        validate(PretrainConfig(hidden_size=30, num_heads=4))
    with pytest.raises(ValueError, match="mlm_probability"):
        validate(PretrainConfig(mlm_probability=1.5))


def test_masked_only_loss_equals_the_models_own_loss(tiny_checkpoint, tiny_df):
    import torch
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
    )

    from simcse_lab.training.losses import masked_only_mlm_loss

    tok = AutoTokenizer.from_pretrained(str(tiny_checkpoint))
    model = AutoModelForMaskedLM.from_pretrained(str(tiny_checkpoint)).eval()
    texts = tiny_df["Text"].tolist()[:16]
    enc = tok(texts, truncation=True, max_length=16)
    torch.manual_seed(0)
    batch = DataCollatorForLanguageModeling(tok, mlm_probability=0.3)([{k: enc[k][i] for k in enc} for i in range(16)])
    with torch.no_grad():
        full = model(**batch).loss
        fast = masked_only_mlm_loss(model, batch)
        n = (batch["labels"] != -100).sum()
        summed = masked_only_mlm_loss(model, batch, num_items_in_batch=n)
    assert torch.allclose(full, fast, atol=1e-5) and torch.allclose(full, summed, atol=1e-5)
