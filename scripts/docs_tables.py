"""Every table in README.md and docs/ is written here, from the file that holds its numbers.

A generated block sits between ``<!-- generated: NAME -->`` and ``<!-- /generated -->``; this
script replaces each block's body with what the source NAME renders today:

====================  ========================================================================
``demo``              the demo's two tables, from ``docs/data/demo/`` (a copy of the run folder's
                      ``results.csv``, ``model_metrics.csv`` and ``manifest.json``)
``demo-summary``      the README's part of it: V-measure, the verdict sentences, what to read first
``demo-findings``     each trained model's V-measure difference to its start model, same files
``demo-machine``      which machine and command produced them, from the same manifest
``config-keys``       every config key with its default and help, from the schema
``lessons``           each executed lesson in ``docs/lessons/``: its run time and parameters
``bench:<file>``      a benchmark table, ``bench/results/<file>.md`` (written with its JSON by the
                      benchmark script)
``verdict-signals``   the verdict's signals (from their registry) and which it reads by default
``verdict-check``     the chosen verdict's claims on the labelled test halves, from
                      ``simcse_lab/evaluation/verdict_check.json`` (written by ``bench/verdicts.py``)
``run:<name>``        a recorded run's verdicts, from ``docs/data/<name>/`` (copied with
                      ``--record NAME RUN_DIR``): per trained model and clusterer, the paired
                      V-measure difference to the start model beside the label-free verdict
====================  ========================================================================

Usage (``make docs`` runs the first; ``tests/test_docs.py`` runs ``--check``)::

    python scripts/docs_tables.py                   # rewrite every generated block
    python scripts/docs_tables.py --check           # exit 1 and name the blocks that differ
    python scripts/docs_tables.py --record-demo runs/default-<hash>-<fp>   # copy a demo run, then rewrite
    python scripts/docs_tables.py --record lf-reviews runs/lf-target-...   # copy any run for run:lf-reviews
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "docs" / "data" / "demo"
DEMO_FILES = ("results.csv", "model_metrics.csv", "manifest.json")
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w:.-]+) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.S)


def _demo_manifest() -> dict:
    return json.loads((DEMO / "manifest.json").read_text())


def demo() -> str:
    import pandas as pd

    from simcse_lab.reporting.spreadsheet import read_csv as read_results_csv
    from simcse_lab.reporting.tables import comparison_markdown

    manifest = _demo_manifest()
    table = read_results_csv(DEMO / "results.csv")
    level = next(iter(manifest["corpus"]["levels"]))
    return comparison_markdown(
        table,
        pd.read_csv(DEMO / "model_metrics.csv"),
        level=level,
        corpus_name=manifest["corpus"]["name"],
        n_texts=manifest["corpus"]["n_texts"],
        trained_from={m["name"]: m.get("trained_from") for m in manifest["models"]},
    )


def demo_summary() -> str:
    """The README's part of the demo: V-measure per model and clustering, then the verdict sentences
    and which clusters to read first, as `compare` prints them (the rest is in docs/results.md)."""
    from simcse_lab.evaluation.verdict import measured_check
    from simcse_lab.reporting.spreadsheet import read_csv as read_results_csv
    from simcse_lab.reporting.tables import format_summary, spread_label, spread_table, summary_table
    from simcse_lab.reporting.verdicts import read_first_sentence, verdict_sentences

    manifest = _demo_manifest()
    table = read_results_csv(DEMO / "results.csv")
    table["level"] = table["level"].fillna("")
    level = next(iter(manifest["corpus"]["levels"]))
    trained_from = {m["name"]: m.get("trained_from") for m in manifest["models"]}
    summary = format_summary(summary_table(table, level=level), spread_table(table, level=level))
    check = measured_check()
    first = read_first_sentence(table, trained_from, check=check)
    lines = [*verdict_sentences(table, trained_from, check=check), *([first] if first else [])]
    return "\n".join(
        [
            f"V-measure against '{level}' ({manifest['corpus']['name']}, {manifest['corpus']['n_texts']}"
            f" texts; {spread_label(table)}):",
            "",
            summary.to_markdown(),
            "",
            "What a run without labels says (the label-free table is in [the demo's results](docs/results.md)):",
            "",
            *(f"- {line}" for line in lines),
        ]
    )


def demo_findings() -> str:
    """Each trained model's V-measure difference to the model it started from, per clustering."""
    from simcse_lab.reporting.spreadsheet import read_csv as read_results_csv

    manifest = _demo_manifest()
    level = next(iter(manifest["corpus"]["levels"]))
    t = read_results_csv(DEMO / "results.csv")
    t = t[(t["level"] == level) & (t["clusterer"] != "hdbscan-hard")]
    v = t.set_index(["model", "clusterer", "space"])["v_measure"]
    parts = []
    for model in t["model"].unique():
        start = re.fullmatch(r"[\w-]+\((.+)\)", model)
        if start is None or start.group(1) not in set(t["model"]):
            continue
        diffs = ", ".join(
            f"{c}/{sp} {v[(model, c, sp)] - v[(start.group(1), c, sp)]:+.3f}"
            for (m, c, sp) in v.index
            if m == model and (start.group(1), c, sp) in v.index
        )
        parts.append(f"`{model}` {diffs}")
    return (
        (
            "V-measure difference to the start model on the held-out texts (one seed; compare with the ± above): "
            + "; ".join(parts)
            + "."
        )
        if parts
        else ""
    )


