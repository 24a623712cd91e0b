"""Benchmark: how far the label-free verdict on training can be trusted, chosen on dev halves and
checked on test halves.

    python bench/verdicts.py                       # every docs/data/vd-*-dev and vd-*-test record
    python bench/verdicts.py --from-json bench/results/verdicts.json

Each record is a `simcse-lab compare methods` run folder, copied into ``docs/data/vd-<corpus>-<half>``
with ``scripts/docs_tables.py --record`` (the commands are in ``docs/without-labels.md``): `minilm`
against models trained from it (self-training with k chosen without labels, the true-label
reference, unsupervised SimCSE) on a dev or test half, 3 seeds, every KMeans k chosen without
labels. Its ``results.csv`` holds, for every trained model's clustering, every verdict signal's
paired bootstrap difference to `minilm` (`simcse_lab.evaluation.verdict`).

A case is a corpus, label level, trained model and clustering; the labels decide it when the paired
V-measure difference over the seeds has a 95% t-interval clear of 0. A rule is a signal, read as
one run gives it (each seed's bootstrap interval: ``better`` above 0, ``worse`` below), or a pair
of signals read together (``better`` or ``worse`` only when both say so), saying ``unclear`` where
the two clusterings have a different number of clusters never, for KMeans only, or always. Each (case,
seed) is one claim. Per rule: the claims where the labels decide, how many agree, how many point
the wrong way, how many abstain, and the decisive claims where the labels are unclear.

The rule is chosen on the dev records only: no wrong-direction claim, then the highest agreement
(ties: fewer abstentions where the labels decide); its decisive claims where the labels are unclear
are reported against the target (at most 25% of its decisive claims). The test records are then read
once, for that rule and for every other, so the table shows what the choice cost. Also: each
signal's Spearman correlation with V-measure across the models and clusterings of each corpus and
level (means over seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


DATA = ROOT / "docs" / "data"


def _records(half: str, data: Path = DATA) -> list[Path]:
    return sorted(p for p in data.glob(f"vd-*-{half}") if (p / "results.csv").is_file())


def _claims_of(records: list[Path]):
    """Every (case, seed, signal) claim of ``records``, with its corpus."""
    import pandas as pd

    from simcse_lab.core.registry import SIGNALS
    from simcse_lab.reporting.agreement import seed_verdicts
    from simcse_lab.reporting.spreadsheet import read_csv as read_results_csv

    parts = []
    for folder in records:
        manifest = json.loads((folder / "manifest.json").read_text())
        table = read_results_csv(folder / "results.csv")
        table["level"] = table["level"].fillna("")
        baseline = manifest["models"][0]["name"]
        got = seed_verdicts(table, baseline=baseline, signals=list(SIGNALS.names()))
        parts.append(got.assign(record=folder.name, corpus=manifest["corpus"]["name"]))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


KEYS = ["record", "corpus", "model", "level", "setting", "seed", "verdict", "v_diff", "k", "k_start"]


def _rules() -> list[tuple[str, ...]]:
    """Every signal alone, and every pair read together (better or worse only when both say so)."""
    from itertools import combinations

    from simcse_lab.core.registry import SIGNALS

    names = list(SIGNALS.names())
    return [(n,) for n in names] + list(combinations(names, 2))


ACROSS = ("never", "kmeans", "always")


def _apply(claims, signals: tuple[str, ...], across: str):
    """One row per (case, seed): the verdict of ``signals`` read together, ``unclear`` where the
    numbers of clusters differ (``across``: never, for KMeans only, always), as
    `simcse_lab.evaluation.verdict.judge_pairs` decides it."""
    wide = claims.pivot_table(index=KEYS, columns="signal", values="lf_verdict", aggfunc="first").reset_index()
    said = wide[list(signals)]
    agree = said.nunique(axis=1) == 1
    out = wide[KEYS].assign(lf_verdict=said.iloc[:, 0].where(agree, "unclear"))
    differ = out["k"] != out["k_start"]
    if across == "kmeans":
        differ &= out["setting"].str.startswith("kmeans")
    if across != "never":
        out.loc[differ, "lf_verdict"] = "unclear"
    return out


def rule_table(claims) -> list[dict]:
    """Every rule's claims against the labels."""
    from simcse_lab.reporting.agreement import claims as tally

    rows = []
    for signals in _rules():
        for across in ACROSS:
            t = tally(_apply(claims, signals, across))
            rows.append(
                {
                    "signals": "+".join(signals),
                    "abstain_across_k": across,
                    **t,
                    "agreement": t["agrees"] / t["decided"] if t["decided"] else None,
                    "unclear_share": t["decisive_where_unclear"] / t["decisive"] if t["decisive"] else None,
                }
            )
    return rows


