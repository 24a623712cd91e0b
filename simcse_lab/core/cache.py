"""A verified on-disk cache of float32 arrays: embeddings, UMAP projections, dropout views.

An entry is ``<key>.npy`` plus ``<key>.json`` (shape, dtype, sha256 of the array bytes and
whatever describes how it was made), both written atomically. An entry whose file is missing,
truncated or altered is reported as a miss, so the caller recomputes it; nothing half-written
is ever read back.

>>> import tempfile
>>> cache = ArrayCache(tempfile.mkdtemp())
>>> from simcse_lab.core.hashing import content_hash
>>> key = content_hash({"what": "demo", "n": 3})
>>> cache.load(key) is None
True
>>> cache.save(key, np.ones((3, 2), dtype=np.float32), {"what": "demo"})
True
>>> cache.load(key, n_rows=3).shape
(3, 2)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .assets import atomic_write
from .hashing import array_digest

logger = logging.getLogger(__name__)

__all__ = ["ArrayCache"]

MMAP_BYTES = 256 * 2**20  # entries larger than this are memory-mapped when loaded
_WARNED: set[str] = set()  # cache folders already reported as unwritable in this process


class ArrayCache:
    """Verified ``float32`` 2-D arrays under one folder, addressed by `content_hash` keys."""

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
        except (OSError, ValueError) as exc:
            logger.warning("cache record %s is unreadable (%s); recomputing", meta.name, exc)
            return None
        try:
            # a large entry is mapped, not read into memory (encode writes such entries memory-mapped too)
            x = np.load(npy, allow_pickle=False, mmap_mode="r" if npy.stat().st_size > MMAP_BYTES else None)
        except (OSError, ValueError, EOFError) as exc:
            logger.warning("cache entry %s is unreadable (%s); recomputing", npy.name, exc)
            return None
        if not isinstance(info, dict):
            logger.warning("cache record %s holds %s, not a record; recomputing", meta, type(info).__name__)
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
            info = json.loads(meta.read_text())
            return info if isinstance(info, dict) else None
        except (OSError, ValueError):
            return None

    def scratch(self, shape: tuple[int, ...]) -> np.ndarray:
        """A float32 array of ``shape`` backed by a temporary ``.npy`` file in this folder (a
        result too large to hold in memory); `save` of it publishes the file by rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".scratch-", suffix=".npy")
        os.close(fd)
        return np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)

    def save(self, key: str, x: np.ndarray, record: dict[str, Any]) -> bool:
        """Store ``x`` (made float32 and contiguous) with ``record``; the array is written first.

        A cache that cannot be written (read-only, full disk, a file where the folder should be)
        is skipped with one warning per folder: the caller has its array and the run goes on.
        Returns whether the entry was stored."""
        scratch = Path(x.filename) if isinstance(x, np.memmap) and x.filename else None
        x = x if scratch else np.ascontiguousarray(x, dtype=np.float32)
        npy, meta = self.paths(key)
        full = {"shape": list(x.shape), "dtype": "float32", "sha256": array_digest(x), **record}
        try:
            if scratch is not None and scratch.parent == self.root:
                x.flush()
                os.replace(scratch, npy)  # a scratch array becomes the entry by rename, no copy
            else:
                atomic_write(npy, lambda fh: np.save(fh, x, allow_pickle=False))
            atomic_write(meta, json.dumps(full, indent=2, default=str).encode())
        except OSError as exc:
            with contextlib.suppress(OSError):  # an array without its record would only be a miss
                npy.unlink(missing_ok=True)
            if str(self.root) not in _WARNED:
                _WARNED.add(str(self.root))
                logger.warning(
                    "cache %s cannot be written (%s); going on without caching there", self.root, exc.strerror or exc
                )
            return False
        return True