def demo_machine() -> str:
    m = _demo_manifest()
    hw, v = m["hardware"], m["versions"]
    steps = m["seconds_per_step"]
    train = sum(s for k, s in steps.items() if k.startswith("train "))
    # the encode backend changes the last digits (encode.backend auto reads the machine's speed record)
    backends = sorted({b.split(":")[0] for b in (x.get("backend") for x in m["models"]) if b})
    return (
        f"Produced by `make demo` (profile `default`, config hash `{m['config_hash']}`) on {hw.get('cpu', '?')},"
        f" {hw.get('cpu_count', '?')} cores, {hw.get('gpu') or 'no GPU'}; torch {v.get('torch')},"
        f" sentence-transformers {v.get('sentence-transformers')}, umap-learn {v.get('umap-learn')};"
        f" encoded with {', '.join(backends) or 'torch'}."
        f" That run took {m['wall_seconds']:.0f} s (a run reads what earlier runs cached), of which training"
        f" {train:.0f} s; started {m['started_utc']}."
    )


def config_keys() -> str:
    from simcse_lab.core.params import describe

    rows = ["| key | default | what it sets |", "|---|---|---|"]
    for key, default, help_ in describe():
        value = json.dumps(default) if not isinstance(default, str) else default
        rows.append(f"| `{key}` | `{value}` | {help_.replace('|', '/')} |")
    return "\n".join(rows)


def lessons() -> str:
    import nbformat

    rows = ["| lesson | run time | parameters set for this run |", "|---|---:|---|"]
    for path in sorted((ROOT / "docs" / "lessons").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        meta = nb.metadata.get("papermill", {})
        params = (
            ", ".join(
                f"`{k}={v}`"
                for k, v in sorted(meta.get("parameters", {}).items())
                if k not in ("data_dir", "runs_dir", "results_dir")
            )
            or "the lesson's defaults"
        )
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), path.stem)
        rows.append(f"| [{title}]({path.stem}.ipynb) | {meta.get('duration', float('nan')) / 60:.1f} min | {params} |")
    return "\n".join(rows)


def _recorded(name: str):
    """A recorded run's manifest, results table and config."""
    import yaml

    from simcse_lab.reporting.spreadsheet import read_csv as read_results_csv

    folder = ROOT / "docs" / "data" / name
    m = json.loads((folder / "manifest.json").read_text())
    table = read_results_csv(folder / "results.csv")
    table["level"] = table["level"].fillna("")
    cfg = yaml.safe_load((folder / "config.yaml").read_text()) if (folder / "config.yaml").is_file() else {}
    return m, table, cfg


def _recorded_agreement(name: str):
    """A recorded run's manifest, its verdict agreement (`verdict_agreement`) and its config."""
    from simcse_lab.reporting.agreement import verdict_agreement

    m, table, cfg = _recorded(name)
    return m, verdict_agreement(table, baseline=m["models"][0]["name"]), cfg


