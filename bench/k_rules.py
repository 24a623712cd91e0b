"""Benchmark: how a label-free rule picks the k that self-training starts from, on dev halves only.

    python bench/k_rules.py                     # reviews, 20NG, 20NG skewed, chatterbot; 6 samples each
    python bench/k_rules.py --samples 3 --n 2000 --k-max 15 30
    python bench/k_rules.py --from-json bench/results/k_rules.json
    python bench/k_rules.py --reread bench/results/k_rules.json   # every rule of RULES on the stored curves
    python bench/k_rules.py --training-runs runs/k-reviews-2-* runs/k-reviews-14-* ...

`selftrain(minilm)` and `sccl(minilm)` with ``n_clusters: auto`` choose k on the start model's
embeddings of their training texts (`simcse_lab.clustering.choose_k`). Self-training forgives a k
above the number of topics more than one below it: with too few clusters it pulls distinct topics
together. This benchmark draws several samples from each corpus's *dev* half (the sample seed
varies, the half does not), takes the training part of each (half the sample, as ``corpus.heldout:
0.5`` does), embeds it with minilm, computes the criterion curve over ``k_min..k_max`` and reports
the k each rule of `simcse_lab.clustering.choose_k.RULES` picks against the number of classes of
the main level, once for each end of the range (``--k-max``: the curve is computed up to the largest
and cut at each): a rule whose answer follows the end of the range is not a rule. The test halves
are not read.

``--training-runs`` tabulates what such a k does to self-training, from run folders of
``simcse-lab compare methods`` on a dev half with ``models.encoders=[minilm,selftrain(minilm)]``
and a fixed ``selftrain.n_clusters`` (the commands are in ``docs/without-labels.md``).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CORPORA = {
    "reviews": {"source": "ecommerce-reviews", "drop_labels": ["Trend"], "majority_share": None},
    "20ng": {"source": "20newsgroups-train", "drop_labels": [], "majority_share": None},
    "20ng-skewed": {"source": "20newsgroups-train", "drop_labels": [], "majority_share": 0.5},
    "chatterbot": {
        "source": "chatterbot-questions",
        "drop_labels": [],
        "majority_share": None,
        "n": None,
        "min_class_size": 10,
    },
}
#: a rule passes when its k is within this factor of the number of classes ...
FACTOR = 2
#: ... and moves by at most this much when the range's end goes from the first --k-max to the second
MOVE = 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    ap.add_argument("--samples", type=int, default=6, help="samples drawn from each dev half")
    ap.add_argument("--n", type=int, default=2000, help="texts per sample; half of them are the training part")
    ap.add_argument("--criterion", default="silhouette")
    ap.add_argument(
        "--k-max", type=int, nargs="+", default=[15, 30, 50], help="ends of the k range to read each rule at"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "k_rules.json")
    ap.add_argument("--from-json", type=Path, help="only write the .md again from this result's .json")
    ap.add_argument("--reread", type=Path, help="read every rule off this result's stored curves again (no encoding)")
    ap.add_argument(
        "--training-runs",
        type=Path,
        nargs="+",
        help="run folders of `compare methods` on a dev half, minilm against selftrain(minilm) trained"
        " with a fixed selftrain.n_clusters: tabulate them into k_rules_training.json/.md",
    )
    args = ap.parse_args()
    if args.from_json:
        write = write_training_markdown if "training" in args.from_json.name else write_markdown
        write(json.loads(args.from_json.read_text()), args.from_json.with_suffix(".md"))
        return
    if args.reread:
        from simcse_lab.clustering.choose_k import RULES

        result = json.loads(args.reread.read_text())
        higher = result.get("higher_is_better", True)
        for row in result["rows"]:
            curve = {int(k): v for k, v in row["curve"].items()}
            row["picks"] = picks_of(curve, k_min=result["k_min"], k_maxes=result["k_max"], higher_is_better=higher)
        result["rules"] = {rule: fn.__doc__.strip().splitlines()[0] for rule, fn in RULES.items()}
        args.reread.write_text(json.dumps(result, indent=1) + "\n")
        write_markdown(result, args.reread.with_suffix(".md"))
        return
    if args.training_runs:
        result = training_runs(args.training_runs)
        out = args.out.with_name("k_rules_training.json")
        out.write_text(json.dumps(result, indent=1) + "\n")
        write_training_markdown(result, out.with_suffix(".md"))
        return

    from simcse_lab.clustering.choose_k import RULES, choose_k
    from simcse_lab.core.config import load_config, with_overrides
    from simcse_lab.corpus.load import load_corpus
    from simcse_lab.encoding.encode import encode_with_config
    from simcse_lab.encoding.resolve import resolve
    from simcse_lab.evaluation.scoring import k_criterion

    cfg = with_overrides(load_config("methods"), {"encode.backend": "torch"})
    encoder = resolve("minilm", cfg)
    rows = []
    for name in args.corpora:
        spec = CORPORA[name]
        for s in range(args.samples):
            corpus = load_corpus(
                spec["source"],
                n_samples=spec.get("n", args.n),
                dedupe=True,
                drop_labels=spec["drop_labels"],
                majority_share=spec["majority_share"],
                min_class_size=spec.get("min_class_size", 1),
                seed=1000 + s,
                half="dev",
                half_seed=0,
                data_dir=cfg.data_dir,
            )
            train = np.sort(np.random.default_rng(1000 + s).permutation(len(corpus))[: len(corpus) // 2])
            x = encode_with_config(encoder, [corpus.texts[i] for i in train], cfg, normalize=True)
            y = corpus.label_array()[train]
            score, higher = k_criterion(args.criterion, seed=42)
            curve = choose_k(
                x,
                score=score,
                higher_is_better=higher,
                criterion=args.criterion,
                k_min=cfg.cluster.k_min,
                k_max=max(args.k_max),
                seed=42,
            ).curve
            picks = picks_of(curve, k_min=cfg.cluster.k_min, k_maxes=args.k_max, higher_is_better=higher)
            rows.append(
                {
                    "corpus": name,
                    "sample_seed": 1000 + s,
                    "n_train": len(train),
                    "n_classes": int(len(np.unique(y))),
                    "largest_class_share": float(np.bincount(np.unique(y, return_inverse=True)[1]).max() / len(y)),
                    "curve": {str(k): round(v, 6) for k, v in curve.items()},
                    "picks": picks,
                }
            )
            print(name, 1000 + s, rows[-1]["n_classes"], picks, flush=True)
    result = {
        "criterion": args.criterion,
        "k_min": cfg.cluster.k_min,
        "k_max": args.k_max,
        "higher_is_better": higher,
        "rows": rows,
        "rules": {rule: fn.__doc__.strip().splitlines()[0] for rule, fn in RULES.items()},
        "machine": platform.processor() or platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    write_markdown(result, args.out.with_suffix(".md"))


def picks_of(curve: dict[int, float], *, k_min: int, k_maxes: list[int], higher_is_better: bool) -> dict:
    """``{k_max: {rule: k}}``: every rule of `RULES` read off ``curve`` cut at each ``k_max``, as
    `simcse_lab.clustering.choose_k.choose_k` reads it."""
    from simcse_lab.clustering.choose_k import RULES

    out = {}
    for k_max in k_maxes:
        cut = {k: v for k, v in curve.items() if k_min <= k <= k_max and v == v}
        out[str(k_max)] = {rule: fn(cut, higher_is_better) for rule, fn in RULES.items()}
    return out


def passes(k: int, n_classes: int) -> bool:
    """Within FACTOR of the number of classes."""
    return n_classes / FACTOR <= k <= n_classes * FACTOR


def rule_summary(result: dict) -> dict[str, dict]:
    """Per rule: samples within FACTOR of the classes at the first k_max, the largest move from the
    first k_max to the second, and whether both targets hold."""
    first, second = (str(k) for k in result["k_max"][:2])
    out = {}
    for rule in result["rules"]:
        within = sum(passes(r["picks"][first][rule], r["n_classes"]) for r in result["rows"])
        move = max(abs(r["picks"][second][rule] - r["picks"][first][rule]) for r in result["rows"])
        out[rule] = {
            "within": within,
            "samples": len(result["rows"]),
            "largest_move": move,
            "meets": within == len(result["rows"]) and move <= MOVE,
        }
    return out


def write_markdown(result: dict, path: Path) -> None:
    """Per rule and corpus: the ks picked at each end of the range, against the number of classes."""
    ends = [str(k) for k in result["k_max"]]
    lines = [
        f"# k without labels: which rule, on dev halves ({result['criterion']}, k from {result['k_min']} to "
        f"{' / '.join(ends)})",
        "",
        "Each sample's training part (minilm embeddings); classes = the main level's classes in it. "
        f"Targets: k within a factor of {FACTOR} of the classes, and a move of at most {MOVE} when the range "
        f"ends at {ends[1]} instead of {ends[0]}.",
        "",
        "| rule | corpus | samples | classes | "
        + " | ".join(f"k picked, k_max {e}" for e in ends)
        + f" | within {FACTOR}x (k_max {ends[0]}) |",
        "|:--|:--|--:|--:|" + ":--|" * len(ends) + "--:|",
    ]
    corpora = sorted({r["corpus"] for r in result["rows"]}, key=[r["corpus"] for r in result["rows"]].index)
    for rule in result["rules"]:
        for name in corpora:
            rows = [r for r in result["rows"] if r["corpus"] == name]
            picks = [", ".join(str(r["picks"][e][rule]) for r in rows) for e in ends]
            within = sum(passes(r["picks"][ends[0]][rule], r["n_classes"]) for r in rows)
            classes = sorted({r["n_classes"] for r in rows})
            lines.append(
                f"| {rule} | {name} | {len(rows)} | {'/'.join(map(str, classes))} | {' | '.join(picks)} | {within} |"
            )
    lines += ["", "| rule | within the factor | largest move | both targets |", "|:--|--:|--:|:--|"]
    for rule, row in rule_summary(result).items():
        lines.append(
            f"| {rule} | {row['within']} of {row['samples']} | {row['largest_move']} | "
            f"{'yes' if row['meets'] else 'no'} |"
        )
    lines += ["", "Rules:", ""] + [f"- `{rule}`: {doc}" for rule, doc in result["rules"].items()]
    path.write_text("\n".join(lines) + "\n")


def training_runs(folders: list[Path]) -> dict:
    """Per run folder: the corpus (and skew), the k self-training was given, the number of classes,
    and the start model's and the trained model's V-measure at the main level per clustering."""
    import yaml

    from simcse_lab.reporting.spreadsheet import read_csv as read_results_csv

    rows = []
    for folder in folders:
        cfg = yaml.safe_load((folder / "config.yaml").read_text())
        manifest = json.loads((folder / "manifest.json").read_text())
        table = read_results_csv(folder / "results.csv")
        level = table["level"].iloc[0]
        table = table[(table["level"] == level) & (table["clusterer"] != "hdbscan-hard")]
        v = {f"{r.clusterer}/{r.space}": {} for r in table.itertuples()}
        for r in table.itertuples():
            v[f"{r.clusterer}/{r.space}"][r.model] = round(float(r.v_measure), 4)
        c = cfg["corpus"]
        rows.append(
            {
                "run": folder.name,
                "source": c["source"],
                "half": c["half"],
                "majority_share": c["majority_share"],
                "k": cfg["selftrain"]["n_clusters"],
                "level": level,
                "n_classes": manifest["corpus"]["levels"][level],
                "seed": cfg["seed"],
                "v_measure": v,
            }
        )
    return {"rows": rows}


def write_training_markdown(result: dict, path: Path) -> None:
    lines = [
        "# Self-training with a fixed k, on dev halves (one seed each)",
        "",
        "V-measure of `minilm` and of `selftrain(minilm)` trained with that k, at the main level, "
        "KMeans at the number of classes.",
        "",
        "| corpus | classes | k | setting | minilm | selftrain | difference |",
        "|:--|--:|--:|:--|--:|--:|--:|",
    ]
    rows = sorted(result["rows"], key=lambda r: (r["source"], r["majority_share"] or 0, r["k"]))
    for r in rows:
        name = r["source"] + (f" skewed to {r['majority_share']:.0%}" if r["majority_share"] else "")
        for setting, v in r["v_measure"].items():
            base, trained = v["minilm"], v["selftrain(minilm)"]
            lines.append(
                f"| {name} | {r['n_classes']} | {r['k']} | {setting} | {base:.3f} | {trained:.3f} | "
                f"{trained - base:+.3f} |"
            )
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
