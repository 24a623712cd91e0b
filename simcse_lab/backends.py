"""Encode backends on CPU: torch, ONNX Runtime (fp32 or dynamically int8-quantised), OpenVINO.

sentence-transformers' own ``backend="onnx"``/``"openvino"`` go through optimum-onnx, whose only
release (0.1.0) pins ``transformers<4.58`` and would pull this whole stack back to
sentence-transformers 5.x, and optimum-intel (nncf, torchvision, a transformers cap). So the
export here is torch's own (``torch.onnx.export``) of the *whole* sentence-transformers forward
(transformer, pooling, normalisation), run by plain ``onnxruntime`` or by plain ``openvino``,
which compiles the same ONNX file; tokenisation stays the model's own
(``SentenceTransformer.preprocess``). Only ``onnxruntime``, ``onnx`` and ``openvino`` (the ``onnx``
extra) are added, and the main stack keeps its versions.

An export lives under ``<data_dir>/interim/onnx/<key>/`` (key = the model's identity and the
torch/onnxruntime versions) with ``export.json``: for each variant, the lowest cosine similarity
to torch's embedding over a probe of texts of every length, and texts/s on this machine. A variant
is *usable* when that minimum cosine is >= ``MIN_COSINE``; ``backend="auto"`` picks the fastest
usable variant if it beats torch, else torch, and records the choice, so a rerun (and an
embedding-cache lookup) needs neither the export nor the model. The texts/s are also kept per
architecture and machine (``speed-<key>.json``): when no ONNX variant was faster than torch for
a model of the same shape (e.g. the SimCSE model trained from it), ``auto`` keeps torch without
exporting at all. Variants: ``onnx`` (ONNX Runtime, fp32), ``onnx-int8`` (ONNX Runtime, dynamic
int8 weights), ``openvino`` (OpenVINO on CPU, fp32, when installed).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .assets import atomic_folder
from .cache import cache_key
from .checkpoints import architecture
from .schema import EncodeConfig, choices_of
from .encoders import Encoder, SentenceEncoder

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS", "MIN_COSINE", "OnnxEncoder", "export_onnx", "onnx_available", "openvino_available", "select_backend",
]

BACKENDS = choices_of(EncodeConfig, "backend")  # declared once, in the schema
MIN_COSINE = 0.99
_VARIANTS = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx", "openvino": "model.onnx"}  # variant -> file


def _runtime(variant: str) -> str:
    return "openvino" if variant == "openvino" else "onnxruntime"


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def onnx_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


def _threads() -> int:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:  # pragma: no cover
        return os.cpu_count() or 1


def _input_names(features: dict[str, Any]) -> list[str]:
    return [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in features]


def _to_numpy(features: dict[str, Any], names: list[str]) -> dict[str, np.ndarray]:
    return {k: features[k].cpu().numpy() for k in names}


@dataclass
class OnnxEncoder:
    """An exported sentence-transformers model behind the :class:`~simcse_lab.models.Encoder` interface."""

    path: Path
    torch_encoder: SentenceEncoder  # the model it was exported from: tokenises, and gives dropout views
    name: str
    identity: dict[str, Any]
    provenance: str = ""
    threads: int | None = None
    runtime: str = "onnxruntime"  # or "openvino" (which reads the same ONNX file)
    _session: Any = field(default=None, repr=False)

    @property
    def session(self) -> Any:
        if self._session is None and self.runtime == "openvino":
            import openvino as ov

            config = {"INFERENCE_NUM_THREADS": self.threads or _threads(), "PERFORMANCE_HINT": "LATENCY"}
            self._session = ov.Core().compile_model(str(self.path), "CPU", config)
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads or _threads()
            opts.inter_op_num_threads = 1
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        return self._session

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        texts = list(texts)
        st = self.torch_encoder.model
        session = self.session
        if self.runtime == "openvino":
            names = [i.get_any_name() for i in session.inputs]
            run = lambda feeds: session(feeds)[0]  # noqa: E731
        else:
            names = [i.name for i in session.get_inputs()]
            run = lambda feeds: session.run(None, feeds)[0]  # noqa: E731
        # like SentenceTransformer.encode: longest first, so each batch pads to similar lengths
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out: np.ndarray | None = None
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            features = st.preprocess([texts[i] for i in idx])
            emb = np.asarray(run(_to_numpy(features, names)), dtype=np.float32)
            if out is None:
                out = np.empty((len(texts), emb.shape[1]), dtype=np.float32)
            out[idx] = emb
        assert out is not None
        return out


class _Wrapped:
    """The ST forward as a function of plain tensors (what torch.onnx.export traces)."""

    @staticmethod
    def build(st: Any, names: list[str]) -> Any:
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.st = st

            def forward(self, *tensors):
                return self.st(dict(zip(names, tensors)))["sentence_embedding"]

        return Wrapped().eval()


def export_onnx(encoder: SentenceEncoder, dest: str | Path, probe_texts: list[str], *, batch_size: int = 32) -> dict:
    """Export ``encoder``'s model to ``dest`` (fp32 and int8), check both against torch on
    ``probe_texts`` and time all three; write and return ``export.json``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dest = Path(dest)
    st = encoder.model
    st.eval()
    probe = list(probe_texts)
    sample = st.preprocess(probe[:2] if len(probe) >= 2 else probe * 2)
    names = _input_names(sample)
    t0 = time.perf_counter()
    with atomic_folder(dest) as tmp, torch.no_grad(), warnings.catch_warnings():
        # the tracer warns about every Python branch it freezes; the export is checked numerically below
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Wrapped.build(st, names), tuple(sample[k] for k in names), str(tmp / _VARIANTS["onnx"]),
            input_names=names, output_names=["sentence_embedding"],
            dynamic_axes={**{k: {0: "batch", 1: "sequence"} for k in names}, "sentence_embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
        export_s = time.perf_counter() - t0
        with _quiet_root_logger():
            quantize_dynamic(
                str(tmp / _VARIANTS["onnx"]), str(tmp / _VARIANTS["onnx-int8"]), weight_type=QuantType.QInt8
            )
        record: dict[str, Any] = {"identity": encoder.identity, "export_seconds": round(export_s, 2), "variants": {}}
        ref, ref_s = _timed(encoder, probe, batch_size)
        record["torch_texts_per_s"] = round(len(probe) / ref_s, 1)
        for variant, fname in _VARIANTS.items():
            if _runtime(variant) == "openvino" and not openvino_available():
                continue
            onnx_enc = OnnxEncoder(tmp / fname, encoder, encoder.name, encoder.identity, runtime=_runtime(variant))
            got, secs = _timed(onnx_enc, probe, batch_size)
            cos = np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1) + 1e-12)
            record["variants"][variant] = {
                "file": fname, "min_cosine": round(float(cos.min()), 5), "mean_cosine": round(float(cos.mean()), 5),
                "texts_per_s": round(len(probe) / secs, 1), "usable": bool(cos.min() >= MIN_COSINE),
            }
        record["n_probe_texts"] = len(probe)
        record["versions"] = _versions()
        (tmp / "export.json").write_text(json.dumps(record, indent=2))
    return record


