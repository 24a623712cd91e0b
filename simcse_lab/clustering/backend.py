"""Where clustering runs: ``cpu`` (scikit-learn, hdbscan, umap-learn) or ``cuml`` (RAPIDS on a GPU).

>>> resolve_backend("cpu")
'cpu'
"""

from __future__ import annotations

from ..core.devices import cuml_available

__all__ = ["resolve_backend"]


def resolve_backend(backend: str) -> str:
    """``cpu`` or ``cuml``: ``auto`` is cuml when RAPIDS cuML imports and a CUDA GPU is present."""
    if backend == "cpu":
        return "cpu"
    if cuml_available():
        return "cuml"
    if backend == "cuml":
        raise ValueError("cluster.backend=cuml needs RAPIDS cuML and a CUDA GPU: pip install 'simcse-lab[gpu]'")
    return "cpu"
