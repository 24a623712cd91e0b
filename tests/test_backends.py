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
    assert {"onnx", "onnx-int8"} <= set(record["variants"])
    if backends.openvino_available():
        ov_enc = select_backend(torch_enc, "openvino", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
        assert ov_enc.runtime == "openvino" and ov_enc.identity["backend"] == "openvino"
        for batch_size in (1, 64):
            assert cosines(ref, ov_enc.encode(TEXTS, batch_size=batch_size)).min() >= 0.999
    assert record["variants"]["onnx"]["usable"] and record["torch_texts_per_s"] > 0


def test_auto_reuses_the_recorded_choice_and_falls_back_to_torch(tiny_checkpoint, tmp_path, monkeypatch):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    first = select_backend(enc, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
    folder = backends.export_dir(enc, tmp_path)
    record = json.loads((folder / "export.json").read_text())
    usable = {k: v for k, v in record["variants"].items() if v["usable"] and v["texts_per_s"] > record["torch_texts_per_s"]}
    expected = max(usable, key=lambda k: usable[k]["texts_per_s"]) if usable else None
    assert getattr(first, "identity", {}).get("backend") == expected

    def no_export(*args, **kwargs):
        raise AssertionError("the recorded export must be reused")

    monkeypatch.setattr(backends, "export_onnx", no_export)
    fresh = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    again = select_backend(fresh, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
    assert again.identity == first.identity and not fresh.loaded  # decided without loading the model

    # no variant both close to torch and faster: torch stays
    for v in record["variants"].values():
        v["usable"] = False
    (folder / "export.json").write_text(json.dumps(record))
    assert select_backend(fresh, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cpu") is fresh


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
    from conftest import build_tiny_checkpoint

    enc = load_encoder(str(tiny_checkpoint), max_seq_length=16)
    select_backend(enc, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cpu")
    speed_files = list((tmp_path / "interim" / "onnx").glob("speed-*.json"))
    assert len(speed_files) == 1
    speed = json.loads(speed_files[0].read_text())
    assert {"torch", "onnx", "onnx-int8"} <= set(speed)
    # pretend torch was the fastest for this shape on this machine
    speed_files[0].write_text(json.dumps({"torch": 100.0, "onnx": 50.0, "onnx-int8": 60.0, "openvino": 70.0}))

    def no_export(*args, **kwargs):
        raise AssertionError("no export for an architecture where ONNX was slower")

    monkeypatch.setattr(backends, "export_onnx", no_export)
    sibling = load_encoder(str(build_tiny_checkpoint(tmp_path / "sibling", seed=1)), max_seq_length=16)
    assert sibling.identity != enc.identity
    assert select_backend(sibling, "auto", probe_texts=TEXTS, data_dir=tmp_path, device="cpu") is sibling
    assert not sibling.loaded
