"""Encode backends on CPU: torch, ONNX Runtime (fp32 or dynamically int8-quantised), OpenVINO.

The export and the ONNX encoder are in `simcse_lab.encoding.onnx`; this module chooses.

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

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..core.devices import cuda_available
from ..core.hashing import content_hash
from ..core.paths import interim_dir
from ..core.schema import EncodeConfig, choices_of
from .encoders import Encoder, SentenceEncoder
from .locations import architecture
from .onnx import (
    MIN_COSINE,
    OnnxEncoder,
    export_onnx,
    onnx_available,
    openvino_available,
    package_versions_of_export,
    runtime_of,
)

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS", "MIN_COSINE", "OnnxEncoder", "export_dir", "export_onnx", "onnx_available", "openvino_available",
    "select_backend",
]

BACKENDS = choices_of(EncodeConfig, "backend")  # declared once, in the schema


def export_dir(encoder: SentenceEncoder, data_dir: str | Path) -> Path:
    return interim_dir(data_dir, "onnx") / content_hash({"identity": encoder.identity, **package_versions_of_export()}, length=16)


def _speed_path(encoder: SentenceEncoder, data_dir: str | Path) -> Path | None:
    """Where the texts/s of torch and each ONNX variant are kept for models of this architecture
    on this machine (speed depends on the shape, not the weights); None for non-local models."""
    arch = architecture(encoder.folder) if encoder.folder is not None else None
    if arch is None:
        return None
    from ..core.runtime import available_cores, cpu_name

    parts = {"arch": arch, "max_seq_length": encoder.identity.get("max_seq_length"), "cores": available_cores(),
             "cpu": cpu_name(), **package_versions_of_export()}
    return interim_dir(data_dir, "onnx") / f"speed-{content_hash(parts, length=16)}.json"


def _probe(texts: list[str], n: int = 96) -> list[str]:
    """Up to ``n`` texts spread over the length range (shortest to longest), for checks and timing."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    picks = np.unique(np.linspace(0, len(order) - 1, num=min(n, len(order))).round().astype(int))
    return [texts[order[i]] for i in picks]


def _read_record(path: Path, needs: str = "") -> dict[str, Any] | None:
    """A JSON record written here (with the key ``needs``), or None when absent; a damaged one is
    a miss, with a warning."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        record = exc
    if isinstance(record, dict) and (not needs or needs in record):
        return record
    logger.warning("%s is not a readable record (%s); doing that step again", path, record)
    return None


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
    elif device is None and cuda_available():
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
    record = _read_record(record_path, "variants")
    if record is None:
        speed = _read_record(speed_path, "torch") if not explicit and speed_path is not None else None
        if speed is not None and isinstance(speed.get("torch"), (int, float)):
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
        encoder.provenance, threads=threads, runtime=runtime_of(chosen),
    )