def choose(rows: list[dict]) -> dict | None:
    """No wrong-direction claim on the dev halves, then the highest agreement (ties: fewer
    abstentions where the labels decide). The share of decisive claims where the labels are unclear
    is reported against its target, not used to choose: on a small corpus the labels decide nothing,
    and every claim there counts against it."""
    ok = [r for r in rows if r["wrong_direction"] == 0 and r["decided"]]
    return max(ok, key=lambda r: (r["agreement"], -r["abstains_where_decided"])) if ok else None


def correlations(records: list[Path]) -> list[dict]:
    from scipy.stats import spearmanr

    from simcse_lab.core.registry import SIGNALS
    from simcse_lab.reporting.spreadsheet import read_csv as read_results_csv

    rows = []
    for folder in records:
        manifest = json.loads((folder / "manifest.json").read_text())
        t = read_results_csv(folder / "results.csv")
        t["level"] = t["level"].fillna("")
        t["setting"] = t["clusterer"] + "/" + t["space"]
        for level, g in t.groupby("level", sort=False):
            means = g.groupby(["model", "setting"])[["v_measure", *SIGNALS.names()]].mean()
            for s in SIGNALS.names():
                ok = means[["v_measure", s]].dropna()
                rho = float(spearmanr(ok["v_measure"], ok[s]).statistic) if len(ok) >= 3 else None
                rows.append(
                    {
                        "record": folder.name,
                        "corpus": manifest["corpus"]["name"],
                        "level": level,
                        "signal": s,
                        "spearman": rho,
                        "n": len(ok),
                    }
                )
    return rows


def _read_first(records: list[Path]) -> list[dict]:
    """Which clustering a user should read first, by each rule: per record, level, model and seed,
    the clustering a rule picks among KMeans on the vectors and HDBSCAN (soft and hard) on UMAP,
    against the one with the highest V-measure. A pick is right when its V-measure reaches the best
    one's bootstrap interval (``v_measure_lo``); regret is the V-measure it gives up."""
    import numpy as np
    import pandas as pd

    from simcse_lab.core.registry import SIGNALS
    from simcse_lab.reporting.spreadsheet import read_csv as read_results_csv

    settings = ["kmeans/raw", "hdbscan/umap", "hdbscan-hard/umap"]
    rules = {"always kmeans/raw": None, "always hdbscan/umap": None, **{f"highest {s}": s for s in SIGNALS.names()}}
    rows = []
    for folder in records:
        t = read_results_csv(folder / "results.csv")
        t["level"] = t["level"].fillna("")
        t["setting"] = t["clusterer"] + "/" + t["space"]
        t = t[t["setting"].isin(settings)]
        if "seed" not in t:
            t["seed"] = 0
        for _, g in t.groupby(["level", "model", "seed"]):
            if len(g) < 2:
                continue
            best = g.loc[g["v_measure"].idxmax()]
            for rule, signal in rules.items():
                if signal is None:
                    pick = g[g["setting"] == rule.split(" ", 1)[1]]
                    pick = pick.iloc[0] if len(pick) else None
                else:
                    ok = g[np.isfinite(g[signal])]
                    pick = ok.loc[ok[signal].idxmax()] if len(ok) else None
                if pick is None:
                    continue
                rows.append(
                    {
                        "record": folder.name,
                        "rule": rule,
                        "right": bool(pick["v_measure"] >= best.get("v_measure_lo", best["v_measure"])),
                        "regret": float(best["v_measure"] - pick["v_measure"]),
                    }
                )
    t = pd.DataFrame(rows)
    if t.empty:
        return []
    out = (
        t.groupby("rule", sort=False)
        .agg(groups=("right", "size"), right=("right", "sum"), mean_regret=("regret", "mean"))
        .reset_index()
    )
    out["right_share"] = out["right"] / out["groups"]
    return out.to_dict(orient="records")