def _timed(encoder: Encoder, texts: list[str], batch_size: int) -> tuple[np.ndarray, float]:
    encoder.encode(texts[:batch_size], batch_size=batch_size)  # warm-up (graph optimisation, allocations)
    t0 = time.perf_counter()
    x = np.asarray(encoder.encode(texts, batch_size=batch_size), dtype=np.float32)
    return x, time.perf_counter() - t0


def _versions() -> dict[str, str]:
    from .runtime import package_versions

    return package_versions(("torch", "onnxruntime", "onnx", "openvino", "transformers", "sentence-transformers"))


def export_dir(encoder: SentenceEncoder, data_dir: str | Path) -> Path:
    return Path(data_dir) / "interim" / "onnx" / cache_key({"identity": encoder.identity, **_versions()}, length=16)


def _speed_path(encoder: SentenceEncoder, data_dir: str | Path) -> Path | None:
    """Where the texts/s of torch and each ONNX variant are kept for models of this architecture
    on this machine (speed depends on the shape, not the weights); None for non-local models."""
    arch = architecture(encoder.folder) if encoder.folder is not None else None
    if arch is None:
        return None
    from .runtime import available_cores, cpu_name

    parts = {"arch": arch, "max_seq_length": encoder.identity.get("max_seq_length"), "cores": available_cores(),
             "cpu": cpu_name(), **_versions()}
    return Path(data_dir) / "interim" / "onnx" / f"speed-{cache_key(parts, length=16)}.json"


