"""What a run's size makes of its steps: how the vectors are made and the spaces fitted, for the
run's manifest (every step says for itself whether it samples, rather than the report repeating
the rule)."""

from __future__ import annotations

from typing import Any

from ..core.engines import make_engine
from ..core.registry import CLUSTERERS
from .reduce import make_reducer

__all__ = ["scaling_report"]


def scaling_report(cfg: Any, n: int, backend: str) -> dict[str, Any]:
    """How this run's vectors were made and its spaces fitted, for the manifest."""
    # the steps decide for themselves whether they sample; ask them rather than repeat the rule
    umap = make_reducer("umap", cfg.reduce, backend=backend, engine=make_engine(cfg))
    return {
        "encode_engine": cfg.encode.engine,
        "cluster_backend": backend,
        "umap_fit": umap.describe_fit(n),
        **{
            f"{name}_fit": CLUSTERERS[name].obj.describe_fit(cfg.cluster, n, backend) for name in cfg.cluster.clusterers
        },
    }
