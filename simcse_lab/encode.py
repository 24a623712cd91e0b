"""Encode texts into an ``(n, d) float32`` array, streamed in chunks, with a verified disk cache.

Cache key = sha256 of (encoder identity, texts fingerprint, normalisation, cache version). The
identity already holds the model's content hash or hub commit, max_seq_length and pooling.
Each entry is ``<key>.npy`` plus ``<key>.json`` (shape, dtype, sha256 of the array bytes), both
written atomically; an entry whose file is missing, truncated or altered is recomputed.

Example
-------
>>> from simcse_lab.models import TfidfLsaEncoder
>>> texts = ["red summer dress", "blue summer dress", "warm winter coat", "long winter coat"]
>>> x = encode_texts(TfidfLsaEncoder(n_components=2), texts, show_progress=False)
>>> x.shape, x.dtype, bool(np.allclose(np.linalg.norm(x, axis=1), 1))
((4, 2), dtype('float32'), True)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .models import Encoder

logger = logging.getLogger(__name__)

__all__ = [
    "CACHE_VERSION", "embedding_cache_key", "encode_texts", "l2_normalize", "most_similar", "texts_fingerprint",
]

CACHE_VERSION = 1


def texts_fingerprint(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\x1f")
    return h.hexdigest()[:16]


def embedding_cache_key(identity: dict[str, Any], fingerprint: str, *, normalize: bool) -> str:
    blob = json.dumps(
        {"identity": identity, "texts": fingerprint, "normalize": normalize, "version": CACHE_VERSION},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _array_digest(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def _load_cached(npy: Path, meta: Path, n: int) -> np.ndarray | None:
    if not (npy.is_file() and meta.is_file()):
        return None
    try:
        info = json.loads(meta.read_text())
        x = np.load(npy, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        logger.warning("embedding cache %s is unreadable (%s); recomputing", npy.name, exc)
        return None
    if (
        x.dtype != np.float32
        or x.ndim != 2
        or x.shape[0] != n
        or list(x.shape) != info.get("shape")
        or _array_digest(x) != info.get("sha256")
    ):
        logger.warning("embedding cache %s does not match its record; recomputing", npy.name)
        return None
    return x


def _atomic_save(npy: Path, meta: Path, x: np.ndarray, record: dict[str, Any]) -> None:
    npy.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=npy.parent, suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, x, allow_pickle=False)
        os.replace(tmp, npy)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=npy.parent, suffix=".json.tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh, indent=2)
        os.replace(tmp, meta)
    finally:
        Path(tmp).unlink(missing_ok=True)


def encode_texts(
    encoder: Encoder,
    texts: list[str],
    *,
    batch_size: int = 64,
    normalize: bool = True,
    cache_dir: str | Path | None = None,
    show_progress: bool = True,
    chunk_size: int = 2048,
) -> np.ndarray:
    """Embed ``texts`` with ``encoder``; return ``(n, d) float32`` (L2-normalised if ``normalize``).

    With ``cache_dir``, a verified cache entry is returned without calling the encoder.
    Neural encoders are fed in chunks written into one preallocated array, so memory beyond the
    result stays flat as the corpus grows.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("encode_texts needs at least one text")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"texts must be strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
    fingerprint = texts_fingerprint(texts)
    npy = meta = None
    if cache_dir is not None:
        key = embedding_cache_key(encoder.identity, fingerprint, normalize=normalize)
        npy, meta = Path(cache_dir) / f"{key}.npy", Path(cache_dir) / f"{key}.json"
        cached = _load_cached(npy, meta, len(texts))
        if cached is not None:
            logger.info("%s: %d embeddings from cache %s", encoder.name, len(texts), npy.name)
            return cached

    from tqdm.auto import tqdm

    out: np.ndarray | None = None
    # a transductive encoder (TF-IDF/LSA) is fitted on the corpus, so it must see all texts at once
    step = len(texts) if getattr(encoder, "transductive", False) else max(chunk_size, batch_size)
    with tqdm(total=len(texts), desc=f"encode {encoder.name}", unit="text", disable=not show_progress) as bar:
        for start in range(0, len(texts), step):
            chunk = encoder.encode(texts[start : start + step], batch_size=batch_size, show_progress=False)
            chunk = np.asarray(chunk, dtype=np.float32)
            if out is None:
                out = np.empty((len(texts), chunk.shape[1]), dtype=np.float32)
            out[start : start + len(chunk)] = chunk
            bar.update(len(chunk))
    assert out is not None
    if not np.isfinite(out).all():
        raise ValueError(f"{encoder.name} produced non-finite embeddings")
    if normalize:
        out = l2_normalize(out)
    if npy is not None and meta is not None:
        record = {
            "shape": list(out.shape),
            "dtype": "float32",
            "sha256": _array_digest(out),
            "identity": encoder.identity,
            "texts_fingerprint": fingerprint,
            "normalize": normalize,
            "cache_version": CACHE_VERSION,
            "model": encoder.name,
        }
        _atomic_save(npy, meta, out, record)
    return out


def most_similar(
    embeddings: np.ndarray, query: np.ndarray, *, k: int = 5, exclude: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities of the ``k`` rows most similar to ``query``.

    >>> idx, sims = most_similar(np.eye(3, dtype=np.float32), np.array([1.0, 0.1, 0.0]), k=2)
    >>> idx.tolist(), [round(float(s), 3) for s in sims]
    ([0, 1], [0.995, 0.1])
    """
    x = l2_normalize(np.asarray(embeddings, dtype=np.float32))
    q = np.asarray(query, dtype=np.float32).ravel()
    sims = x @ (q / max(float(np.linalg.norm(q)), 1e-12))
    if exclude is not None:
        sims[exclude] = -np.inf
    k = min(k, len(x) - (exclude is not None))
    idx = np.argsort(-sims, kind="stable")[:k]
    return idx, sims[idx]