def run(data: Path = DATA) -> dict:
    dev, test = _records("dev", data), _records("test", data)
    if not dev:
        raise SystemExit("no docs/data/vd-*-dev record: record the dev runs first (docs/without-labels.md)")
    dev_rows = rule_table(_claims_of(dev))
    chosen = choose(dev_rows)
    test_claims = _claims_of(test) if test else None
    test_rows = rule_table(test_claims) if test_claims is not None else []
    wrong = []
    if chosen is not None and test_claims is not None:
        c = _apply(test_claims, tuple(chosen["signals"].split("+")), chosen["abstain_across_k"])
        bad = c[
            (c["verdict"] != "unclear") & c["lf_verdict"].isin(["better", "worse"]) & (c["verdict"] != c["lf_verdict"])
        ]
        wrong = bad.to_dict(orient="records")
    first_dev = _read_first(dev)
    first = max(first_dev, key=lambda r: (r["right_share"], -r["mean_regret"]))["rule"] if first_dev else None
    return {
        "dev_records": [p.name for p in dev],
        "test_records": [p.name for p in test],
        "dev": dev_rows,
        "chosen": chosen and {"signals": chosen["signals"].split("+"), "abstain_across_k": chosen["abstain_across_k"]},
        "test": test_rows,
        "test_wrong_direction": wrong,
        "spearman": correlations(dev + test),
        "read_first": {"dev": first_dev, "chosen": first, "test": _read_first(test) if test else []},
    }


def write_check(result: dict) -> None:
    """The chosen rule and its claims on the test halves, where `simcse-lab explore` reads them
    (`simcse_lab.evaluation.verdict.CHECK_FILE`); nothing when no rule was chosen or tested."""
    from simcse_lab.evaluation.verdict import CHECK_FILE

    chosen = result["chosen"]
    test = [
        r
        for r in result["test"]
        if chosen
        and r["signals"] == "+".join(chosen["signals"])
        and r["abstain_across_k"] == chosen["abstain_across_k"]
    ]
    if not test:
        CHECK_FILE.unlink(missing_ok=True)
        return
    corpora = sorted(
        {json.loads((DATA / name / "manifest.json").read_text())["corpus"]["name"] for name in result["test_records"]}
    )
    first = result.get("read_first") or {}
    first_test = [r for r in first.get("test", []) if r["rule"] == first.get("chosen")]
    CHECK_FILE.write_text(
        json.dumps(
            {
                **chosen,
                "corpora": corpora,
                "records": result["test_records"],
                "test": test[0],
                "read_first": first.get("chosen"),
                "read_first_test": first_test[0] if first_test else None,
            },
            indent=1,
        )
        + "\n"
    )


def _pct(v) -> str:
    return "-" if v is None or v != v else f"{v:.0%}"


