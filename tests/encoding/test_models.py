import numpy as np
import pytest

from simcse_lab.encoding.encode import encode_texts
from simcse_lab.encoding.encoders import SentenceEncoder, TfidfLsaEncoder
from simcse_lab.encoding.resolve import folder_hash, load_encoder, minilm_path


def test_tfidf_lsa(tiny_df):
    enc = load_encoder("tfidf-lsa")
    assert isinstance(enc, TfidfLsaEncoder)
    x = encode_texts(enc, tiny_df.Text.tolist(), show_progress=False)
    assert x.dtype == np.float32 and x.shape[0] == len(tiny_df)


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_plain_checkpoint_gets_pooling(tiny_checkpoint, pooling):
    enc = load_encoder(str(tiny_checkpoint), pooling=pooling, max_seq_length=16)
    assert isinstance(enc, SentenceEncoder)
    assert enc.identity["kind"] == "transformers" and enc.identity["pooling"] == pooling
    assert enc.identity["source"] == f"folder:{folder_hash(tiny_checkpoint)}"
    x = enc.encode(["the puzzle was great", "coffee"])
    assert x.shape == (2, 32) and x.dtype == np.float32


def test_identity_tracks_settings(tiny_checkpoint):
    a = load_encoder(str(tiny_checkpoint), max_seq_length=16).identity
    b = load_encoder(str(tiny_checkpoint), max_seq_length=32).identity
    assert a != b and a["source"] == b["source"]


def test_dropout_views_differ_in_train_mode_only(tiny_checkpoint):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    texts = ["the lego was nice", "tea and bread", "a collar"]
    a, b = enc.encode_dropout_views(texts)
    assert a.shape == b.shape == (3, 32)
    assert not np.allclose(a, b)
    a2, b2 = enc.encode_dropout_views(texts)
    assert np.array_equal(a, a2) and np.array_equal(b, b2)  # seeded: reproducible
    e1, e2 = enc.encode(texts), enc.encode(texts)
    assert np.allclose(e1, e2)
    assert not enc.model.training


def test_minilm_alias_loads_offline():
    path = minilm_path()
    assert (path / "modules.json").is_file()
    enc = load_encoder("minilm", max_seq_length=32)
    assert enc.identity["kind"] == "sentence-transformers"
    x = enc.encode(["a lovely summer dress", "warm winter coat"])
    assert x.shape == (2, 384)


def test_random_init_alias(tmp_path):
    enc = load_encoder("random-init", data_dir=tmp_path, max_seq_length=32)
    assert enc.identity["kind"] == "transformers"
    again = load_encoder("random-init", data_dir=tmp_path, max_seq_length=32)
    assert again.identity == enc.identity  # the same saved weights, not a new draw
    x = enc.encode(["a lovely summer dress"])
    assert x.shape == (1, 384)


def test_bad_specs(tmp_path, tiny_checkpoint):
    with pytest.raises(ValueError, match="pooling must be one of"):
        load_encoder(str(tiny_checkpoint), pooling="avg")
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        load_encoder("./no/such/folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="neither modules.json"):
        load_encoder(str(empty))
    with pytest.raises(ValueError, match="non-empty string"):
        load_encoder("")


def test_hub_failure_is_one_clear_error(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match=r"cannot load model 'some-org/unknown-model'.*Offline, use an alias"):
        load_encoder("some-org/unknown-model")


def test_a_max_seq_length_beyond_the_models_positions_is_refused_before_loading(tmp_path):
    import json

    from simcse_lab.encoding.locations import locate_model

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "max_position_embeddings": 512}))
    assert locate_model(tmp_path, max_seq_length=512).identity["max_seq_length"] == 512
    with pytest.raises(ValueError, match="max_seq_length 1000000 is more than the model in .* can read \\(512 token"):
        locate_model(tmp_path, max_seq_length=1_000_000)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roberta", "max_position_embeddings": 514}))
    with pytest.raises(ValueError, match="at most 512"):
        locate_model(tmp_path, max_seq_length=513)