def _all_cases(verdicts, keys=()):
    """Every recorded check's cases (``docs/data/lf-*``), the reference (truelabels) left out, each
    (corpus, level, method, clusterer, scored k, *keys) case once, from the latest record that has it
    (a check made again, e.g. with another cluster.train_k_rule, replaces the earlier one);
    ``verdicts(table, baseline)`` makes a record's rows."""
    import pandas as pd

    parts = []
    for folder in sorted((ROOT / "docs" / "data").glob("lf-*")):
        m, table, cfg = _recorded(folder.name)
        a = verdicts(table, m["models"][0]["name"])
        a = a[~a["model"].str.startswith("truelabels(")]
        # the scored KMeans chose its k without labels when the manifest has its choice
        auto = any(not key.endswith(" training") for key in (m.get("k_choice") or {}))
        share = (cfg.get("corpus") or {}).get("majority_share")
        parts.append(
            a.assign(
                record=folder.name,
                corpus=m["corpus"]["name"] + (f" (largest class {share:.0%})" if share else ""),
                scored_k="auto" if auto else "classes",
                started=m["started_utc"],
            )
        )
    every = pd.concat(parts, ignore_index=True)
    every.loc[~every["setting"].str.startswith("kmeans"), "scored_k"] = "-"  # only KMeans is given a k
    latest = every.sort_values("started", ascending=False, kind="stable").drop_duplicates(
        ["corpus", "level", "model", "setting", "scored_k", *keys]
    )
    return latest.sort_index().drop(columns="started")


def agreement_all() -> str:
    """The label-free verdict against the labelled one over every recorded check (``docs/data/lf-*``):
    per record the decided cases and how many agree, then all of them, each (corpus, level, method,
    clusterer, scored k) case counted once."""
    import pandas as pd

    from simcse_lab.reporting.agreement import verdict_agreement

    cases = _all_cases(lambda table, baseline: verdict_agreement(table, baseline=baseline))
    decided = cases[cases["verdict"] != "unclear"]

    def tally(g: pd.DataFrame) -> pd.Series:
        ruled = g["verdict"] != "unclear"
        return pd.Series(
            {
                "cases": len(g),
                "decided by the labels": int(ruled.sum()),
                "label-free agrees": int(g.loc[ruled, "agree"].sum()),
            }
        )

    rows = (
        cases.groupby("record", sort=False)
        .apply(lambda g: pd.concat([pd.Series({"corpus": g["corpus"].iloc[0]}), tally(g)]), include_groups=False)
        .reset_index()
    )
    wrong = decided[~decided["agree"]]
    by_setting = (
        cases.groupby("setting", sort=True)
        .apply(tally, include_groups=False)
        .reset_index()
        .rename(columns={"setting": "clustering (verdict read in its space)"})
    )

    def verdict(d: pd.DataFrame) -> str:
        return (
            f"agrees on {int(d['agree'].sum())} of them ({d['agree'].mean():.0%}): the 90% target is "
            f"{'met' if d['agree'].mean() >= 0.9 else 'not met'}"
            if len(d)
            else "has nothing to agree with"
        )

    kmeans = decided[decided["setting"] == "kmeans/raw"]
    lines = [
        rows.to_markdown(index=False),
        "",
        "By clustering:",
        "",
        by_setting.to_markdown(index=False),
        "",
        f"Lesson 7 judges a method by KMeans on the vectors (`kmeans/raw`), and so does keep-best. Over those"
        f" cases, each (corpus, level, method, scored k) once, the labels decide {len(kmeans)}, and the"
        f" label-free verdict {verdict(kmeans)} for that reading.",
        "",
        f"Counting every clustering as a case of its own: {len(cases)} distinct (corpus, level, method, clusterer,"
        f" scored k) cases; the labels decide {len(decided)}, and the label-free verdict {verdict(decided)}.",
    ]
    if len(wrong):
        lines += [
            "",
            "Where they disagree:",
            "",
            wrong[["corpus", "level", "model", "setting", "verdict", "lf_verdict"]].to_markdown(index=False),
        ]
    return "\n".join(lines)


