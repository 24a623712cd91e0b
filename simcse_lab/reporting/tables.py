"""The printed tables of a comparison: the summary (mean per model x clusterer/space), its spread,
and paired differences against a baseline over seeds.
"""

from __future__ import annotations

import pandas as pd

from ..evaluation.statistics import mean_ci

__all__ = [
    "comparison_markdown",
    "format_summary",
    "has_label_free",
    "label_free_table",
    "paired_differences",
    "spread_label",
    "spread_table",
    "summary_table",
]


def summary_table(table: pd.DataFrame, *, metric: str = "v_measure", level: str | None = None) -> pd.DataFrame:
    """Models as rows, ``clusterer/space`` as columns, ``metric`` (mean over seeds) as values."""
    t = table if level is None else table[table["level"] == level]
    return t.assign(setting=t["clusterer"] + "/" + t["space"]).pivot_table(
        index="model", columns="setting", values=metric, aggfunc="mean", sort=False
    )


def spread_table(table: pd.DataFrame, *, metric: str = "v_measure", level: str | None = None) -> pd.DataFrame | None:
    """The ± of `summary_table`, a 95% confidence half-width: of the mean over seeds (Student t)
    when there are several seeds, else half the bootstrap percentile interval over resampled texts
    (``<metric>_lo``/``_hi``), else None."""
    t = table if level is None else table[table["level"] == level]
    t = t.assign(setting=t["clusterer"] + "/" + t["space"])
    if "seed" in t.columns and t["seed"].nunique() > 1:
        return t.pivot_table(
            index="model", columns="setting", values=metric, aggfunc=lambda v: mean_ci(v)[1], sort=False
        )
    if f"{metric}_lo" in t.columns and t[f"{metric}_lo"].notna().any():
        t = t.assign(half=(t[f"{metric}_hi"] - t[f"{metric}_lo"]) / 2)
        return t.pivot_table(index="model", columns="setting", values="half", aggfunc="mean", sort=False)
    return None


def spread_label(table: pd.DataFrame, metric: str = "v_measure") -> str:
    """What the ± of a summary is, as `spread_table` computes it: `` ± 95% CI ...`` or, when
    neither seeds nor a bootstrap give an interval, that there is none."""
    seeds = table["seed"].nunique() if "seed" in table.columns else 1
    if seeds > 1:
        return f"± 95% CI of the mean over {seeds} seeds"
    if f"{metric}_lo" in table.columns and table[f"{metric}_lo"].notna().any():
        return "± 95% bootstrap interval over resampled texts, one seed"
    return "one seed, no interval: metrics.n_bootstrap is 0"


def format_summary(mean: pd.DataFrame, spread: pd.DataFrame | None, *, digits: int = 3) -> pd.DataFrame:
    """``mean ± spread`` strings, for printing."""
    if spread is None:
        return mean.map(lambda v: f"{v:.{digits}f}")
    return mean.combine(
        spread, lambda m, s: m.map(lambda v: f"{v:.{digits}f}") + " ± " + s.map(lambda v: f"{v:.{digits}f}")
    )


def paired_differences(
    table: pd.DataFrame, *, baseline: str, metric: str = "v_measure", confidence: float = 0.95
) -> pd.DataFrame:
    """Every model against ``baseline`` on the same texts, clusterer, space and level, over seeds.

    One row per model x level x clusterer/space: the mean of ``metric`` over seeds with its
    ``confidence`` t-interval (``lo``, ``hi``), and the *paired* difference to ``baseline`` (each
    seed's score minus the baseline's score of the same seed) with its t-interval (``diff_lo``,
    ``diff_hi``; NaN with one seed). A difference whose interval lies above 0 is a gain beyond the
    seed-to-seed spread.

    >>> t = pd.DataFrame({"model": ["a", "b"] * 3, "clusterer": "kmeans", "space": "raw", "level": "L",
    ...                   "seed": [1, 1, 2, 2, 3, 3], "v_measure": [0.30, 0.35, 0.31, 0.37, 0.29, 0.36]})
    >>> d = paired_differences(t, baseline="a").set_index("model")
    >>> round(float(d.loc["b", "diff"]), 3), bool(d.loc["b", "diff_lo"] > 0), int(d.loc["b", "n_seeds"])
    (0.06, True, 3)
    """
    t = table if "seed" in table.columns else table.assign(seed=0)
    t = t.assign(setting=t["clusterer"] + "/" + t["space"])
    base = t[t["model"] == baseline].set_index(["level", "setting", "seed"])[metric].sort_index()
    if base.empty:
        raise ValueError(f"baseline model {baseline!r} is not in the table (models: {sorted(set(t['model']))})")
    rows = []
    for (model, level, setting), g in t.groupby(["model", "level", "setting"], sort=False):
        values = g.set_index("seed")[metric]
        diffs = values - base.loc[(level, setting)].reindex(values.index)
        mean, half = mean_ci(values.to_numpy(), confidence=confidence)
        dmean, dhalf = mean_ci(diffs.to_numpy(), confidence=confidence)
        rows.append(
            {
                "model": model,
                "level": level,
                "setting": setting,
                "mean": mean,
                "lo": mean - half,
                "hi": mean + half,
                "diff": dmean,
                "diff_lo": dmean - dhalf,
                "diff_hi": dmean + dhalf,
                "n_seeds": len(values),
            }
        )
    return pd.DataFrame(rows)


