"""Encode backends (ONNX Runtime export checked against torch), lazy models, UMAP cache, threads."""

import json

import numpy as np
import pytest

from simcse_lab.encoding import backends
from simcse_lab.encoding.backends import OnnxEncoder, select_backend
from simcse_lab.encoding.encoders import SentenceEncoder, TfidfLsaEncoder
from simcse_lab.encoding.resolve import load_encoder

pytestmark = pytest.mark.skipif(not backends.onnx_available(), reason="onnxruntime/onnx not installed")

TEXTS = [
    "red dress",
    "a warm winter coat with a hood and deep pockets for the cold months",
    "battery",
    "the phone charger stopped working after two days of use and the seller never answered",
    "blue summer dress with flowers",
    "coat",
    "long coat",
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_model_is_loaded_only_when_first_needed(tiny_checkpoint):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    assert isinstance(enc, SentenceEncoder) and not enc.loaded
    assert enc.identity["source"].startswith("folder:") and enc.identity["max_seq_length"] == 16
    assert enc.encode(TEXTS[:2]).shape[0] == 2 and enc.loaded


def test_onnx_export_matches_torch_for_any_batch_and_length(tiny_checkpoint, tmp_path):
    torch_enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    onnx_enc = select_backend(torch_enc, "onnx", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
    assert isinstance(onnx_enc, OnnxEncoder)
    assert onnx_enc.identity == {**torch_enc.identity, "backend": "onnx"}
    ref = torch_enc.encode(TEXTS)
    for batch_size in (1, 3, 64):  # shapes other than the one traced at export
        got = onnx_enc.encode(TEXTS, batch_size=batch_size)
        assert got.shape == ref.shape and cosines(ref, got).min() >= 0.999
    record = json.loads((onnx_enc.path.parent / "export.json").read_text())
    assert set(record["variants"]) == {"onnx"}  # only the variant asked for is made and checked
    select_backend(torch_enc, "onnx-int8", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
    record = json.loads((onnx_enc.path.parent / "export.json").read_text())
    assert set(record["variants"]) == {"onnx", "onnx-int8"}  # another variant joins the ones made before
    if backends.openvino_available():
        ov_enc = select_backend(torch_enc, "openvino", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
        assert ov_enc.runtime == "openvino" and ov_enc.identity["backend"] == "openvino"
        for batch_size in (1, 64):
            assert cosines(ref, ov_enc.encode(TEXTS, batch_size=batch_size)).min() >= 0.999
    assert record["variants"]["onnx"]["usable"] and record["torch_texts_per_s"] > 0


def test_auto_decides_from_the_machine_record_and_the_number_of_texts(tiny_checkpoint, tmp_path, monkeypatch):
    """No timing is taken during a run: without a speed record of this machine auto keeps torch; with
    one it exports only when the texts repay the export, and the same request decides the same."""
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    first = select_backend(enc, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
    assert first is enc and "no speed record of this machine" in first.choice_reason
    folder = backends.export_dir(enc, tmp_path)
    assert not folder.exists()

    speed_path = backends._speed_path(enc, tmp_path)
    speed_path.parent.mkdir(parents=True, exist_ok=True)
    record = {"torch": 100.0, "variants": {"onnx": 200.0, "onnx-int8": 150.0}, "export_seconds": 1000.0}
    speed_path.write_text(json.dumps(record))
    kept = select_backend(enc, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
    assert kept is enc and "7 texts would save only 0 s against an export of 1000 s" in kept.choice_reason
    assert not folder.exists()

    speed_path.write_text(json.dumps({**record, "export_seconds": 0.0001}))
    onnx = select_backend(enc, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
    assert onnx.identity["backend"] == "onnx" and onnx.choice_reason.startswith("onnx: onnx 200 texts/s vs torch 100")
    assert set(json.loads((folder / "export.json").read_text())["variants"]) == {"onnx"}  # only what is used
    assert onnx._session is not None  # the session compiled to check the export is the one the run encodes with
    assert json.loads((folder / "export.json").read_text())["n_probe_texts"] == min(len(TEXTS), backends.CHECK_TEXTS)

    def no_export(*args, **kwargs):
        raise AssertionError("the export must be reused")

    monkeypatch.setattr(backends, "export_onnx", no_export)
    fresh = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    again = select_backend(fresh, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
    assert again.identity == onnx.identity and not fresh.loaded and "exported already" in again.choice_reason


def test_probe_writes_the_speed_record_auto_reads(tiny_checkpoint, tmp_path):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    speed = backends.probe_speeds(enc, TEXTS * 5, tmp_path, repeats=1)
    assert speed["torch"] > 0 and {"onnx", "onnx-int8"} <= set(speed["variants"]) and speed["export_seconds"] > 0
    assert json.loads(backends._speed_path(enc, tmp_path).read_text())["machine"]["cpu"]
    chosen = select_backend(
        load_encoder(str(tiny_checkpoint), max_seq_length=16),
        "auto",
        probe_texts=TEXTS,
        data_dir=tmp_path,
        device="cpu",
    )
    assert "this machine" in chosen.choice_reason


def test_backend_errors_name_the_problem(tiny_checkpoint, tmp_path):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    with pytest.raises(ValueError, match="encode.backend must be one of"):
        select_backend(enc, "tensorrt", probe_texts=TEXTS, data_dir=tmp_path)
    with pytest.raises(ValueError, match="run on CPU"):
        select_backend(enc, "onnx", probe_texts=TEXTS, data_dir=tmp_path, device="cuda")
    # auto on a GPU device, and non-neural encoders, keep what they are
    assert select_backend(enc, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cuda") is enc
    tfidf = TfidfLsaEncoder()
    assert select_backend(tfidf, "onnx", probe_texts=TEXTS, data_dir=tmp_path) is tfidf


def test_unknown_backend_fails_before_any_work(tmp_path):
    from simcse_lab.core.config import ExperimentConfig, with_overrides
    from simcse_lab.experiment import run

    cfg = with_overrides(ExperimentConfig(), {"encode.backend": "gpu-please", "data_dir": str(tmp_path)})
    with pytest.raises(ValueError, match=r"encode.backend must be one of \[.*\], got 'gpu-please'"):
        run(cfg)


def test_auto_skips_the_export_for_an_architecture_where_onnx_was_slower(tiny_checkpoint, tmp_path, monkeypatch):
    """The record is per architecture on this machine: a model of the same shape (a trained sibling)
    is decided from it without exporting or loading anything."""
    from conftest import build_tiny_checkpoint

    enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    speed_path = backends._speed_path(enc, tmp_path)
    speed_path.parent.mkdir(parents=True, exist_ok=True)
    speed_path.write_text(
        json.dumps({"torch": 100.0, "variants": {"onnx": 50.0, "onnx-int8": 60.0}, "export_seconds": 1.0})
    )

    def no_export(*args, **kwargs):
        raise AssertionError("no export for an architecture where ONNX was slower")

    monkeypatch.setattr(backends, "export_onnx", no_export)
    sibling = load_encoder(str(build_tiny_checkpoint(tmp_path / "sibling", seed=1)), max_seq_length=16)
    assert sibling.identity != enc.identity and backends._speed_path(sibling, tmp_path) == speed_path
    chosen = select_backend(sibling, "auto", probe_texts=TEXTS * 1000, data_dir=tmp_path, device="cpu")
    assert chosen is sibling and "no usable ONNX variant is faster" in chosen.choice_reason
    assert not sibling.loaded


@pytest.mark.parametrize("variant", ["onnx", "openvino"])
def test_batches_run_on_parallel_streams_in_order_with_the_results_of_one_at_a_time(tiny_checkpoint, tmp_path, variant):
    """`threads` batches are inferred at once, one thread each, while the next are tokenised; each
    text's vector is the one its batch gives when run alone, in the texts' order."""
    if variant == "openvino" and not backends.openvino_available():
        pytest.skip("openvino not installed")
    torch_enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    enc = select_backend(torch_enc, variant, probe_texts=TEXTS, data_dir=tmp_path, device="cpu", threads=2)
    assert enc.streams == 2
    if variant == "openvino":
        assert int(enc.session.get_property("NUM_STREAMS")) == 2
    else:
        assert enc.session.get_session_options().intra_op_num_threads == 1
    texts = TEXTS * 5
    got = enc.encode(texts, batch_size=2)
    alone = np.concatenate([enc.encode([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(got, alone, atol=1e-5)  # batch padding differs, the texts' order does not
    assert np.array_equal(got, enc.encode(texts, batch_size=2))  # the same on a rerun, whichever stream ran what


def test_a_speed_record_timed_with_another_encode_loop_is_not_read(tiny_checkpoint, tmp_path, monkeypatch):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    before = backends._speed_path(enc, tmp_path)
    monkeypatch.setattr(backends, "ENCODE_LOOP", backends.ENCODE_LOOP + 1)
    assert backends._speed_path(enc, tmp_path) != before


def test_a_damaged_speed_or_export_record_or_model_file_is_a_miss(tmp_path, caplog):
    import json

    from simcse_lab.encoding.backends import _export_shape, _read_record, _speed_shape, _whole_files

    speed = tmp_path / "speed.json"
    for wrong in ({"torch": "fast", "variants": {}}, {"torch": 20.0, "variants": ["onnx"]}, [1, 2]):
        speed.write_text(json.dumps(wrong))
        assert _read_record(speed, "torch" if isinstance(wrong, dict) else "", _speed_shape) is None
    assert "is not a readable record" in caplog.text
    speed.write_text(json.dumps({"torch": 20.0, "variants": {"onnx": 30.5}}))
    assert _read_record(speed, "torch", _speed_shape)["variants"] == {"onnx": 30.5}
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"variants": {"onnx": {"file": "model.onnx", "usable": "yes", "min_cosine": 1}}}))
    assert _read_record(export, "variants", _export_shape) is None
    entry = {"file": "model.onnx", "usable": True, "min_cosine": 0.999, "bytes": 10}
    record = {"variants": {"onnx": entry, "openvino": {**entry, "file": "model_ov.onnx"}}}
    (tmp_path / "model.onnx").write_bytes(b"0123456789")
    (tmp_path / "model_ov.onnx").write_bytes(b"01234")  # truncated
    assert list(_whole_files(record, tmp_path)["variants"]) == ["onnx"]
    (tmp_path / "model.onnx").write_bytes(b"")  # zero bytes
    assert _whole_files(record, tmp_path)["variants"] == {}
    assert "missing or damaged" in caplog.text
