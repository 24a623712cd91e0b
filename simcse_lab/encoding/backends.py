"""Encode backends on CPU: torch, ONNX Runtime (fp32 or dynamically int8-quantised), OpenVINO.

The export and the ONNX encoder are in `simcse_lab.encoding.onnx`; this module chooses.

An export lives under ``<data_dir>/interim/onnx/<key>/`` (key = the model's identity and the
torch/onnxruntime versions) with ``export.json``: for each variant, the lowest cosine similarity
to torch's embedding over a probe of texts of every length. A variant is *usable* when that
minimum cosine is >= ``MIN_COSINE``.

``backend="auto"`` decides from a **speed record of this machine**, never from a timing taken
during a run: `probe_speeds` (``simcse-lab probe-backends``, run once by ``make install``) times
torch and each variant on an idle machine for a model architecture and keeps the texts/s and the
export's cost in ``speed-<key>.json``, keyed by the architecture, the CPU, its core count and
instruction sets, and the package versions. ``auto`` then takes the fastest variant only when the
texts to encode are enough for its per-text saving to repay the export (an export already made
costs nothing; the record's export cost is that of every variant, more than a run's export of the
one it uses), and only if the export matches torch; else torch. Without a record for this
machine it keeps torch. The same config on the same machine therefore always picks the same
backend, and `choice_reason` says why (the run manifest keeps it). Variants: ``onnx`` (ONNX
Runtime, fp32), ``onnx-int8`` (ONNX Runtime, dynamic int8 weights), ``openvino`` (OpenVINO on
CPU, fp32, when installed).
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
    ENCODE_LOOP,
    MIN_COSINE,
    OnnxEncoder,
    export_onnx,
    onnx_available,
    openvino_available,
    package_versions_of_export,
    runtime_of,
    timed_encode,
)

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "MIN_COSINE",
    "OnnxEncoder",
    "export_dir",
    "export_onnx",
    "onnx_available",
    "openvino_available",
    "probe_speeds",
    "select_backend",
]

BACKENDS = choices_of(EncodeConfig, "backend")  # declared once, in the schema


def export_dir(encoder: SentenceEncoder, data_dir: str | Path) -> Path:
    return interim_dir(data_dir, "onnx") / content_hash(
        {"identity": encoder.identity, **package_versions_of_export()}, length=16
    )


def _speed_path(encoder: SentenceEncoder, data_dir: str | Path) -> Path | None:
    """Where the texts/s of torch and each ONNX variant are kept for models of this architecture
    on this machine (speed depends on the shape, not the weights); None for non-local models."""
    arch = architecture(encoder.folder) if encoder.folder is not None else None
    if arch is None:
        return None
    from ..core.runtime import available_cores, cpu_flags, cpu_name

    parts = {
        "arch": arch,
        "max_seq_length": encoder.identity.get("max_seq_length"),
        "cores": available_cores(),
        "cpu": cpu_name(),
        "isa": cpu_flags(),
        "encode_loop": ENCODE_LOOP,
        **package_versions_of_export(),
    }
    return interim_dir(data_dir, "onnx") / f"speed-{content_hash(parts, length=16)}.json"


#: texts an export is checked against torch on during a run (the speed probe times on more)
CHECK_TEXTS = 48


def _probe(texts: list[str], n: int = 96) -> list[str]:
    """Up to ``n`` texts spread over the length range (shortest to longest), for checks and timing."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    picks = np.unique(np.linspace(0, len(order) - 1, num=min(n, len(order))).round().astype(int))
    return [texts[order[i]] for i in picks]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _speed_shape(record: dict[str, Any]) -> bool:
    """A speed record: torch's texts per second and each variant's, all numbers."""
    variants = record.get("variants", {})
    return _is_number(record.get("torch")) and isinstance(variants, dict) and all(map(_is_number, variants.values()))