def write_markdown(result: dict, out: Path) -> None:
    import pandas as pd

    def table(rows: list[dict]) -> str:
        t = pd.DataFrame(rows)
        t["agreement"], t["unclear_share"] = t["agreement"].map(_pct), t["unclear_share"].map(_pct)
        t = t.rename(
            columns={
                "abstain_across_k": "unclear across k",
                "decided": "decided by the labels",
                "wrong_direction": "wrong direction",
                "abstains_where_decided": "abstains where decided",
                "decisive_where_unclear": "decisive where the labels are unclear",
                "unclear_share": "of its decisive claims",
            }
        )
        return t.drop(columns=["cases"]).to_markdown(index=False)

    chosen = result["chosen"]
    lines = [
        "# The label-free verdict on training: chosen on dev halves, checked on test halves",
        "",
        f"Claims: each (corpus, level, trained model, clustering, seed) as one run gives it. Dev records:"
        f" {', '.join(result['dev_records'])}.",
        "",
        table(result["dev"]),
        "",
    ]
    if chosen is None:
        lines += ["No rule made no wrong-direction claim on the dev halves.", ""]
    else:
        lines += [
            f"Chosen on the dev halves: `{'+'.join(chosen['signals'])}`"
            + f", unclear across numbers of clusters: {chosen['abstain_across_k']}.",
            "",
        ]
    if result["test"]:
        lines += [f"Test records: {', '.join(result['test_records'])}.", "", table(result["test"]), ""]
        if chosen is not None:
            r = next(
                r
                for r in result["test"]
                if r["signals"] == "+".join(chosen["signals"]) and r["abstain_across_k"] == chosen["abstain_across_k"]
            )
            met = (
                r["decided"] >= 40
                and (r["agreement"] or 0) >= 0.9
                and r["wrong_direction"] == 0
                and (r["unclear_share"] or 0) <= 0.25
            )
            lines += [
                f"The chosen rule on the test halves: agrees with the labels in {r['agrees']} of {r['decided']}"
                f" decided claims ({_pct(r['agreement'])}), {r['wrong_direction']} in the wrong direction,"
                f" abstains in {r['abstains_where_decided']}; {r['decisive_where_unclear']} of its"
                f" {r['decisive']} decisive claims ({_pct(r['unclear_share'])}) are where the labels are unclear."
                f" Target (>= 90% of >= 40 decided, 0 wrong, <= 25% decisive where unclear): "
                f"{'met' if met else 'not met'}.",
                "",
            ]
    first = result.get("read_first") or {}
    if first.get("dev"):

        def picks(rows: list[dict]) -> str:
            t = pd.DataFrame(rows)
            t["right_share"] = t["right_share"].map(_pct)
            return t.rename(
                columns={
                    "groups": "model x level x seed",
                    "right": "picks the best",
                    "mean_regret": "V-measure given up (mean)",
                    "right_share": "share",
                }
            ).to_markdown(index=False, floatfmt=".3f")

        lines += [
            "Which clustering to read first (KMeans on the vectors, HDBSCAN soft or hard on UMAP): the pick"
            " is right when its V-measure reaches the best clustering's bootstrap interval. Dev halves:",
            "",
            picks(first["dev"]),
            "",
            f"Chosen on the dev halves: {first['chosen']}.",
            "",
        ]
        if first.get("test"):
            lines += ["Test halves:", "", picks(first["test"]), ""]
    rho = pd.DataFrame(result["spearman"])
    if len(rho):
        wide = rho.pivot_table(index=["record", "level"], columns="signal", values="spearman", sort=False)
        wide = wide.reset_index().rename_axis(columns=None)
        lines += [
            "Spearman correlation with V-measure across models and clusterings (means over seeds):",
            "",
            wide.to_markdown(index=False, floatfmt="+.2f"),
            "",
        ]
        tested = rho[rho["record"].isin(result["test_records"])]
        if chosen is not None and len(tested):
            low = {s: tested[tested["signal"] == s]["spearman"].min() for s in chosen["signals"]}
            lines += [
                "On the test records, the lowest correlation of each signal the verdict reads: "
                + ", ".join(f"{s} {v:+.2f}" for s, v in low.items())
                + f" (target >= 0.6 on every corpus: {'met' if min(low.values()) >= 0.6 else 'not met'}).",
                "",
            ]
    out.write_text("\n".join(lines).rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "verdicts.json")
    ap.add_argument("--from-json", type=Path, help="only write the .md again from this result's .json")
    ap.add_argument("--records", type=Path, default=DATA, help="the folder holding the vd-* records")
    args = ap.parse_args()
    result = json.loads(args.from_json.read_text()) if args.from_json else run(args.records)
    if not args.from_json:
        args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")
        if args.records == DATA:
            write_check(result)
    write_markdown(result, (args.from_json or args.out).with_suffix(".md"))


if __name__ == "__main__":
    main()
