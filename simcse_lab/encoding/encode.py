"""Encode texts into an ``(n, d) float32`` array, streamed in chunks, with a verified disk cache.

Cache key = sha256 of (encoder identity, texts fingerprint, normalisation, cache version). The
identity already holds the model's content hash or hub commit, max_seq_length and pooling.
Each entry is ``<key>.npy`` plus ``<key>.json`` (shape, dtype, sha256 of the array bytes), both
written atomically; an entry whose file is missing, truncated or altered is recomputed.

Example
-------
>>> from simcse_lab.encoding.encoders import TfidfLsaEncoder
>>> texts = ["red summer dress", "blue summer dress", "warm winter coat", "long winter coat"]
>>> x = encode_texts(TfidfLsaEncoder(n_components=2), texts, show_progress=False)
>>> x.shape, x.dtype, bool(np.allclose(np.linalg.norm(x, axis=1), 1))
((4, 2), dtype('float32'), True)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..core.arrays import l2_normalize
from ..core.cache import MMAP_BYTES, ArrayCache
from ..core.hashing import content_hash, texts_fingerprint
from ..core.paths import cache_dir
from .encoders import Encoder, SentenceEncoder

logger = logging.getLogger(__name__)

__all__ = [
    "CACHE_VERSION",
    "dropout_views",
    "embedding_cache_key",
    "encode_texts",
    "encode_with_config",
    "is_cached",
    "l2_normalize",
    "most_similar",
    "texts_fingerprint",
]

CACHE_VERSION = 1


def embedding_cache_key(identity: dict[str, Any], fingerprint: str, *, normalize: bool) -> str:
    return content_hash({"identity": identity, "texts": fingerprint, "normalize": normalize, "version": CACHE_VERSION})


def is_cached(encoder: Encoder, texts: list[str], cache_dir: str | Path | None, *, normalize: bool) -> bool:
    """Whether `encode_texts` would find an entry for these texts (files present; they are
    verified when loaded), without touching the encoder."""
    if cache_dir is None:
        return False
    key = embedding_cache_key(encoder.identity, texts_fingerprint(list(texts)), normalize=normalize)
    return all(p.is_file() for p in ArrayCache(cache_dir).paths(key))


def encode_texts(
    encoder: Encoder,
    texts: list[str],
    *,
    batch_size: int = 64,
    normalize: bool = True,
    cache_dir: str | Path | None = None,
    show_progress: bool = True,
    chunk_size: int = 2048,
    engine: Any = None,
) -> np.ndarray:
    """Embed ``texts`` with ``encoder``; return ``(n, d) float32`` (L2-normalised if ``normalize``).

    With ``cache_dir``, a verified cache entry is returned without calling the encoder.
    ``engine`` (`simcse_lab.core.engines`; default: this process) decides where the vectors are
    made; it does not enter the cache key. Texts go to the encoder in chunks written into one
    preallocated array, so memory beyond the result stays flat as the corpus grows; a result
    larger than ``MEMMAP_BYTES`` is itself a memory-mapped file in the cache folder.
    """
    from ..core.engines import LocalEngine

    texts = list(texts)
    if not texts:
        raise ValueError("encode_texts needs at least one text")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"texts must be strings; item {bad[0]} is {type(texts[bad[0]]).__name__}")
    fingerprint = texts_fingerprint(texts)
    cache = key = None
    if cache_dir is not None:
        cache, key = ArrayCache(cache_dir), embedding_cache_key(encoder.identity, fingerprint, normalize=normalize)
        cached = cache.load(key, n_rows=len(texts))
        if cached is not None:
            logger.info("%s: %d embeddings from cache %s", encoder.name, len(texts), key)
            return cached

    from tqdm.auto import tqdm

    from ..core.runtime import quiet

    engine = engine or LocalEngine(chunk_size=chunk_size)
    out: np.ndarray | None = None
    filled = 0
    with tqdm(
        total=len(texts),
        desc=f"encode {encoder.name} ({engine.name})",
        unit="text",
        disable=not show_progress or quiet(),
    ) as bar:
        for idx, chunk in engine.chunks(encoder, texts, batch_size=batch_size):
            chunk = np.asarray(chunk, dtype=np.float32)
            if out is None:
                out = _allocate(cache, (len(texts), chunk.shape[1]))
            if not np.isfinite(chunk).all():
                raise ValueError(f"{encoder.name} produced non-finite embeddings (texts {idx.min()}..{idx.max()})")
            out[idx] = l2_normalize(chunk) if normalize else chunk
            filled += len(idx)
            bar.update(len(idx))
    if out is None or filled != len(texts):
        raise RuntimeError(f"engine {engine.name} returned {filled} of {len(texts)} embeddings")
    if cache is not None and key is not None:
        cache.save(
            key,
            out,
            {
                "identity": encoder.identity,
                "texts_fingerprint": fingerprint,
                "normalize": normalize,
                "cache_version": CACHE_VERSION,
                "model": encoder.name,
            },
        )
    return out


def encode_with_config(encoder: Encoder, texts: list[str], cfg: Any, *, normalize: bool | None = None) -> np.ndarray:
    """`encode_texts` with a config's encode settings: its batch size, normalisation
    (``normalize`` None: ``cfg.encode.normalize``), progress bar, cache folder (when
    ``encode.cache``) and engine (``encode.engine``)."""
    from ..core.engines import make_engine

    e = cfg.encode
    return encode_texts(
        encoder,
        texts,
        batch_size=e.batch_size,
        normalize=e.normalize if normalize is None else normalize,
        cache_dir=cache_dir(cfg.data_dir, "embeddings", enabled=e.cache),
        show_progress=e.show_progress,
        engine=make_engine(cfg),
    )


# results larger than this are written into a memory-mapped file instead of held in memory (the
# same size above which the cache maps an entry when loading it)
MEMMAP_BYTES = MMAP_BYTES


def _allocate(cache: ArrayCache | None, shape: tuple[int, int]) -> np.ndarray:
    if cache is None or shape[0] * shape[1] * 4 <= MEMMAP_BYTES:
        return np.empty(shape, dtype=np.float32)
    try:
        return cache.scratch(shape)
    except OSError as exc:  # an unwritable cache is skipped (ArrayCache.save warns), not fatal
        logger.warning("cannot map the embeddings in %s (%s); holding them in memory", cache.root, exc.strerror or exc)
        return np.empty(shape, dtype=np.float32)


def dropout_views(
    encoder: SentenceEncoder, texts: list[str], *, batch_size: int, seed: int, cache_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`SentenceEncoder.encode_dropout_views`, cached like embeddings (same identity and texts,
    same seed and batching give the same dropout masks)."""
    if cache_dir is None:
        return encoder.encode_dropout_views(texts, batch_size=batch_size, seed=seed)
    parts = {"dropout-views": encoder.identity, "texts": texts_fingerprint(texts), "seed": seed, "batch": batch_size}
    cache, key = ArrayCache(cache_dir), content_hash(parts)
    ab = cache.load(key, n_rows=2 * len(texts))
    if ab is None:
        a, b = encoder.encode_dropout_views(texts, batch_size=batch_size, seed=seed)
        cache.save(key, np.concatenate([a, b]), {**parts, "model": encoder.name})
        return a, b
    return ab[: len(texts)], ab[len(texts) :]


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
