"""A label-free verdict on training: did the trained model's clusters get better than its start
model's, on the same texts, without looking at a label?

For every trained model and every clustering (clusterer/space) the start model also has, the
verdict compares the two clusterings' per-text cosine silhouettes (each in its own model's
clustered space) on the same texts: the mean difference, with a 95% interval from paired
bootstrap resamples of the texts (unpaired when noise leaves the two with different texts).
``better``: the interval lies above 0; ``worse``: below 0; ``unclear``: it holds 0.

Examples
--------
>>> before, after = np.full(100, 0.10), np.full(100, 0.20)
>>> v = silhouette_verdict(after, before, n_resamples=50)
>>> round(v["lf_diff"], 3), v["lf_verdict"]
(0.1, 'better')
"""

from __future__ import annotations

import numpy as np

__all__ = ["VERDICT_COLUMNS", "label_free_verdicts", "silhouette_verdict"]

VERDICT_COLUMNS = ["lf_diff", "lf_diff_lo", "lf_diff_hi", "lf_verdict"]


def silhouette_verdict(after: np.ndarray, before: np.ndarray, *, n_resamples: int = 200, seed: int = 0
                       ) -> dict[str, float | str]:
    """The mean silhouette difference ``after - before`` with its 95% bootstrap interval, and the verdict."""
    after, before = np.asarray(after, dtype=np.float64), np.asarray(before, dtype=np.float64)
    if not after.size or not before.size:
        return {"lf_diff": float("nan"), "lf_diff_lo": float("nan"), "lf_diff_hi": float("nan"),
                "lf_verdict": "undefined"}
    rng = np.random.default_rng(seed)
    diffs = []
    paired = after.shape == before.shape
    for _ in range(max(2, n_resamples)):
        if paired:
            idx = rng.integers(0, len(after), len(after))
            diffs.append(after[idx].mean() - before[idx].mean())
        else:
            diffs.append(after[rng.integers(0, len(after), len(after))].mean()
                         - before[rng.integers(0, len(before), len(before))].mean())
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    verdict = "better" if lo > 0 else "worse" if hi < 0 else "unclear"
    return {"lf_diff": float(after.mean() - before.mean()), "lf_diff_lo": float(lo), "lf_diff_hi": float(hi),
            "lf_verdict": verdict}


def label_free_verdicts(silhouettes: dict[tuple[str, str, str], np.ndarray], trained_from: dict[str, str | None], *,
                        n_resamples: int = 200, seed: int = 0) -> dict[tuple[str, str, str], dict[str, float | str]]:
    """``{(model, clusterer, space): verdict}`` for every trained model whose start model is in the
    comparison (``trained_from``: model name -> start model name or None)."""
    out = {}
    for (model, clusterer, space), after in silhouettes.items():
        start = trained_from.get(model)
        before = silhouettes.get((start, clusterer, space)) if start else None
        if before is not None:
            out[(model, clusterer, space)] = silhouette_verdict(after, before, n_resamples=n_resamples, seed=seed)
    return out
