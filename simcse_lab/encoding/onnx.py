"""ONNX export of a sentence-transformers model, and the encoder that runs it.

sentence-transformers' own ``backend="onnx"``/``"openvino"`` go through optimum-onnx, whose only
release (0.1.0) pins ``transformers<4.58`` and would pull this whole stack back to
sentence-transformers 5.x, and optimum-intel (nncf, torchvision, a transformers cap). So the
export here is torch's own (``torch.onnx.export``) of the *whole* sentence-transformers forward
(transformer, pooling, normalisation), run by plain ``onnxruntime`` or by plain ``openvino``,
which compiles the same ONNX file; tokenisation stays the model's own
(``SentenceTransformer.preprocess``). Only ``onnxruntime``, ``onnx`` and ``openvino`` (the ``onnx``
extra) are added, and the main stack keeps its versions. Variants: ``onnx`` (ONNX Runtime, fp32),
``onnx-int8`` (ONNX Runtime, dynamic int8 weights), ``openvino`` (OpenVINO on CPU, fp32, when
installed). `export_onnx` checks each against torch (lowest cosine over a probe of texts)
and times it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.assets import atomic_folder
from .encoders import Encoder, SentenceEncoder

logger = logging.getLogger(__name__)

__all__ = [
    "MIN_COSINE",
    "OnnxEncoder",
    "export_onnx",
    "onnx_available",
    "openvino_available",
    "package_versions_of_export",
    "runtime_of",
]

MIN_COSINE = 0.99
#: how `OnnxEncoder` runs its batches; a speed record timed with another loop is measured again
ENCODE_LOOP = 2  # 2: `streams` batches at once, one thread each (1: one batch at a time on every thread)
_VARIANTS = {"onnx": "model.onnx", "onnx-int8": "model_int8.onnx", "openvino": "model.onnx"}  # variant -> file


def runtime_of(variant: str) -> str:
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
    """An exported sentence-transformers model behind the `Encoder` interface."""

    path: Path
    torch_encoder: SentenceEncoder  # the model it was exported from: tokenises, and gives dropout views
    name: str
    identity: dict[str, Any]
    provenance: str = ""
    threads: int | None = None
    runtime: str = "onnxruntime"  # or "openvino" (which reads the same ONNX file)
    _session: Any = field(default=None, repr=False)

    @property
    def streams(self) -> int:
        """Batches inferred at once, one thread each (``threads``; default torch's thread count)."""
        return max(1, self.threads or _threads())

    @property
    def session(self) -> Any:
        if self._session is None and self.runtime == "openvino":
            import openvino as ov

            config = {
                "INFERENCE_NUM_THREADS": self.streams,
                "PERFORMANCE_HINT": "THROUGHPUT",
                "NUM_STREAMS": self.streams,
            }
            self._session = ov.Core().compile_model(str(self.path), "CPU", config)
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1  # one thread per batch; `streams` batches run at once
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
        else:
            names = [i.name for i in session.get_inputs()]
        # like SentenceTransformer.encode: longest first, so each batch pads to similar lengths
        order = np.argsort([-len(t) for t in texts], kind="stable")
        batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        feeds = (_to_numpy(st.preprocess([texts[i] for i in idx]), names) for idx in batches)
        out: np.ndarray | None = None
        for idx, emb in zip(batches, self._infer(feeds), strict=True):
            if out is None:
                out = np.empty((len(texts), emb.shape[1]), dtype=np.float32)
            out[idx] = emb
        assert out is not None
        return out

    def _infer(self, feeds: Iterator[dict[str, np.ndarray]]) -> list[np.ndarray]:
        """Each batch's output, in order. ``streams`` batches are inferred at once, one thread each,
        while the next batches are tokenised here (faster than one batch at a time on all threads:
        docs/performance.md); a batch's result does not depend on which stream ran it."""
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        session, window = self.session, 2 * self.streams
        pool = None
        if self.runtime == "openvino":
            # requests taken in turn and waited for here, with no Python callback: a callback needs the
            # GIL on OpenVINO's stream thread, which deadlocks when a compiled model is freed meanwhile
            requests = [session.create_infer_request() for _ in range(window)]

            def start(k: int, feed: dict[str, np.ndarray]) -> Any:
                requests[k].start_async(feed)
                return requests[k]

            def finish(request: Any) -> np.ndarray:
                request.wait()
                return np.array(request.get_output_tensor(0).data, dtype=np.float32)
        else:
            pool = ThreadPoolExecutor(self.streams)  # onnxruntime runs one session from many threads

            def start(k: int, feed: dict[str, np.ndarray]) -> Any:
                return pool.submit(session.run, None, feed)

            def finish(job: Any) -> np.ndarray:
                return np.asarray(job.result()[0], dtype=np.float32)

        out: list[np.ndarray] = []
        pending: deque = deque()  # the oldest batch in flight holds the request the next one takes
        try:
            for i, feed in enumerate(feeds):
                if len(pending) == window:
                    out.append(finish(pending.popleft()))
                pending.append(start(i % window, feed))
            out.extend(finish(job) for job in pending)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
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


def export_onnx(
    encoder: SentenceEncoder,
    dest: str | Path,
    probe_texts: list[str],
    *,
    batch_size: int = 32,
    variants: tuple[str, ...] | None = None,
    threads: int | None = None,
    checked: dict[str, OnnxEncoder] | None = None,
) -> dict:
    """Export ``encoder``'s model to ``dest``, check each of ``variants`` (None: every variant, fp32,
    int8 and OpenVINO) against torch on ``probe_texts`` and time it; write and return
    ``export.json``. A run that needs one variant exports and checks only that one (the int8 file
    is quantised only when asked for). ``checked`` receives each checked encoder (``threads``
    threads), whose compiled session the run can go on using."""
    import torch

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
            _Wrapped.build(st, names),
            tuple(sample[k] for k in names),
            str(tmp / _VARIANTS["onnx"]),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**{k: {0: "batch", 1: "sequence"} for k in names}, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        export_s = time.perf_counter() - t0
        wanted = [v for v in _VARIANTS if variants is None or v in variants]
        if "onnx-int8" in wanted:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            with _quiet_root_logger():
                quantize_dynamic(
                    str(tmp / _VARIANTS["onnx"]), str(tmp / _VARIANTS["onnx-int8"]), weight_type=QuantType.QInt8
                )
        record: dict[str, Any] = {"identity": encoder.identity, "export_seconds": round(export_s, 2), "variants": {}}
        ref, ref_s = timed_encode(encoder, probe, batch_size)
        record["torch_texts_per_s"] = round(len(probe) / ref_s, 1)
        for variant, fname in [(v, _VARIANTS[v]) for v in wanted]:
            if runtime_of(variant) == "openvino" and not openvino_available():
                continue
            onnx_enc = OnnxEncoder(
                tmp / fname, encoder, encoder.name, encoder.identity, threads=threads, runtime=runtime_of(variant)
            )
            got, secs = timed_encode(onnx_enc, probe, batch_size)
            cos = np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1) + 1e-12)
            record["variants"][variant] = {
                "file": fname,
                "bytes": (tmp / fname).stat().st_size,  # a later run checks the file is whole
                "min_cosine": round(float(cos.min()), 5),
                "mean_cosine": round(float(cos.mean()), 5),
                "texts_per_s": round(len(probe) / secs, 1),
                "usable": bool(cos.min() >= MIN_COSINE),
            }
            if checked is not None:
                checked[variant] = onnx_enc
        record["n_probe_texts"] = len(probe)
        record["versions"] = package_versions_of_export()
        (tmp / "export.json").write_text(json.dumps(record, indent=2))
    return record


def timed_encode(encoder: Encoder, texts: list[str], batch_size: int) -> tuple[np.ndarray, float]:
    """``encoder``'s embeddings of ``texts`` and the seconds they took, after one warm-up batch."""
    encoder.encode(texts[:batch_size], batch_size=batch_size)  # warm-up (graph optimisation, allocations)
    t0 = time.perf_counter()
    x = np.asarray(encoder.encode(texts, batch_size=batch_size), dtype=np.float32)
    return x, time.perf_counter() - t0


def package_versions_of_export() -> dict[str, str]:
    from ..core.runtime import package_versions

    return package_versions(("torch", "onnxruntime", "onnx", "openvino", "transformers", "sentence-transformers"))


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
