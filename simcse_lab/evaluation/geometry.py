"""Embedding geometry: alignment and uniformity, anisotropy, and STS-B correlation.

``alignment_uniformity`` follows Wang & Isola (2020), as used in the SimCSE paper, on
L2-normalised embeddings:

- alignment = E ||f(x) - f(x+)||^2 over positive pairs (here two dropout views of a text);
  lower is better;
- uniformity = log E exp(-2 ||f(x) - f(y)||^2) over pairs of different texts; lower is better.

``mean_cosine`` (anisotropy) is the mean cosine similarity of pairs of different texts.
"""

from __future__ import annotations

import numpy as np

from ..core.arrays import l2_normalize

__all__ = ["alignment_uniformity", "mean_cosine", "paired_cosine", "sts_spearman"]


def _unit(x: np.ndarray) -> np.ndarray:
    return l2_normalize(x, dtype=np.float64)


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
