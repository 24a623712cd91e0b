"""Scores: agreement of a clustering with labels, and embedding geometry.

``score_clustering`` wraps scikit-learn's metrics. ``alignment_uniformity`` follows Wang & Isola
(2020), as used in the SimCSE paper, on L2-normalised embeddings:

- alignment = E ||f(x) - f(x+)||^2 over positive pairs (here two dropout views of a text);
  lower is better;
- uniformity = log E exp(-2 ||f(x) - f(y)||^2) over pairs of different texts; lower is better.

``mean_cosine`` (anisotropy) is the mean cosine similarity of pairs of different texts.

>>> y = np.array([0, 0, 1, 1, 2, 2])
>>> s = score_clustering(y, (y + 1) % 3)
>>> round(s["v_measure"], 6), round(s["ari"], 6)
(1.0, 1.0)
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "alignment_uniformity", "bootstrap_scores", "mean_ci", "mean_cosine", "paired_cosine", "score_clustering", "sts_spearman",
]


def score_clustering(labels_true, labels_pred, *, noise_label: int | None = -1) -> dict[str, float]:
    """V-measure, homogeneity, completeness, ARI, AMI, number of clusters and noise fraction.

    ``noise_fraction`` is the share of ``labels_pred`` equal to ``noise_label`` (HDBSCAN's -1);
    those points are scored as one more cluster, as scikit-learn would.
    """
    from sklearn import metrics

    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    if labels_true.ndim != 1 or labels_pred.ndim != 1:
        raise ValueError("labels_true and labels_pred must be 1-D")
    if len(labels_true) != len(labels_pred):
        raise ValueError(f"labels_true has {len(labels_true)} items but labels_pred has {len(labels_pred)}")
    if len(labels_true) == 0:
        raise ValueError("cannot score an empty clustering")
    h, c, v = metrics.homogeneity_completeness_v_measure(labels_true, labels_pred)
    noise = float(np.mean(labels_pred == noise_label)) if noise_label is not None else 0.0
    clusters = set(np.unique(labels_pred).tolist()) - ({noise_label} if noise_label is not None else set())
    return {
        "v_measure": float(v),
        "homogeneity": float(h),
        "completeness": float(c),
        "ari": float(metrics.adjusted_rand_score(labels_true, labels_pred)),
        "ami": float(metrics.adjusted_mutual_info_score(labels_true, labels_pred)),
        "n_clusters": float(len(clusters)),
        "noise_fraction": noise,
    }


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _random_pairs(n: int, n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n  # never i == j
    return i, j


def alignment_uniformity(
    x: np.ndarray, x_pos: np.ndarray, *, t: float = 2.0, n_pairs: int | None = None, seed: int = 0
) -> dict[str, float]:
    """Alignment over rows of ``(x, x_pos)`` and uniformity over pairs of different rows of ``x``.

    Inputs are L2-normalised here. With ``n_pairs=None`` uniformity uses all pairs i < j.

    >>> x = np.eye(4)
    >>> r = alignment_uniformity(x, x)
    >>> r["alignment"], round(r["uniformity"], 3)
    (0.0, -4.0)
    """
    x, x_pos = _unit(x), _unit(x_pos)
    if x.shape != x_pos.shape:
        raise ValueError(f"x and x_pos must have the same shape, got {x.shape} and {x_pos.shape}")
    if len(x) < 2:
        raise ValueError("alignment/uniformity needs at least 2 texts")
    alignment = float(np.mean(np.sum((x - x_pos) ** 2, axis=1)))
    if n_pairs is None:
        sq = np.clip(2.0 - 2.0 * (x @ x.T), 0.0, None)
        iu = np.triu_indices(len(x), k=1)
        d2 = sq[iu]
    else:
        i, j = _random_pairs(len(x), n_pairs, seed)
        d2 = np.sum((x[i] - x[j]) ** 2, axis=1)
    # log-mean-exp, stable
    a = -t * d2
    uniformity = float(a.max() + np.log(np.mean(np.exp(a - a.max()))))
    return {"alignment": alignment, "uniformity": uniformity}


def mean_cosine(x: np.ndarray, *, n_pairs: int = 10_000, seed: int = 0) -> float:
    """Mean cosine similarity of random pairs of different rows (anisotropy; ~0 for isotropic data).

    >>> rng = np.random.default_rng(0)
    >>> abs(mean_cosine(rng.normal(size=(2000, 64)))) < 0.02
    True
    """
    x = _unit(x)
    if len(x) < 2:
        raise ValueError("mean_cosine needs at least 2 vectors")
    i, j = _random_pairs(len(x), n_pairs, seed)
    return float(np.mean(np.sum(x[i] * x[j], axis=1)))


def paired_cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``x`` with the same row of ``y``.

    >>> paired_cosine(np.eye(2), np.array([[1.0, 0.0], [1.0, 0.0]])).tolist()
    [1.0, 0.0]
    """
    x, y = _unit(x), _unit(y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    return np.sum(x * y, axis=1)


def sts_spearman(x1: np.ndarray, x2: np.ndarray, gold) -> float:
    """Spearman correlation between the cosine similarity of paired rows and gold scores.

    >>> x = np.eye(3)
    >>> sts_spearman(x, x, [5.0, 4.0, 3.0])  # identical pairs all have similarity 1: no ranking
    nan
    """
    from scipy.stats import spearmanr

    gold = np.asarray(gold, dtype=np.float64)
    sims = paired_cosine(x1, x2)
    if len(sims) != len(gold):
        raise ValueError(f"{len(sims)} pairs but {len(gold)} gold scores")
    # float noise must not turn a constant similarity (e.g. identical sentences) into a ranking
    if np.ptp(sims) < 1e-6 or np.ptp(gold) == 0:
        return float("nan")
    return float(spearmanr(sims, gold).statistic)


def bootstrap_scores(
    labels_true, labels_pred, *, n_resamples: int = 200, seed: int = 0, metrics: tuple[str, ...] = ("v_measure",)
) -> dict[str, dict[str, float]]:
    """Sampling uncertainty of clustering scores: resample (true, predicted) pairs with
    replacement and rescore. Returns mean, std and the 2.5/97.5 percentiles per metric.

    >>> y = np.repeat([0, 1], 50)
    >>> b = bootstrap_scores(y, y, n_resamples=20)
    >>> b["v_measure"]["std"], b["v_measure"]["mean"]
    (0.0, 1.0)
    """
    from sklearn import metrics as skm

    fns = {
        "v_measure": skm.v_measure_score, "homogeneity": skm.homogeneity_score,
        "completeness": skm.completeness_score, "ari": skm.adjusted_rand_score,
        "ami": skm.adjusted_mutual_info_score,
    }
    unknown = [m for m in metrics if m not in fns]
    if unknown:
        raise ValueError(f"cannot bootstrap {unknown}; allowed: {sorted(fns)}")
    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    if n_resamples < 2:
        raise ValueError(f"n_resamples must be >= 2, got {n_resamples}")
    if len(labels_true) != len(labels_pred) or len(labels_true) == 0:
        raise ValueError("labels_true and labels_pred must be non-empty and of equal length")
    rng = np.random.default_rng(seed)
    n = len(labels_true)
    values: dict[str, list[float]] = {m: [] for m in metrics}
    for _ in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        for m in metrics:
            values[m].append(float(fns[m](labels_true[idx], labels_pred[idx])))
    out = {}
    for m, v in values.items():
        arr = np.asarray(v)
        out[m] = {
            "mean": float(arr.mean()), "std": float(arr.std(ddof=1)),
            "lo": float(np.percentile(arr, 2.5)), "hi": float(np.percentile(arr, 97.5)),
        }
    return out


def mean_ci(values, *, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (NaN half-width for one value).

    >>> m, h = mean_ci([0.30, 0.32, 0.34])
    >>> round(m, 3), round(h, 3)
    (0.32, 0.05)
    """
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value")
    if v.size == 1:
        return float(v[0]), float("nan")
    half = t.ppf(0.5 + confidence / 2, df=v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean()), float(half)
