"""The label-free verdict on training: are the trained model's clusters of the held-out texts
better than its start model's, without looking at a label?

For every trained model and every clustering (clusterer/space) its start model also has, every
registered signal (`simcse_lab.evaluation.signals`) is read on both clusterings of the same texts,
and its difference ``trained - start`` gets a 95% interval from paired bootstrap resamples of the
texts (`paired_difference`): columns ``vs_start_<signal>``, ``_lo`` and ``_hi`` in the table, with
each clustering's own value in column ``<signal>``.

The verdict (``lf_*`` columns) reads ``metrics.verdict_signals``: ``better`` when every one's
interval lies above 0, ``worse`` when every one's lies below 0, ``unclear`` otherwise; ``lf_diff``
and its interval are the first signal's. With
``metrics.verdict_abstain_across_k`` it also says ``unclear`` when the two clusterings have a
different number of clusters (``always``, or ``kmeans``: for KMeans only, whose like-for-like
comparison is the ``kmeans-start-k`` clustering): a score compared across granularities favours
the coarser one, whichever follows the topics. ``lf_signal`` names what was read, and why it abstained when it did.

Examples
--------
>>> after = lambda rows: 0.2 + 0 * len(rows)
>>> before = lambda rows: 0.1 + 0 * len(rows)
>>> v = paired_difference(after, before, 50, n_resamples=20)
>>> round(v["diff"], 3), v["verdict"]
(0.1, 'better')
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..core.registry import SIGNALS

__all__ = [
    "CHECK_FILE",
    "VERDICT_COLUMNS",
    "judge_pairs",
    "measured_check",
    "paired_difference",
    "signal_columns",
    "verdict_of",
]

VERDICT_COLUMNS = ["lf_signal", "lf_diff", "lf_diff_lo", "lf_diff_hi", "lf_verdict"]

Evaluator = Callable[[np.ndarray], float]

#: the verdict's measured agreement with labels on the test halves, written by bench/verdicts.py
CHECK_FILE = Path(__file__).with_name("verdict_check.json")


def measured_check() -> dict[str, Any] | None:
    """What ``bench/verdicts.py`` measured for the chosen rule (its signal, whether it abstains
    across numbers of clusters, its claims on the labelled test halves), or None when not measured."""
    try:
        return json.loads(CHECK_FILE.read_text())
    except (OSError, ValueError):
        return None


def signal_columns() -> list[str]:
    """Every signal's value column, then its ``vs_start_`` difference and interval columns."""
    names = list(SIGNALS.names())
    return [*names, *(f"vs_start_{n}{part}" for n in names for part in ("", "_lo", "_hi"))]


def verdict_of(lo: float, hi: float) -> str:
    """``better`` / ``worse`` / ``unclear`` by where the interval ``[lo, hi]`` lies against 0."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "unclear"
    return "better" if lo > 0 else "worse" if hi < 0 else "unclear"


def paired_difference(
    after: Evaluator, before: Evaluator, n: int, *, n_resamples: int = 200, seed: int = 0
) -> dict[str, Any]:
    """``after - before`` on all ``n`` texts, its 95% interval over paired bootstrap resamples of
    the texts (each resample read by both), and the verdict the interval gives."""
    every = np.arange(n)
    diff = after(every) - before(every)
    if not np.isfinite(diff):
        return {"diff": float("nan"), "lo": float("nan"), "hi": float("nan"), "verdict": "undefined"}
    from sklearn import config_context

    rng = np.random.default_rng(seed)
    draws = []
    with config_context(skip_parameter_validation=True, assume_finite=True):  # the same inputs, checked once above
        for _ in range(max(2, n_resamples)):
            rows = rng.integers(0, n, n)
            draws.append(after(rows) - before(rows))
    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    lo, hi = np.percentile(draws, [2.5, 97.5]) if draws.size else (float("nan"), float("nan"))
    return {"diff": float(diff), "lo": float(lo), "hi": float(hi), "verdict": verdict_of(lo, hi)}


def judge_pairs(
    judged: dict[tuple[str, str, str], Any],
    trained_from: dict[str, str | None],
    *,
    signals: tuple[str, ...] | list[str],
    abstain_across_k: str = "never",
    n_resamples: int = 200,
    seed: int = 0,
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``{(model, clusterer, space): columns}``: every clustering's signal values, and for every trained
    model whose start model has the same clustering, each signal's paired difference and the
    verdict that reads ``signals`` (``judged``: a `simcse_lab.evaluation.views.Judged` per clustering;
    ``trained_from``: model name -> start model name or None)."""
    for signal in signals:
        SIGNALS[signal]  # an unknown signal fails before anything is computed
    if not signals:
        raise ValueError("metrics.verdict_signals is empty: name at least one signal the verdict reads")
    evaluators = {key: {e.name: e.obj(j) for e in SIGNALS} for key, j in judged.items()}
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key, fns in evaluators.items():
        n = len(judged[key].labels)
        out[key] = {name: fn(np.arange(n)) for name, fn in fns.items()}
    for (model, clusterer, space), fns in evaluators.items():
        start = trained_from.get(model)
        before_key = (start, clusterer, space)
        if not start or before_key not in evaluators:
            continue
        n = len(judged[(model, clusterer, space)].labels)
        row = out[(model, clusterer, space)]
        for name, fn in fns.items():
            d = paired_difference(fn, evaluators[before_key][name], n, n_resamples=n_resamples, seed=seed)
            row.update({f"vs_start_{name}": d["diff"], f"vs_start_{name}_lo": d["lo"], f"vs_start_{name}_hi": d["hi"]})
        k_after, k_before = judged[(model, clusterer, space)].n_clusters, judged[before_key].n_clusters
        across = abstain_across_k == "always" or (abstain_across_k == "kmeans" and clusterer.startswith("kmeans"))
        row.update(_verdict_row(row, list(signals), across and k_after != k_before, k_after, k_before))
    return out


def _verdict_row(row: dict[str, Any], signals: list[str], other_k: bool, k_after: int, k_before: int) -> dict[str, Any]:
    """The ``lf_*`` columns: the first signal's difference and interval; ``better`` or ``worse``
    only when every signal's interval says so."""
    first = signals[0]
    said = {verdict_of(row[f"vs_start_{s}_lo"], row[f"vs_start_{s}_hi"]) for s in signals}
    read = "+".join(signals)
    if not all(np.isfinite(row[f"vs_start_{s}"]) for s in signals):
        verdict = "undefined"
    elif other_k:
        verdict, read = "unclear", f"{read} (not read: {k_after} clusters against the start model's {k_before})"
    else:
        verdict = said.pop() if len(said) == 1 else "unclear"
    return {
        "lf_signal": read,
        "lf_diff": row[f"vs_start_{first}"],
        "lf_diff_lo": row[f"vs_start_{first}_lo"],
        "lf_diff_hi": row[f"vs_start_{first}_hi"],
        "lf_verdict": verdict,
    }