def agreement_scores() -> str:
    """Every label-free score read as a verdict of its own (`score_verdicts`, paired over seeds),
    against the labelled verdict over every recorded check: how often each one agrees."""
    import pandas as pd

    from simcse_lab.reporting.agreement import score_verdicts

    cases = _all_cases(lambda table, baseline: score_verdicts(table, baseline=baseline), keys=("score",))
    rows, reach = [], []
    for score, g in cases.groupby("score", sort=False):
        decided = g[(g["verdict"] != "unclear") & (g["lf_verdict"] != "n/a")]
        rows.append(
            {
                "score": score,
                "cases scored": int((g["lf_verdict"] != "n/a").sum()),
                "decided by the labels": len(decided),
                "agrees": int(decided["agree"].sum()),
                "agreement": f"{decided['agree'].mean():.0%}" if len(decided) else "-",
                "says the opposite": int((decided["lf_verdict"].isin(["better", "worse"]) & ~decided["agree"]).sum()),
            }
        )
        if len(decided) and decided["agree"].mean() >= 0.9:
            reach.append(score)
    return "\n".join(
        [
            pd.DataFrame(rows).to_markdown(index=False),
            "",
            f"Scores that agree in at least 90% of their decided cases: {', '.join(reach)}."
            if reach
            else "No score, read alone, agrees in 90% of its decided cases.",
        ]
    )


def run_findings(name: str) -> str:
    """A recorded run's labelled verdicts beside its label-free ones, and what they agree on."""

    from simcse_lab.reporting.agreement import agreement_rate

    m, a, cfg = _recorded_agreement(name)
    baseline = m["models"][0]["name"]
    free = a[~a["model"].str.startswith("truelabels(")]
    decided = free[free["verdict"] != "unclear"]
    seeds = m.get("seeds", [m["seed"]])
    # a training k says by which rule it was read (records made before cluster.train_k_rule used best)
    chosen = "; ".join(
        f"{k}: k={c['k']}"
        + (f" ({c.get('rule', 'best')} rule)" if k.endswith(" training") or c.get("rule", "best") != "best" else "")
        for k, c in (m.get("k_choice") or {}).items()
    )
    a = a.assign(
        **{
            "V-measure diff [95% CI]": [
                f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for d, lo, hi in zip(a["v_diff"], a["v_lo"], a["v_hi"])
            ],
            "silhouette diff [95% CI]": [
                f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for d, lo, hi in zip(a["lf_diff"], a["lf_lo"], a["lf_hi"])
            ],
        }
    )
    shown = a[
        [
            "model",
            "level",
            "setting",
            "V-measure diff [95% CI]",
            "verdict",
            "silhouette diff [95% CI]",
            "lf_verdict",
            "agree",
        ]
    ]
    share = (cfg.get("corpus") or {}).get("majority_share")
    head = (
        f"{m['corpus']['name']}"
        + (f" skewed so that its largest class holds {share:.0%} of the sample" if share else "")
        + f", {m['corpus']['n_texts']} held-out texts, seeds {seeds}, each model paired with"
        f" `{baseline}`; config hash `{m['config_hash']}`"
        + (f". k chosen without labels (seed {seeds[0]}): {chosen}" if chosen else "")
        + "."
    )
    tail = (
        f"Labelled verdicts decided: {len(decided)} of {len(free)}; the label-free verdict agrees on"
        f" {int(decided['agree'].sum())} of them" + (f" ({agreement_rate(free):.0%})." if len(decided) else ".")
    )
    return "\n".join([head, "", shown.to_markdown(index=False), "", tail])


def verdict_signals() -> str:
    """Every registered verdict signal with its help, and which ones the verdict reads by default."""
    from simcse_lab.core.config import load_config
    from simcse_lab.core.registry import SIGNALS

    cfg = load_config("default")
    rows = [f"| `{e.name}` | {e.help} |" for e in SIGNALS]
    return "\n".join(
        [
            "| signal | what it reads |",
            "|---|---|",
            *rows,
            "",
            f"The verdict reads `{'+'.join(cfg.metrics.verdict_signals)}`"
            + _across(cfg.metrics.verdict_abstain_across_k)
            + " (`metrics.verdict_signals`, `metrics.verdict_abstain_across_k`).",
        ]
    )


