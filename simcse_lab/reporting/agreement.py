"""Checking the label-free answers against labels: does the label-free verdict on training agree
with the labelled one, and which label-free score tracks V-measure?

`verdict_agreement` puts, for every trained model, level and clusterer/space, the labelled
verdict (the paired V-measure difference to the start model over seeds, with its 95% t-interval,
`paired_differences`) next to the label-free one (the silhouette difference of the same pairs, its
mean over seeds with a t-interval; with one seed, the bootstrap interval of that seed). Each is
``better``, ``worse`` or ``unclear`` by whether its interval lies above 0, below 0 or holds 0, and
``agree`` says whether the two verdicts are the same. `agreement_rate` is the share of agreeing
cases among those whose labelled verdict is not ``unclear``: the issue's 90% target.

`score_correlations` is the Spearman rank correlation of every label-free score with V-measure
across the (model, clusterer/space) rows of a comparison, per level: a score whose ranking of the
models and clusterers follows V-measure's can stand in for it where there are no labels.
Davies-Bouldin is lower-is-better, so it is correlated with its sign flipped, and every
correlation reads "higher means it tracks V-measure".

Examples
--------
>>> t = pd.DataFrame({"model": ["m", "t"] * 3, "clusterer": "kmeans", "space": "raw", "level": "L",
...                   "seed": [1, 1, 2, 2, 3, 3], "v_measure": [.30, .35, .31, .37, .29, .36],
...                   "lf_diff": [np.nan, .02, np.nan, .03, np.nan, .025]})
>>> a = verdict_agreement(t, baseline="m")
>>> a[["model", "verdict", "lf_verdict", "agree"]].values.tolist()
[['t', 'better', 'better', True]]
>>> agreement_rate(a)
1.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..evaluation.statistics import mean_ci
from ..evaluation.verdict import verdict_of
from .tables import paired_differences

__all__ = ["agreement_rate", "claims", "score_correlations", "score_verdicts", "seed_verdicts", "verdict_agreement"]


def _sign(score: str) -> int:
    """+1 for a score where higher is better, -1 for one where lower is (Davies-Bouldin); every
    verdict signal (`simcse_lab.evaluation.signals`) is higher-is-better."""
    from ..core.registry import SCORES, SIGNALS

    if score in SIGNALS:
        return 1
    return 1 if SCORES[score].meta.higher_is_better else -1


def verdict_agreement(table: pd.DataFrame, *, baseline: str) -> pd.DataFrame:
    """One row per trained model x level x clusterer/space: the labelled and the label-free verdict."""
    paired = paired_differences(table, baseline=baseline)
    paired = paired[paired["model"] != baseline]
    t = table if "seed" in table.columns else table.assign(seed=0)
    t = t.assign(setting=t["clusterer"] + "/" + t["space"])
    rows = []
    for r in paired.itertuples():
        g = t[(t["model"] == r.model) & (t["level"] == r.level) & (t["setting"] == r.setting)]
        diffs = g["lf_diff"].dropna().to_numpy() if "lf_diff" in g else np.empty(0)
        if len(diffs) > 1:
            lf, half = mean_ci(diffs)
            lf_lo, lf_hi = lf - half, lf + half
        elif len(diffs) == 1:
            lf, lf_lo, lf_hi = float(diffs[0]), float(g["lf_diff_lo"].iloc[0]), float(g["lf_diff_hi"].iloc[0])
        else:
            lf = lf_lo = lf_hi = float("nan")
        verdict, lf_verdict = verdict_of(r.diff_lo, r.diff_hi), verdict_of(lf_lo, lf_hi)
        rows.append(
            {
                "model": r.model,
                "level": r.level,
                "setting": r.setting,
                "v_diff": r.diff,
                "v_lo": r.diff_lo,
                "v_hi": r.diff_hi,
                "verdict": verdict,
                "lf_diff": lf,
                "lf_lo": lf_lo,
                "lf_hi": lf_hi,
                "lf_verdict": lf_verdict,
                "agree": verdict == lf_verdict,
                "n_seeds": r.n_seeds,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "model",
            "level",
            "setting",
            "v_diff",
            "v_lo",
            "v_hi",
            "verdict",
            "lf_diff",
            "lf_lo",
            "lf_hi",
            "lf_verdict",
            "agree",
            "n_seeds",
        ],
    )


def score_verdicts(table: pd.DataFrame, *, baseline: str, scores: list[str] | None = None) -> pd.DataFrame:
    """Each label-free score as a verdict of its own: for every trained model, level and
    clusterer/space, the paired difference of ``score`` to ``baseline`` over seeds (t-interval,
    `paired_differences`), ``better``/``worse``/``unclear`` with the score's direction (Davies-Bouldin:
    lower is better), beside the labelled verdict. ``lf_verdict`` is ``n/a`` where the score is not
    defined (DBCV for KMeans, fewer than two clusters). One row per case and score."""
    from ..evaluation.scoring import label_free_scores

    labelled = paired_differences(table, baseline=baseline).set_index(["model", "level", "setting"])
    rows = []
    for score in [s for s in (scores or label_free_scores()) if s in table.columns]:
        sign = _sign(score)
        for r in paired_differences(table, baseline=baseline, metric=score).itertuples():
            if r.model == baseline:
                continue
            v = labelled.loc[(r.model, r.level, r.setting)]
            lo, hi = sorted((sign * r.diff_lo, sign * r.diff_hi))
            lf_verdict = verdict_of(lo, hi) if np.isfinite(r.diff) else "n/a"
            verdict = verdict_of(v["diff_lo"], v["diff_hi"])
            rows.append(
                {
                    "model": r.model,
                    "level": r.level,
                    "setting": r.setting,
                    "score": score,
                    "verdict": verdict,
                    "lf_verdict": lf_verdict,
                    "agree": verdict == lf_verdict,
                }
            )
    return pd.DataFrame(rows, columns=["model", "level", "setting", "score", "verdict", "lf_verdict", "agree"])


def seed_verdicts(table: pd.DataFrame, *, baseline: str, signals: list[str]) -> pd.DataFrame:
    """Each signal's verdict as one run gives it (a user runs one seed): for every trained model,
    level, clusterer/space and seed, the verdict of that seed's paired bootstrap interval
    (``vs_start_<signal>_lo``/``_hi``), beside the labelled verdict over every seed, and both
    clusterings' numbers of clusters (``k``, ``k_start``). One row per case, seed and signal."""
    labelled = paired_differences(table, baseline=baseline).set_index(["model", "level", "setting"])
    t = table if "seed" in table.columns else table.assign(seed=0)
    t = t.assign(setting=t["clusterer"] + "/" + t["space"])
    k_start = t[t["model"] == baseline].set_index(["level", "setting", "seed"])["n_clusters"]
    rows = []
    for r in t[t["model"] != baseline].itertuples(index=False):
        if (r.model, r.level, r.setting) not in labelled.index or (r.level, r.setting, r.seed) not in k_start.index:
            continue
        v = labelled.loc[(r.model, r.level, r.setting)]
        for signal in signals:
            lo, hi = getattr(r, f"vs_start_{signal}_lo", np.nan), getattr(r, f"vs_start_{signal}_hi", np.nan)
            rows.append(
                {
                    "model": r.model,
                    "level": r.level,
                    "setting": r.setting,
                    "seed": r.seed,
                    "signal": signal,
                    "verdict": verdict_of(v["diff_lo"], v["diff_hi"]),
                    "v_diff": v["diff"],
                    "lf_verdict": verdict_of(lo, hi),
                    "lf_diff": getattr(r, f"vs_start_{signal}", np.nan),
                    "k": r.n_clusters,
                    "k_start": k_start.loc[(r.level, r.setting, r.seed)],
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "model",
            "level",
            "setting",
            "seed",
            "signal",
            "verdict",
            "v_diff",
            "lf_verdict",
            "lf_diff",
            "k",
            "k_start",
        ],
    )


