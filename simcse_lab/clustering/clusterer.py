"""The contract of a clusterer: what every registered clusterer is and gives.

A clusterer is one module in `simcse_lab.clustering.clusterers` (or a plugin module): a class
deriving from `Clusterer`, registered with ``@CLUSTERERS.register(name, help, config=..., density=...)``
(`simcse_lab.core.registry.CLUSTERERS`), and, if it has settings, a frozen config dataclass beside
it: the section ``cluster.<name>`` of the config (``cluster.hdbscan.min_samples``), collected from
the registry as the training methods' sections are. The orchestrator
(`simcse_lab.evaluation.clusterings`) reads only what is written here, so a new clusterer needs
nothing else to reach the comparison table, the bootstrap and the run manifest.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass
... class Halves(Clusterer):
...     @classmethod
...     def from_config(cls, cfg, *, n_samples, n_classes, seed=42, backend="cpu"):
...         return cls()
...
...     def fit_predict(self, x):
...         return (x[:, 0] > np.median(x[:, 0])).astype(np.int64)
>>> h = Halves()
>>> h.fit_predict(np.arange(8.0).reshape(4, 2)).tolist(), dict(h.extra_labels_), h.k_choice_
([0, 0, 1, 1], {}, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

__all__ = ["Clusterer"]

_NONE: Mapping[str, np.ndarray] = MappingProxyType({})


class Clusterer:
    """Base of every clusterer. A subclass implements `from_config` and `fit_predict`; after a fit
    it may set any of the attributes below, whose class-level values are the defaults:

    - ``probabilities_``: each point's membership strength in its cluster (None: not given);
    - ``extra_labels_`` / ``extra_probabilities_``: further labelings the same fit gave, by the
      name they are reported under (HDBSCAN's ``hdbscan-hard``), scored without the orchestrator
      knowing which clusterer made them;
    - ``k_choice_``: how the number of clusters was chosen without labels, when it was
      (`simcse_lab.clustering.choose_k.KChoice`);
    - ``noise_fraction_``: the share of points labelled noise (-1).
    """

    probabilities_: ClassVar[np.ndarray | None] = None
    extra_labels_: ClassVar[Mapping[str, np.ndarray]] = _NONE
    extra_probabilities_: ClassVar[Mapping[str, np.ndarray]] = _NONE
    k_choice_: ClassVar[Any] = None
    noise_fraction_: ClassVar[float] = 0.0

    @classmethod
    def from_config(
        cls, cfg: Any, *, n_samples: int, n_classes: int | None, seed: int = 42, backend: str = "cpu"
    ) -> Clusterer:
        """The instance a run uses, from the ``cluster`` section ``cfg`` (this clusterer's own
        settings are ``getattr(cfg, name)``), the number of points, the number of classes of the
        main label level (None without labels), the run's seed and the backend (cpu or cuml)."""
        raise NotImplementedError(f"{cls.__name__} must define from_config")

    @classmethod
    def describe_fit(cls, cfg: Any, n: int, backend: str) -> str:
        """How ``n`` points are clustered, for the run manifest (``scaling``)."""
        return cls.__name__

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        """``(n,) int64`` cluster labels of the points ``x`` (noise: -1)."""
        raise NotImplementedError(f"{type(self).__name__} must define fit_predict")
