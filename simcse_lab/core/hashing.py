"""Every content hash of the project, computed one way each.

- `content_hash`: a JSON-able description (a config, a cache key's parts, a training
  run's settings) -> hex digest; key order does not matter.
- `texts_fingerprint`: a list of texts (and optionally their labels) -> 16 hex digits.
- `array_digest`: an array's bytes, read in blocks (no copy of a large array).
- `sha256_file`: a file's bytes, read in chunks (downloads, model files).

>>> content_hash({"a": 1, "b": [2, 3]}) == content_hash({"b": [2, 3], "a": 1})
True
>>> texts_fingerprint(["a", "b"]) == texts_fingerprint(["a", "b"], {})
True
>>> texts_fingerprint(["a", "b"]) != texts_fingerprint(["a", "b"], {"topic": ["x", "y"]})
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["array_digest", "content_hash", "sha256_file", "texts_fingerprint"]


def content_hash(parts: Any, *, length: int = 24) -> str:
    """Hex digest (``length`` digits) of a JSON-able description; non-JSON values count by ``str``."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def texts_fingerprint(
    texts: Iterable[str], labels: Mapping[str, Iterable[Any]] | None = None, *, length: int = 16
) -> str:
    """Fingerprint of texts in order and, when given, of each label level's values."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\x1f")
    for level, values in (labels or {}).items():
        h.update(b"\x1e" + level.encode())
        for v in values:
            h.update(str(v).encode() + b"\x1f")
    return h.hexdigest()[:length]


def array_digest(x: np.ndarray, *, block_bytes: int = 64 * 2**20) -> str:
    """sha256 of an array's bytes (C order), read in blocks of rows (no copy of a large array).

    >>> x = np.arange(12, dtype=np.float32).reshape(4, 3)
    >>> array_digest(x) == hashlib.sha256(x.tobytes()).hexdigest() == array_digest(x, block_bytes=12)
    True
    """
    h = hashlib.sha256()
    if x.ndim == 0 or len(x) == 0:
        h.update(np.ascontiguousarray(x).tobytes())
        return h.hexdigest()
    rows = max(1, block_bytes // max(1, x[0].nbytes))
    for start in range(0, len(x), rows):
        h.update(np.ascontiguousarray(x[start : start + rows]).tobytes())
    return h.hexdigest()


def sha256_file(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()