def label_free_table(table: pd.DataFrame, *, level: str | None = None, digits: int = 3) -> pd.DataFrame:
    """One row per model and clusterer/space: the label-free scores (mean over seeds), silhouette
    with its 95% half-width, the number of clusters and, for a trained model, the label-free
    verdict against its start model (silhouette difference, its 95% interval, better/worse/unclear;
    over several seeds, every seed's verdict). Columns a run did not compute are left out."""
    from ..evaluation.scoring import label_free_scores

    t = table if level is None else table[table["level"] == level]
    t = t.assign(setting=t["clusterer"] + "/" + t["space"])
    cols = [c for c in ("n_clusters", *label_free_scores()) if c in t.columns and t[c].notna().any()]
    g = t.groupby(["model", "setting"], sort=False)
    out = g[cols].mean()
    seeds = "seed" in t.columns and t["seed"].nunique() > 1
    if "silhouette" in cols and (seeds or "silhouette_lo" in t.columns):
        half = (
            g["silhouette"].agg(lambda v: mean_ci(v.to_numpy())[1])
            if seeds
            else ((t["silhouette_hi"] - t["silhouette_lo"]) / 2).groupby([t["model"], t["setting"]], sort=False).mean()
        )
        out["silhouette"] = [f"{m:.{digits}f} ± {h:.{digits}f}" for m, h in zip(out["silhouette"], half)]
    if "lf_verdict" in t.columns and t["lf_verdict"].notna().any():
        # the label-free verdict against the start model: each signal it read, difference [95% interval]
        read = t["lf_signal"].dropna().astype(str) if "lf_signal" in t.columns else pd.Series(dtype=str)
        signals = read.iloc[0].split(" ")[0].split("+") if len(read) else []
        for signal in [s for s in signals if f"vs_start_{s}" in t.columns]:
            d = g[[f"vs_start_{signal}", f"vs_start_{signal}_lo", f"vs_start_{signal}_hi"]].mean()
            out[f"vs start: {signal}"] = [
                "" if pd.isna(m) else f"{m:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"
                for m, lo, hi in d.itertuples(index=False)
            ]
        said = t["lf_verdict"].where(
            ~t.get("lf_signal", pd.Series("", index=t.index)).astype(str).str.contains("not read"),
            t["lf_verdict"] + " (k differs)",
        )
        out["verdict"] = (
            t.assign(said=said)
            .groupby(["model", "setting"], sort=False)["said"]
            .agg(lambda s: "/".join(sorted(set(s.dropna().astype(str)))))
        )
    return out.reset_index()


def has_label_free(table: pd.DataFrame) -> bool:
    """Whether a table holds any label-free score (a run folder written before they existed has none)."""
    from ..evaluation.scoring import label_free_scores

    return any(c in table.columns for c in label_free_scores())


def comparison_markdown(
    table: pd.DataFrame,
    model_metrics: pd.DataFrame,
    *,
    level: str,
    corpus_name: str,
    n_texts: int,
    trained_from: dict[str, str | None] | None = None,
) -> str:
    """The tables ``simcse-lab compare`` prints, as Markdown: V-measure against ``level`` per
    model and clusterer/space with its 95% half-width (when the corpus has labels), the label-free
    scores, and each model's geometry and STS-B. The docs' generated tables come from the same
    function, read back from a run folder's CSVs."""
    spread, lf_spread = spread_label(table), spread_label(table, "silhouette")
    geometry = model_metrics
    if "seed" in geometry.columns:
        geometry = geometry.drop(columns="seed").groupby("model", sort=False).mean().reset_index()
    parts = []
    if level:
        summary = format_summary(summary_table(table, level=level), spread_table(table, level=level))
        parts += [
            f"V-measure against '{level}' ({corpus_name}, {n_texts} texts; {spread}):",
            "",
            summary.to_markdown(),
            "",
        ]
    free = label_free_table(table, level=level)
    sentences = []
    if has_label_free(free):
        parts += [
            f"Label-free scores ({corpus_name}, {n_texts} texts; no labels used; silhouette {lf_spread}; "
            f"davies_bouldin: lower is better, the others higher{_verdict_read(table)}):",
            "",
            free.to_markdown(index=False, floatfmt=".3f"),
            "",
        ]
        if trained_from:
            from ..evaluation.verdict import measured_check
            from .verdicts import read_first_sentence, verdict_sentences

            check = measured_check()
            first = read_first_sentence(table, trained_from, check=check)
            lines = [*verdict_sentences(table, trained_from, check=check), *([first] if first else [])]
            sentences = ["", *(f"- {line}" for line in lines)]
    columns = set(geometry.columns)
    notes = [
        note
        for note, shown in (
            ("alignment/uniformity: lower is better", {"alignment", "uniformity"} & columns),
            ("mean_cosine: anisotropy", "mean_cosine" in columns),
            ("sts_*: STS-B Spearman", any(str(c).startswith("sts_") for c in columns)),
        )
        if shown
    ]
    return "\n".join(
        [
            *parts,
            "Per model" + (f" ({'; '.join(notes)})" if notes else "") + ":",
            "",
            geometry.to_markdown(index=False, floatfmt=".3f"),
            *sentences,
        ]
    )


def _verdict_read(table: pd.DataFrame) -> str:
    """What the "vs start" columns read, for the label-free table's heading."""
    from ..core.registry import SIGNALS

    said = table["lf_signal"].dropna().astype(str) if "lf_signal" in table else pd.Series(dtype=str)
    if said.empty:
        return ""
    names = said.iloc[0].split(" ")[0].split("+")
    what = "; ".join(f"{n}: {SIGNALS[n].help}" if n in SIGNALS else n for n in names)
    return (
        f"; vs start: the trained model's clustering against its start model's, {what}, each with a 95%"
        " interval; verdict: better or worse only when every one says so"
    )
