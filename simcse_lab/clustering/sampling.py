"""Fit on a sample, assign the rest in chunks: how UMAP and HDBSCAN scale past memory.

Above ``sample_threshold`` points a step is fitted on a seeded sample of ``fit_sample`` points,
and the others are placed in chunks of ``chunk`` (UMAP's ``transform``, HDBSCAN's
``approximate_predict``), so memory stays flat as the corpus grows.

Examples
--------
>>> plan = SampledFit(fit_sample=4, sample_threshold=5, seed=0)
>>> plan.sampled(5), plan.sampled(10)
(False, True)
>>> fit_idx, rest = plan.split(10)
>>> len(fit_idx), len(rest), sorted([*fit_idx, *rest]) == list(range(10))
(4, 6, True)
>>> [len(c) for c in chunked(rest, 4)]
[4, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SampledFit", "chunked"]


@dataclass(frozen=True)
class SampledFit:
    """When a fit is made on a sample, and which sample."""

    fit_sample: int
    sample_threshold: int | None
    seed: int | None = 42

    def sampled(self, n: int) -> bool:
        """Whether ``n`` points are fitted on a sample (above ``sample_threshold``)."""
        return self.sample_threshold is not None and n > self.sample_threshold and n > self.fit_sample

    def split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(fit indices, the rest)``, both sorted; the fit sample is a seeded draw."""
        fit_idx = np.sort(np.random.default_rng(self.seed).choice(n, size=self.fit_sample, replace=False))
        return fit_idx, np.setdiff1d(np.arange(n), fit_idx)

    def describe(self, n: int, rest: str) -> str:
        """``all n`` or ``sample of m of n, <rest>``, for the run manifest."""
        return f"sample of {self.fit_sample} of {n}, {rest}" if self.sampled(n) else f"all {n}"


def chunked(idx: np.ndarray, size: int) -> list[np.ndarray]:
    """``idx`` cut into consecutive pieces of at most ``size``."""
    return [idx[start : start + size] for start in range(0, len(idx), size)]
