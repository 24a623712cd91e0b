"""A verified on-disk cache of float32 arrays: embeddings, UMAP projections, dropout views.

An entry is ``<key>.npy`` plus ``<key>.json`` (shape, dtype, sha256 of the array bytes and
whatever describes how it was made), both written atomically. An entry whose file is missing,
truncated or altered is reported as a miss, so the caller recomputes it; nothing half-written
is ever read back.

>>> import tempfile
>>> cache = ArrayCache(tempfile.mkdtemp())
>>> key = cache_key({"what": "demo", "n": 3})
>>> cache.load(key) is None
True
>>> cache.save(key, np.ones((3, 2), dtype=np.float32), {"what": "demo"})
True
>>> cache.load(key, n_rows=3).shape
(3, 2)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["ArrayCache", "array_digest", "cache_key"]

_WARNED: set[str] = set()  # cache folders already reported as unwritable in this process


def cache_key(parts: dict[str, Any], *, length: int = 24) -> str:
    """Hex digest of a JSON-able description of how an array is made."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def array_digest(x: np.ndarray) -> str:
    """sha256 of an array's bytes (C order)."""
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix + ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


class ArrayCache:
    """Verified ``float32`` 2-D arrays under one folder, addressed by :func:`cache_key` keys."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.npy", self.root / f"{key}.json"

    def load(self, key: str, *, n_rows: int | None = None) -> np.ndarray | None:
        """The array stored under ``key``, or None when absent, unreadable or not as recorded."""
        npy, meta = self.paths(key)
        if not (npy.is_file() and meta.is_file()):
            return None
        try:
            info = json.loads(meta.read_text())
            x = np.load(npy, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            logger.warning("cache entry %s is unreadable (%s); recomputing", npy.name, exc)
            return None
        if (
            x.dtype != np.float32
            or x.ndim != 2
            or (n_rows is not None and x.shape[0] != n_rows)
            or list(x.shape) != info.get("shape")
            or array_digest(x) != info.get("sha256")
        ):
            logger.warning("cache entry %s does not match its record; recomputing", npy.name)
            return None
        return x

    def record(self, key: str) -> dict[str, Any] | None:
        """The JSON record of an entry (no verification of the array)."""
        meta = self.paths(key)[1]
        try:
            return json.loads(meta.read_text())
        except (OSError, ValueError):
            return None

    def save(self, key: str, x: np.ndarray, record: dict[str, Any]) -> bool:
        """Store ``x`` (made float32 and contiguous) with ``record``; the array is written first.

        A cache that cannot be written (read-only, full disk, a file where the folder should be)
        is skipped with one warning per folder: the caller has its array and the run goes on.
        Returns whether the entry was stored."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        npy, meta = self.paths(key)
        full = {"shape": list(x.shape), "dtype": "float32", "sha256": array_digest(x), **record}
        try:
            _atomic_write(npy, lambda fh: np.save(fh, x, allow_pickle=False))
            _atomic_write(meta, lambda fh: fh.write(json.dumps(full, indent=2, default=str).encode()))
        except OSError as exc:
            with contextlib.suppress(OSError):  # an array without its record would only be a miss
                npy.unlink(missing_ok=True)
            if str(self.root) not in _WARNED:
                _WARNED.add(str(self.root))
                logger.warning("cache %s cannot be written (%s); going on without caching there",
                               self.root, exc.strerror or exc)
            return False
        return True
