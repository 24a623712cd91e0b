"""Stability: does the clusterer find the same clusters again on a resample, with another seed?

``stability`` draws ``N_RUNS`` subsamples of ``SUBSAMPLE`` of the points (without replacement),
clusters each again with the same clusterer and settings but another seed (``Clustering.refit``),
and averages the adjusted Rand index between those labels and the clustering's own on the same
points (Ben-Hur et al. 2002; Lange et al. 2004). 1 means the same partition every time; near 0,
a partition that chance could give. It needs no labels, and it is what tells apart a density
pipeline that flips between 2 and 9 clusters on small changes from one that does not. The space
itself (a UMAP projection) is not refitted: this is the clusterer's stability in that space.

Examples
--------
>>> from simcse_lab.evaluation.scoring import Clustering
>>> from simcse_lab.clustering.clusterers import KMeansClusterer
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, .1, (30, 2)), rng.normal(0, .1, (30, 2)) + 3]
>>> refit = lambda rows, seed: KMeansClusterer(n_clusters=2, random_state=seed).fit_predict(x[rows])
>>> stability(Clustering(np.repeat([0, 1], 30), x=x, refit=refit))
1.0
"""

from __future__ import annotations

import numpy as np

from ...core.registry import SCORES

__all__ = ["N_RUNS", "SUBSAMPLE", "stability", "stability_runs"]

N_RUNS = 3
SUBSAMPLE = 0.8


def stability_runs(c, n_runs: int = N_RUNS, subsample: float = SUBSAMPLE) -> list[float]:
    """The ARI of each refit with the clustering, on the refit's rows."""
    from sklearn.metrics import adjusted_rand_score

    n = len(c.labels_pred)
    size = max(2, int(round(subsample * n)))
    out = []
    for r in range(n_runs):
        rows = np.sort(np.random.default_rng(c.seed + 1000 + r).choice(n, size, replace=False))
        again = np.asarray(c.refit(rows, c.seed + 1000 + r))
        out.append(float(adjusted_rand_score(c.labels_pred[rows], again)))
    return out


@SCORES.register(
    "stability",
    "mean ARI between the clustering and re-clusterings of 80% subsamples with other seeds"
    " (1: the same clusters every time; no labels)",
    order=84,
    needs_labels=False,
    needs_refit=True,
    resample=False,
)
def stability(c) -> float:
    return float(np.mean(stability_runs(c)))
