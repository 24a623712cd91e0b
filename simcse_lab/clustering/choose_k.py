"""Choosing k without labels: cluster with KMeans at every k of a range, score each clustering
with a label-free score, keep the best.

The score is handed in as a function of (labels, points) with its direction: the pipeline hands in
a registered score that needs no labels and reads the clustered space
(`simcse_lab.evaluation.scoring.k_criterion`: ``silhouette``, ``davies_bouldin``,
``calinski_harabasz``), so this module needs nothing above the clustering stage. The whole curve is
kept, so a run can draw it and say in its manifest what was chosen and why.

Examples
--------
>>> from sklearn.metrics import silhouette_score
>>> rng = np.random.default_rng(0)
>>> centres = np.eye(4) * 3
>>> x = np.concatenate([rng.normal(0, .2, (25, 4)) + c for c in centres])
>>> choice = choose_k(x, score=lambda labels, points: silhouette_score(points, labels), k_min=2, k_max=7, seed=0)
>>> choice.k, sorted(choice.curve)[:2]
(4, [2, 3])
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["RULES", "KChoice", "choose_k"]


def _best(curve: dict[int, float], higher: bool) -> int:
    """the k with the best value, ties to the smaller k"""
    return max(curve, key=lambda k: (curve[k] if higher else -curve[k], -k))


def _within(share: float):
    def rule(curve: dict[int, float], higher: bool) -> int:
        best = curve[_best(curve, higher)]
        span = max(curve.values()) - min(curve.values())
        return max(k for k, v in curve.items() if (best - v if higher else v - best) <= share * span)

    rule.__doc__ = (
        f"the largest k whose value is within {share:.0%} of the curve's range of the best value "
        "(a finer clustering when it is nearly as good)"
    )
    return rule


def _peaks(curve: dict[int, float], higher: bool) -> list[int]:
    """the ks whose value beats both neighbours (local bests; the ends of the range are not peaks)"""
    ks = sorted(curve)
    sign = 1 if higher else -1
    return [
        k
        for i, k in enumerate(ks)
        if 0 < i < len(ks) - 1
        and sign * curve[k] > sign * curve[ks[i - 1]]
        and sign * curve[k] > sign * curve[ks[i + 1]]
    ]


def _largest_peak(curve: dict[int, float], higher: bool) -> int:
    """the largest k whose value beats both neighbours (a local best), else the best k"""
    return max(_peaks(curve, higher), default=_best(curve, higher))


def _first_peak(curve: dict[int, float], higher: bool) -> int:
    """the smallest k whose value beats both neighbours (the first local best; it stays where it is
    however far the range goes), else the best k"""
    return min(_peaks(curve, higher), default=_best(curve, higher))


#: how a k is read off the criterion's curve (``cluster.k_rule``)
RULES = {
    "best": _best,
    "within-10%": _within(0.10),
    "within-25%": _within(0.25),
    "largest-peak": _largest_peak,
    "first-peak": _first_peak,
}


@dataclass(frozen=True)
class KChoice:
    """The chosen k, the criterion and its value at every k tried."""

    k: int
    criterion: str
    curve: dict[int, float] = field(default_factory=dict)
    higher_is_better: bool = True
    rule: str = "best"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the run manifest."""
        return {
            "k": self.k,
            "criterion": self.criterion,
            "rule": self.rule,
            "higher_is_better": self.higher_is_better,
            "at_largest_k": self.k == max(self.curve, default=self.k) and len(self.curve) > 1,
            "curve": {str(k): round(v, 6) for k, v in self.curve.items()},
        }


def choose_k(
    x: np.ndarray,
    *,
    score: Callable[[np.ndarray, np.ndarray], float],
    higher_is_better: bool = True,
    criterion: str = "silhouette",
    k_min: int = 2,
    k_max: int = 15,
    seed: int = 42,
    n_init: int = 3,
    max_points: int = 5000,
    rule: str = "best",
    curve: dict[int, float] | None = None,
) -> KChoice:
    """KMeans at each k in ``k_min..k_max`` on ``x`` (a seeded sample of ``max_points`` rows
    when larger), each clustering scored by ``score(labels, points)`` (``criterion``: its name, for
    the record); k is read off that curve by ``rule`` (`RULES`; ``best``: the best k, ties to the
    smaller). A ``curve`` already computed for these arguments is reused."""
    from sklearn.cluster import KMeans

    if rule not in RULES:
        raise ValueError(f"cluster.k_rule must be one of {', '.join(RULES)}, got {rule!r}")
    x = np.asarray(x)
    if len(x) > max_points:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))]
    k_max = min(k_max, len(x) - 1)
    if k_max < k_min:
        raise ValueError(f"cannot choose k in {k_min}..{k_max}: only {len(x)} texts")
    if curve is None:
        curve = {}
        for k in range(k_min, k_max + 1):
            labels = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(x).astype(np.int64)
            curve[k] = float(score(labels, x))
    finite = {k: v for k, v in curve.items() if np.isfinite(v)}
    if not finite:
        raise ValueError(f"{criterion} is undefined for every k in {k_min}..{k_max}")
    best = RULES[rule](finite, higher_is_better)
    if best == k_max and k_max > k_min and best == _best(finite, higher_is_better):
        logger.warning(
            "%s is best at the largest k tried (%d): the data may hold more clusters; raise "
            "cluster.k_max to look further",
            criterion,
            k_max,
        )
    return KChoice(best, criterion, curve, higher_is_better, rule)
