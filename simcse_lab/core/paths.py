"""Every path under ``data_dir``, named once.

``<data_dir>/raw/`` holds immutable downloads (registry packages and the files taken out of
them); ``<data_dir>/interim/`` holds caches that can be deleted at any time and are rebuilt:

======================  =====================================================
``interim/embeddings``  encoded corpora (`simcse_lab.encoding.encode`)
``interim/projections`` UMAP projections (`simcse_lab.clustering.reduce`)
``interim/clusterings`` clusterings with their scores (`simcse_lab.evaluation.clustering_cache`)
``interim/models``      trained, pretrained and unpacked models
``interim/onnx``        ONNX / OpenVINO exports and their speed records
======================  =====================================================

>>> str(interim_dir("data", "embeddings"))
'data/interim/embeddings'
>>> cache_dir("data", "projections", enabled=False) is None
True
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CACHES", "cache_dir", "interim_dir", "models_dir", "raw_dir"]

CACHES = ("embeddings", "projections", "clusterings", "models", "onnx")


def raw_dir(data_dir: str | Path, *parts: str) -> Path:
    """``<data_dir>/raw/<parts...>``: downloads, never changed once written."""
    return Path(data_dir).expanduser() / "raw" / Path(*parts) if parts else Path(data_dir).expanduser() / "raw"


def interim_dir(data_dir: str | Path, cache: str) -> Path:
    """``<data_dir>/interim/<cache>`` for one of `CACHES`."""
    if cache not in CACHES:
        raise ValueError(f"unknown cache {cache!r}; caches: {', '.join(CACHES)}")
    return Path(data_dir).expanduser() / "interim" / cache


def cache_dir(data_dir: str | Path, cache: str, *, enabled: bool = True) -> Path | None:
    """`interim_dir`, or None when caching is off (``encode.cache: false``)."""
    return interim_dir(data_dir, cache) if enabled else None


def models_dir(data_dir: str | Path) -> Path:
    """``<data_dir>/interim/models``: trained and unpacked models."""
    return interim_dir(data_dir, "models")
