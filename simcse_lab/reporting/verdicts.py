"""The answer a user without labels reads first: did training help?

`verdict_sentences` turns a run's table into one sentence per trained model: ``helped``, ``made it
worse`` or ``cannot tell``, with the signal the verdict read, the clustering it read it on, the
difference and its 95% interval, and how often that verdict was measured to agree with labels
(`simcse_lab.evaluation.verdict.measured_check`, written by ``bench/verdicts.py`` from the labelled
test halves). The like-for-like clustering is read: KMeans at the start model's k
(``kmeans-start-k``) when each model chose its own k, else KMeans on the vectors.

>>> t = pd.DataFrame({"model": ["m", "t"], "clusterer": "kmeans", "space": "raw", "level": "",
...                   "n_clusters": [4, 4], "lf_signal": [None, "start_silhouette"], "lf_diff": [None, 0.02],
...                   "lf_diff_lo": [None, 0.01], "lf_diff_hi": [None, 0.03], "lf_verdict": [None, "better"]})
>>> verdict_sentences(t, {"t": "m"}, check=None)[0]
't against m: helped. On KMeans on the vectors (4 clusters each): start_silhouette +0.020 [+0.010, +0.030];
this verdict was not checked against labels.'
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["read_first", "read_first_sentence", "verdict_sentences"]

WORDS = {"better": "helped", "worse": "made it worse"}
PREFERRED = (
    ("kmeans-start-k", "raw", "KMeans on the vectors at the start model's k"),
    ("kmeans", "raw", "KMeans on the vectors"),
)


def _measured(check: dict[str, Any] | None, signal: str, abstain_across_k: str) -> str:
    if not check or "+".join(check.get("signals", [])) != signal or check.get("abstain_across_k") != abstain_across_k:
        return "this verdict was not checked against labels"
    t = check["test"]
    return (
        f"checked on labelled test halves ({', '.join(check['corpora'])}), it agreed with the labels in "
        f"{t['agrees']} of {t['decided']} decided claims, called {t['wrong_direction']} the wrong way and said"
        f" cannot tell in {t['abstains_where_decided']}"
    )


def verdict_sentences(
    table: pd.DataFrame,
    trained_from: dict[str, str | None],
    *,
    check: dict[str, Any] | None,
    abstain_across_k: str = "kmeans",
) -> list[str]:
    """One sentence per trained model of ``table`` (a run's rows; with several seeds, the first)
    whose start model is in it."""
    t = table
    if "seed" in t.columns:
        t = t[t["seed"] == t["seed"].min()]
    t = t[t["level"] == t["level"].iloc[0]] if len(t) else t
    out = []
    for model, start in trained_from.items():
        rows = t[(t["model"] == model) & t.get("lf_verdict", pd.Series(dtype=object)).notna()] if start else t[:0]
        for clusterer, space, what in PREFERRED:
            row = rows[(rows["clusterer"] == clusterer) & (rows["space"] == space)]
            if len(row):
                break
        else:
            continue
        r = row.iloc[0]
        base = t[(t["model"] == start) & (t["clusterer"] == clusterer) & (t["space"] == space)]
        k, k_start = int(r["n_clusters"]), int(base["n_clusters"].iloc[0]) if len(base) else int(r["n_clusters"])
        signal = str(r["lf_signal"]).split(" ")[0]  # "a+b", without a note on why it was not read
        ks = f"{k} clusters each" if k == k_start else f"{k} clusters against {k_start}"
        word = WORDS.get(r["lf_verdict"], "cannot tell")
        diffs = ", ".join(
            f"{s} {r[f'vs_start_{s}']:+.3f} [{r[f'vs_start_{s}_lo']:+.3f}, {r[f'vs_start_{s}_hi']:+.3f}]"
            if f"vs_start_{s}" in r
            else f"{s} {r['lf_diff']:+.3f} [{r['lf_diff_lo']:+.3f}, {r['lf_diff_hi']:+.3f}]"
            for s in signal.split("+")
        )
        out.append(
            f"{model} against {start}: {word}. On {what} ({ks}): {diffs}; {_measured(check, signal, abstain_across_k)}."
        )
    return out


READ_FROM = ("kmeans/raw", "hdbscan/umap", "hdbscan-hard/umap")


def read_first(table: pd.DataFrame, rule: str | None) -> dict[str, str]:
    """``{model: clusterer/space}``: the clustering each model's user should read first, by ``rule``
    (``always <clusterer/space>`` or ``highest <signal>``, as ``bench/verdicts.py`` chose it on the
    labelled dev halves); empty without a rule."""
    if not rule:
        return {}
    t = table.assign(setting=table["clusterer"] + "/" + table["space"])
    t = t[t["setting"].isin(READ_FROM) & (t["level"] == t["level"].iloc[0])] if len(t) else t
    how, what = rule.split(" ", 1)
    out = {}
    for model, g in t.groupby("model", sort=False):
        if how == "always":
            if what in set(g["setting"]):
                out[str(model)] = what
        elif what in g and g[what].notna().any():
            out[str(model)] = str(g.groupby("setting")[what].mean().idxmax())
    return out


def read_first_sentence(
    table: pd.DataFrame, trained_from: dict[str, str | None], *, check: dict[str, Any] | None
) -> str | None:
    """Which clusters to open first: the start model's, unless the verdict says training helped
    (then the trained model's), in the clustering the measured rule picks; None without a rule."""
    rule = (check or {}).get("read_first")
    picks = read_first(table, rule)
    if not picks:
        return None
    t = table[table["level"] == table["level"].iloc[0]]
    helped = [
        m
        for m, s in trained_from.items()
        if s
        and (t[t["model"] == m]["lf_verdict"] == "better").any()
        and not (t[t["model"] == m]["lf_verdict"] == "worse").any()
    ]
    starts = [s for m, s in trained_from.items() if s]
    model = helped[0] if len(helped) == 1 else starts[0] if starts else next(iter(picks))
    if model not in picks:
        return None
    why = (
        "the verdict says training helped"
        if model in helped
        else "the start model's, as no trained model was judged better"
        if starts
        else ""
    )
    measured = (check or {}).get("read_first_test") or {}
    odds = (
        f"; on the labelled test halves this rule picked a clustering within the best one's interval in"
        f" {measured['right']} of {measured['groups']} cases"
        if measured
        else ""
    )
    return f"Read first: {model}, {picks[model]} ({rule}" + (f"; {why}" if why else "") + f"){odds}."