def claims(verdicts: pd.DataFrame) -> dict[str, int]:
    """What a verdict's rows claim against the labels: the cases the labels decide, how many of
    those it agrees with, how many it calls the wrong way (better for worse, or the reverse), where
    it abstains, and how many decisive claims it makes where the labels are unclear."""
    decided = verdicts["verdict"] != "unclear"
    decisive = verdicts["lf_verdict"].isin(["better", "worse"])
    return {
        "cases": len(verdicts),
        "decided": int(decided.sum()),
        "agrees": int((decided & (verdicts["verdict"] == verdicts["lf_verdict"])).sum()),
        "wrong_direction": int((decided & decisive & (verdicts["verdict"] != verdicts["lf_verdict"])).sum()),
        "abstains_where_decided": int((decided & ~decisive).sum()),
        "decisive": int(decisive.sum()),
        "decisive_where_unclear": int((~decided & decisive).sum()),
    }


def agreement_rate(agreement: pd.DataFrame) -> float:
    """The share of agreeing verdicts among the cases whose labelled verdict is decided (NaN: none)."""
    decided = agreement[agreement["verdict"] != "unclear"]
    return float(decided["agree"].mean()) if len(decided) else float("nan")


def score_correlations(table: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation of each label-free score with V-measure across (model, clusterer/space),
    per level (means over seeds first); Davies-Bouldin sign-flipped so that higher is better."""
    from scipy.stats import spearmanr

    from ..evaluation.scoring import label_free_scores

    scores = [s for s in label_free_scores() if s in table.columns]
    t = table.assign(setting=table["clusterer"] + "/" + table["space"])
    rows = []
    for level, g in t.groupby("level", sort=False):
        means = g.groupby(["model", "setting"], sort=False)[["v_measure", *scores]].mean()
        for s in scores:
            ok = means[["v_measure", s]].dropna()
            rho = float(spearmanr(ok["v_measure"], _sign(s) * ok[s]).statistic) if len(ok) >= 3 else float("nan")
            rows.append({"level": level, "score": s, "spearman": rho, "n": len(ok)})
    return pd.DataFrame(rows, columns=["level", "score", "spearman", "n"])