def _export_shape(record: dict[str, Any]) -> bool:
    """An export record: per variant its file, whether it is usable and its cosine to torch."""
    variants = record.get("variants")
    return isinstance(variants, dict) and all(
        isinstance(v, dict)
        and isinstance(v.get("file"), str)
        and isinstance(v.get("usable"), bool)
        and _is_number(v.get("min_cosine"))
        for v in variants.values()
    )


def _read_record(path: Path, needs: str = "", shape: Any = None) -> dict[str, Any] | None:
    """A JSON record written here (with the key ``needs``, and of the ``shape`` that function
    checks), or None when absent; a damaged or misshapen one is a miss, with a warning."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        record = exc
    if isinstance(record, dict) and (not needs or needs in record) and (shape is None or shape(record)):
        return record
    why = record if isinstance(record, Exception) else "not the fields it should hold"
    logger.warning("%s is not a readable record (%s); doing that step again", path, why)
    return None


def _whole_files(record: dict[str, Any] | None, folder: Path) -> dict[str, Any] | None:
    """``record`` without the variants whose model file is missing, empty or not the size it was
    exported with (a damaged export is a miss: it is exported again)."""
    if record is None:
        return None
    whole = {}
    for name, v in record["variants"].items():
        path = folder / v["file"]
        size = path.stat().st_size if path.is_file() else 0
        if size and size == v.get("bytes", size):
            whole[name] = v
        else:
            logger.warning("%s is missing or damaged (%d bytes); exporting %s again", path, size, name)
    return {**record, "variants": whole}


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
    if not isinstance(encoder, SentenceEncoder):
        return encoder
    if backend == "torch":
        encoder.choice_reason = "torch: encode.backend=torch asked for"
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
    record = _whole_files(_read_record(folder / "export.json", "variants", _export_shape), folder)
    checked: dict[str, OnnxEncoder] = {}  # the exported encoders checked here, their sessions compiled
    if explicit:
        if record is None or backend not in record["variants"]:
            if not probe_texts:
                raise ValueError("select_backend needs probe texts to check an export against torch")
            record = _export(encoder, folder, record, backend, probe_texts, threads, checked)
        return _use(
            encoder, backend, record, folder, threads, f"encode.backend={backend} asked for", checked.get(backend)
        )
    speed_path = _speed_path(encoder, data_dir)
    speed = _read_record(speed_path, "torch", _speed_shape) if speed_path is not None else None
    if speed is None:
        return _torch(
            encoder,
            "no speed record of this machine for this architecture (`simcse-lab probe-backends` measures one, once)",
        )
    faster = {k: v for k, v in speed.get("variants", {}).items() if v > speed["torch"]}
    if record is not None:  # an export checks the variants it was made for; another is exported when chosen
        faster = {
            k: v for k, v in faster.items() if record["variants"].get(k, {}).get("usable", k not in record["variants"])
        }
    if not faster:
        return _torch(encoder, f"no usable ONNX variant is faster than torch on this machine ({speed_path.name})")
    best = max(faster, key=faster.get)
    n = len(probe_texts)
    saving = n * (1 / speed["torch"] - 1 / faster[best])
    cost = 0.0 if record is not None and best in record["variants"] else float(speed.get("export_seconds", 0.0))
    why = (
        f"{best} {faster[best]:.0f} texts/s vs torch {speed['torch']:.0f} on this machine ({speed_path.name});"
        f" {n} texts save {saving:.0f} s" + (f" against an export of {cost:.0f} s" if cost else ", exported already")
    )
    if saving <= cost:
        return _torch(encoder, why.replace(" save ", " would save only "))
    if record is None or best not in record["variants"]:
        logger.info("%s: exporting to ONNX for %s and checking it against torch (%s)", encoder.name, best, folder)
        record = _export(encoder, folder, record, best, probe_texts, threads, checked)
        if not record["variants"].get(best, {}).get("usable"):
            return _torch(
                encoder,
                f"the {best} export does not match torch's embeddings (cosine"
                f" {record['variants'].get(best, {}).get('min_cosine')})",
            )
    return _use(encoder, best, record, folder, threads, why, checked.get(best))


def _export(
    encoder: SentenceEncoder,
    folder: Path,
    record: dict[str, Any] | None,
    variant: str,
    probe_texts: list[str],
    threads: int | None,
    checked: dict[str, OnnxEncoder],
) -> dict[str, Any]:
    """Export again with ``variant`` added to the variants ``record`` holds, each checked against
    torch on `CHECK_TEXTS` probe texts; ``checked`` receives the checked encoders."""
    had = tuple(record["variants"]) if record is not None else ()
    return export_onnx(
        encoder,
        folder,
        _probe(list(probe_texts), CHECK_TEXTS),
        variants=(*had, variant),
        threads=threads,
        checked=checked,
    )


def _torch(encoder: Encoder, why: str) -> Encoder:
    logger.info("%s: torch backend: %s", encoder.name, why)
    encoder.choice_reason = f"torch: {why}"
    return encoder


def _use(
    encoder: SentenceEncoder,
    chosen: str,
    record: dict[str, Any],
    folder: Path,
    threads: int | None,
    why: str,
    checked: OnnxEncoder | None = None,
) -> Encoder:
    variants = record["variants"]
    if chosen not in variants:
        raise ValueError(f"encode.backend={chosen!r} cannot be used: openvino is not installed (pip install openvino)")
    if not variants[chosen]["usable"]:
        logger.warning(
            "%s: %s embeddings reach only cosine %.3f to torch's (< %.2f); using it as asked",
            encoder.name,
            chosen,
            variants[chosen]["min_cosine"],
            MIN_COSINE,
        )
    logger.info(
        "%s: %s backend (%s; min cosine to torch %.4f)", encoder.name, chosen, why, variants[chosen]["min_cosine"]
    )
    out = OnnxEncoder(
        folder / variants[chosen]["file"],
        encoder,
        encoder.name,
        {**encoder.identity, "backend": chosen},
        encoder.provenance,
        threads=threads,
        runtime=runtime_of(chosen),
        _session=checked.session if checked is not None else None,
    )  # compiled by the check
    out.choice_reason = f"{chosen}: {why}"
    return out


def probe_speeds(
    encoder: SentenceEncoder,
    texts: list[str],
    data_dir: str | Path = "data",
    *,
    repeats: int = 3,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Time torch and every ONNX variant of ``encoder``'s architecture on this machine, on a
    probe of ``texts`` in batches of ``batch_size`` (None: ``encode.batch_size``'s default; best of
    ``repeats``), with what the export costs; write the speed record ``auto`` decides from. Run it
    on an idle machine (``simcse-lab probe-backends``)."""
    import time

    speed_path = _speed_path(encoder, data_dir)
    if speed_path is None:
        raise ValueError(f"{encoder.name}: only a local transformer model folder can be probed")
    batch_size = batch_size or EncodeConfig().batch_size
    probe = _probe(list(texts))
    folder = export_dir(encoder, data_dir)
    t0 = time.perf_counter()
    record = export_onnx(encoder, folder, probe)
    export_s = time.perf_counter() - t0

    def best_rate(enc: Encoder) -> float:
        return round(len(probe) / min(timed_encode(enc, probe, batch_size)[1] for _ in range(repeats)), 1)

    from ..core.runtime import hardware

    speed = {
        "torch": best_rate(encoder),
        "export_seconds": round(export_s, 1),
        "n_probe_texts": len(probe),
        "batch_size": batch_size,
        "variants": {},
        "machine": hardware(),
    }
    for variant, v in record["variants"].items():
        speed["variants"][variant] = best_rate(
            OnnxEncoder(folder / v["file"], encoder, encoder.name, encoder.identity, runtime=runtime_of(variant))
        )
    speed_path.parent.mkdir(parents=True, exist_ok=True)
    speed_path.write_text(json.dumps(speed, indent=2, default=str))
    return speed