def _across(mode: str) -> str:
    """How the verdict treats clusterings with different numbers of clusters, as a clause."""
    return {
        "never": "",
        "always": ", and says `unclear` where the two clusterings have a different number of clusters",
        "kmeans": ", and says `unclear` where two KMeans clusterings have a different number of clusters (their"
        " like-for-like comparison is `kmeans-start-k`)",
    }[mode]


def verdict_check() -> str:
    """The chosen verdict's measured claims on the labelled test halves, one sentence."""
    from simcse_lab.evaluation.verdict import measured_check

    check = measured_check()
    if not check:
        return "The verdict's agreement with labels has not been measured (`python bench/verdicts.py`)."
    t = check["test"]
    rate = f" ({t['agrees'] / t['decided']:.0%})" if t["decided"] else ""
    return (
        f"The verdict reads `{'+'.join(check['signals'])}`"
        + _across(check["abstain_across_k"])
        + f". Chosen on dev halves and checked on the test halves of {', '.join(check['corpora'])}: it agreed"
        f" with the labels in {t['agrees']} of {t['decided']} claims the labels decide{rate}, called"
        f" {t['wrong_direction']} the wrong way and said `unclear` in {t['abstains_where_decided']};"
        f" {t['decisive_where_unclear']} of its {t['decisive']} decisive claims were where the labels are unclear."
    )


def bench(name: str) -> str:
    text = (ROOT / "bench" / "results" / f"{name}.md").read_text().strip()
    # the benchmark's own title becomes a bold line: the docs page has its own headings
    return re.sub(r"^# (.*)$", r"**\1**", text, count=1, flags=re.M)


def render(name: str) -> str:
    if name.startswith("bench:"):
        return bench(name.split(":", 1)[1])
    if name.startswith("run:"):
        return run_findings(name.split(":", 1)[1])
    sources = {
        "demo": demo,
        "demo-summary": demo_summary,
        "demo-findings": demo_findings,
        "demo-machine": demo_machine,
        "config-keys": config_keys,
        "lessons": lessons,
        "agreement-all": agreement_all,
        "agreement-scores": agreement_scores,
        "verdict-signals": verdict_signals,
        "verdict-check": verdict_check,
    }
    if name not in sources:
        raise SystemExit(f"unknown generated block {name!r}; known: {', '.join(sources)}, bench:<file>")
    return sources[name]()


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def update(check: bool) -> list[str]:
    """Rewrite (or, with ``check``, compare) every generated block; the names of those that differ."""
    stale = []
    for path in documents():
        text = path.read_text()

        def fill(m: re.Match) -> str:
            body = render(m["name"]).strip() + "\n"
            if body != m["body"]:
                stale.append(f"{path.relative_to(ROOT)}: {m['name']}")
            return m.group(1) + body + m.group(4)

        new = BLOCK.sub(fill, text)
        if new != text and not check:
            path.write_text(new)
    return stale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare only; exit 1 if a block differs from its source")
    p.add_argument("--record-demo", type=Path, metavar="RUN_DIR", help="copy a demo run folder's tables first")
    p.add_argument(
        "--record",
        nargs=2,
        metavar=("NAME", "RUN_DIR"),
        help="copy a run folder's tables to docs/data/NAME first (for run:NAME blocks)",
    )
    args = p.parse_args(argv)
    for name, run_dir in ([("demo", args.record_demo)] if args.record_demo else []) + (
        [(args.record[0], Path(args.record[1]))] if args.record else []
    ):
        dest = ROOT / "docs" / "data" / name
        dest.mkdir(parents=True, exist_ok=True)
        for f in DEMO_FILES:
            shutil.copyfile(run_dir / f, dest / f)
        if name != "demo":
            shutil.copyfile(run_dir / "config.yaml", dest / "config.yaml")
    stale = update(args.check)
    if args.check and stale:
        print(
            "generated tables differ from their sources (run `python scripts/docs_tables.py`):\n  "
            + "\n  ".join(stale),
            file=sys.stderr,
        )
        return 1
    print(f"{len(stale)} generated block(s) {'differ' if args.check else 'rewritten'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
