"""Array helpers shared by every stage.

>>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
[[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
"""

from __future__ import annotations

import numpy as np

__all__ = ["l2_normalize"]


def l2_normalize(x: np.ndarray, *, dtype: type = np.float32) -> np.ndarray:
    """Rows scaled to unit length, computed and returned in ``dtype`` (a zero row stays zero)."""
    x = np.asarray(x, dtype=dtype)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
