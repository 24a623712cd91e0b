"""Benchmark: does what `explore` recommends ever leave a user worse off than the start model?

    python bench/do_no_harm.py                     # every docs/data/vd-*-test and dnh-*-test record
    python bench/do_no_harm.py --from-json bench/results/do_no_harm.json

`explore` recommends a model and a clustering without labels: the trained model only when the
label-free verdict says it is better than its start model (``better`` on some clustering, ``worse``
on none), else the start model; and, for that model, the clustering the read-first rule picks
(`simcse_lab.reporting.verdicts.read_first`, the rule `bench/verdicts.py` chose on the dev halves).
The start model's own label-free pipeline is the start model with the same read-first rule.

Each record is a run folder of `minilm` against `selftrain(minilm)` with k chosen without labels,
3 seeds, on a test half (the commands are in ``docs/without-labels.md``): ``vd-*-test`` were trained
with the training k rule ``largest-peak``, ``dnh-*-test`` with the rule each record's config names.
Per record, rule and label level: V-measure of the recommendation minus the start model's pipeline,
per seed, with the paired 95% t-interval over the seeds. Targets: never below 0 beyond the
interval, and on the reviews' Department level at least +0.07.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "docs" / "data"
TRAINED = "selftrain(minilm)"
START = "minilm"


def _records(data: Path) -> list[Path]:
    return sorted(
        p
        for pattern in ("vd-*-test", "dnh-*-test")
        for p in data.glob(pattern)
        if (p / "results.csv").is_file() and "-more-" not in p.name
    )


def recommendation(table, rule: str | None) -> tuple[str, dict[str, str]]:
    """The model `explore` recommends in one seed's ``table`` and each model's read-first clustering."""
    from simcse_lab.reporting.verdicts import read_first

    level = table["level"].iloc[0]
    trained = table[(table["model"] == TRAINED) & (table["level"] == level)]
    helped = (trained["lf_verdict"] == "better").any() and not (trained["lf_verdict"] == "worse").any()
    return (TRAINED if helped else START), read_first(table, rule)


def run(data: Path = DATA) -> dict:
    import pandas as pd

    from simcse_lab.evaluation.statistics import mean_ci
    from simcse_lab.evaluation.verdict import measured_check
    from simcse_lab.reporting.spreadsheet import read_csv as read_results_csv

    rule = (measured_check() or {}).get("read_first")
    rows = []
    for folder in _records(data):
        table = read_results_csv(folder / "results.csv")
        table["level"] = table["level"].fillna("")
        if TRAINED not in set(table["model"]) or START not in set(table["model"]):
            continue
        config = (folder / "config.yaml").read_text()
        k_rule = next(
            (line.split(":", 1)[1].strip() for line in config.splitlines() if line.strip().startswith("train_k_rule:")),
            "?",
        )
        manifest = json.loads((folder / "manifest.json").read_text())
        k_train = {s: c["k"] for s, c in manifest.get("k_choice", {}).items() if s.endswith(" training")}
        for seed, t in table.groupby("seed"):
            model, picks = recommendation(t, rule)
            if model not in picks or START not in picks or TRAINED not in picks:
                continue
            for level, g in t.groupby("level", sort=False):
                setting = g["clusterer"] + "/" + g["space"]
                rec = g[(g["model"] == model) & (setting == picks[model])]["v_measure"]
                base = g[(g["model"] == START) & (setting == picks[START])]["v_measure"]
                trained = g[(g["model"] == TRAINED) & (setting == picks[TRAINED])]["v_measure"]
                rows.append(
                    {
                        "record": folder.name,
                        "corpus": manifest["corpus"]["name"],
                        "k_rule": k_rule,
                        "level": level,
                        "seed": int(seed),
                        "kept": model,
                        "read": picks[model],
                        "k_train_first_seed": next(iter(k_train.values()), None),
                        "n_classes": manifest["corpus"]["levels"].get(level),
                        "diff": float(rec.iloc[0] - base.iloc[0]),
                        "diff_always_trained": float(trained.iloc[0] - base.iloc[0]),
                    }
                )
    t = pd.DataFrame(rows)
    summary = []
    for (record, k_rule, level), g in t.groupby(["record", "k_rule", "level"], sort=False):
        mean, half = mean_ci(g["diff"].to_numpy())
        always, always_half = mean_ci(g["diff_always_trained"].to_numpy())
        summary.append(
            {
                "record": record,
                "k_rule": k_rule,
                "level": level,
                "n_classes": int(g["n_classes"].iloc[0]),
                "seeds": len(g),
                "trained_kept": int((g["kept"] == TRAINED).sum()),
                "diff": mean,
                "diff_lo": mean - half,
                "diff_hi": mean + half,
                "below": bool(mean + half < 0),
                "always_trained": always,
                "always_trained_below": bool(always + always_half < 0),
            }
        )
    return {"read_first_rule": rule, "rows": rows, "summary": summary}


def write_markdown(result: dict, out: Path) -> None:
    import pandas as pd

    t = pd.DataFrame(result["summary"])
    lines = [
        "# Do no harm: what explore recommends against the start model's own pipeline (test halves)",
        "",
        f"Recommended: `{TRAINED}` only where the verdict says better, else `{START}`; each model's clustering"
        f" by the read-first rule ({result['read_first_rule']}). V-measure difference to `{START}` read by the"
        " same rule, mean over seeds with its paired 95% t-interval. The last column: the same difference"
        f" had `{TRAINED}` always been kept (below: beyond its interval).",
        "",
    ]
    if len(t):
        shown = t.assign(
            diff=t["diff"].map("{:+.3f}".format),
            interval=[f"[{lo:+.3f}, {hi:+.3f}]" for lo, hi in zip(t["diff_lo"], t["diff_hi"])],
            kept=[f"{k} of {s}" for k, s in zip(t["trained_kept"], t["seeds"])],
            always=[
                f"{d:+.3f}" + (" (below)" if b else "") for d, b in zip(t["always_trained"], t["always_trained_below"])
            ],
        )
        shown = shown[["record", "k_rule", "level", "n_classes", "kept", "diff", "interval", "below", "always"]]
        lines += [
            shown.rename(
                columns={
                    "k_rule": "training k rule",
                    "kept": "trained model kept",
                    "below": "below beyond the interval",
                    "always": f"always {TRAINED}",
                }
            ).to_markdown(index=False, disable_numparse=True),
            "",
        ]
        for k_rule, g in t.groupby("k_rule", sort=False):
            dept = g[g["level"] == "Department Name"]
            lines.append(
                f"- training k rule `{k_rule}`: below the start model beyond the interval in "
                f"{int(g['below'].sum())} of {len(g)} record levels; reviews Department: "
                + (", ".join(f"{d:+.3f}" for d in dept["diff"]) or "not recorded")
                + f" (target >= +0.07: {'met' if len(dept) and (dept['diff'] >= 0.07).all() else 'not met'})."
            )
    out.write_text("\n".join(lines).rstrip() + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "do_no_harm.json")
    ap.add_argument("--from-json", type=Path, help="only write the .md again from this result's .json")
    ap.add_argument("--records", type=Path, default=DATA, help="the folder holding the records")
    args = ap.parse_args()
    if args.from_json:
        write_markdown(json.loads(args.from_json.read_text()), args.from_json.with_suffix(".md"))
        return
    result = run(args.records)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    write_markdown(result, args.out.with_suffix(".md"))
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
