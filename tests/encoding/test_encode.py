import numpy as np
import pytest

from simcse_lab.encoding.encode import (
    embedding_cache_key,
    encode_texts,
    texts_fingerprint,
)

TEXTS = [f"text number {i}" for i in range(50)]


def test_shape_dtype_and_normalisation(fake_encoder):
    x = encode_texts(fake_encoder, TEXTS, show_progress=False)
    assert x.shape == (50, 8) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    raw = encode_texts(fake_encoder, TEXTS, normalize=False, show_progress=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)


def test_streams_in_chunks(fake_encoder):
    x = encode_texts(fake_encoder, TEXTS, chunk_size=16, batch_size=4, show_progress=False)
    assert fake_encoder.calls == 4  # 16 + 16 + 16 + 2
    assert np.array_equal(x, encode_texts(type(fake_encoder)(), TEXTS, show_progress=False))


def test_cache_hit_skips_encoder(tmp_path, fake_encoder):
    first = encode_texts(fake_encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    calls = fake_encoder.calls
    second = encode_texts(fake_encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    assert fake_encoder.calls == calls
    assert np.array_equal(first, second) and second.dtype == np.float32
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_key_separates_settings(fake_encoder):
    fp = texts_fingerprint(TEXTS)
    base = embedding_cache_key(fake_encoder.identity, fp, normalize=True)
    assert base != embedding_cache_key(fake_encoder.identity, fp, normalize=False)
    assert base != embedding_cache_key({**fake_encoder.identity, "max_seq_length": 64}, fp, normalize=True)
    assert base != embedding_cache_key(fake_encoder.identity, texts_fingerprint(TEXTS[:-1]), normalize=True)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "null record", "list record", "string record"])
def test_corrupt_cache_is_recomputed(tmp_path, fake_encoder, damage):
    good = encode_texts(fake_encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    (npy,) = tmp_path.glob("*.npy")
    blob = npy.read_bytes()
    if damage.endswith("record"):  # valid JSON that is no record: a miss, not an AttributeError on every run
        npy.with_suffix(".json").write_text(
            {"null record": "null", "list record": "[]", "string record": '"x"'}[damage]
        )
    elif damage == "truncate":
        npy.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        npy.write_bytes(blob[:-4] + bytes(b ^ 0xFF for b in blob[-4:]))
    else:
        npy.write_bytes(b"\x93NUMPY garbage")
    calls = fake_encoder.calls
    again = encode_texts(fake_encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    assert fake_encoder.calls > calls
    assert np.array_equal(good, again)
    # and the repaired entry is trusted again
    calls = fake_encoder.calls
    encode_texts(fake_encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    assert fake_encoder.calls == calls


def test_bad_input(fake_encoder):
    with pytest.raises(ValueError, match="at least one text"):
        encode_texts(fake_encoder, [])
    with pytest.raises(ValueError, match="item 1 is int"):
        encode_texts(fake_encoder, ["a", 3])  # type: ignore[list-item]