def _probe(texts: list[str], n: int = 96) -> list[str]:
    """Up to ``n`` texts spread over the length range (shortest to longest), for checks and timing."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    picks = np.unique(np.linspace(0, len(order) - 1, num=min(n, len(order))).round().astype(int))
    return [texts[order[i]] for i in picks]


def select_backend(
    encoder: Encoder,
    backend: str,
    *,
    probe_texts: list[str],
    data_dir: str | Path = "data",
    device: str | None = None,
    threads: int | None = None,
) -> Encoder:
    """The encoder to use for ``backend`` (see the module docstring). Non-transformer encoders,
    GPU devices and a missing onnxruntime keep the encoder as it is (``auto``) or fail (``onnx*``)."""
    if backend not in BACKENDS:
        raise ValueError(f"encode.backend must be one of {list(BACKENDS)}, got {backend!r}")
    if backend == "torch" or not isinstance(encoder, SentenceEncoder):
        return encoder
    explicit = backend != "auto"
    problem = None
    if device not in (None, "cpu"):
        problem = f"device {device!r} (the ONNX backends run on CPU)"
    elif device is None and _cuda_available():
        problem = "a CUDA device is available (the ONNX backends run on CPU)"
    elif not onnx_available():
        problem = "onnxruntime/onnx are not installed (pip install 'simcse-lab[onnx]')"
    if problem:
        if explicit:
            raise ValueError(f"encode.backend={backend!r} cannot be used: {problem}")
        logger.info("%s: torch backend, because %s", encoder.name, problem)
        return encoder
    folder = export_dir(encoder, data_dir)
    record_path = folder / "export.json"
    speed_path = _speed_path(encoder, data_dir)
    if record_path.is_file():
        record = json.loads(record_path.read_text())
    else:
        if not explicit and speed_path is not None and speed_path.is_file():
            speed = json.loads(speed_path.read_text())
            if not any(v > speed["torch"] for k, v in speed.items() if k != "torch"):
                # a model of this shape was timed on this machine: no ONNX variant was faster
                logger.info("%s: torch backend (ONNX was not faster for this architecture here: %s)",
                            encoder.name, speed)
                return encoder
        if not probe_texts:
            raise ValueError("select_backend needs probe texts to check an export against torch")
        logger.info("%s: exporting to ONNX and checking it against torch (%s)", encoder.name, folder)
        record = export_onnx(encoder, folder, _probe(list(probe_texts)))
        if speed_path is not None:
            speed = {"torch": record["torch_texts_per_s"], **{k: v["texts_per_s"] for k, v in record["variants"].items()}}
            speed_path.parent.mkdir(parents=True, exist_ok=True)
            speed_path.write_text(json.dumps(speed))
    variants = record["variants"]
    if explicit:
        chosen = backend
        if chosen not in variants:
            raise ValueError(f"encode.backend={backend!r} cannot be used: openvino is not installed (pip install openvino)")
        if not variants[chosen]["usable"]:
            logger.warning(
                "%s: %s embeddings reach only cosine %.3f to torch's (< %.2f); using it as asked",
                encoder.name, chosen, variants[chosen]["min_cosine"], MIN_COSINE,
            )
    else:
        usable = {k: v for k, v in variants.items() if v["usable"] and v["texts_per_s"] > record["torch_texts_per_s"]}
        if not usable:
            logger.info("%s: torch backend (no ONNX variant both matches torch and is faster)", encoder.name)
            return encoder
        chosen = max(usable, key=lambda k: usable[k]["texts_per_s"])
    logger.info(
        "%s: %s backend (%.0f texts/s vs torch %.0f; min cosine to torch %.4f)", encoder.name, chosen,
        variants[chosen]["texts_per_s"], record["torch_texts_per_s"], variants[chosen]["min_cosine"],
    )
    return OnnxEncoder(
        folder / variants[chosen]["file"], encoder, encoder.name, {**encoder.identity, "backend": chosen},
        encoder.provenance, threads=threads, runtime=_runtime(chosen),
    )


def _cuda_available() -> bool:
    """torch's answer, without importing torch (seconds) on a machine with no NVIDIA driver."""
    if "torch" not in sys.modules and not Path("/proc/driver/nvidia/version").exists():
        return False
    import torch

    return torch.cuda.is_available()


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime's quantiser logs a pre-processing hint on the root logger; hide it meanwhile."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
