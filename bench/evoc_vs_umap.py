"""Benchmark: EVoC on the vectors against UMAP (5-d) + HDBSCAN, on the same embeddings, in one run.

    python bench/evoc_vs_umap.py                          # reviews (dev half), minilm, 3 seeds
    python bench/evoc_vs_umap.py --n 3000 --seeds 42 43 44 --half dev --level "Department Name"
    python bench/evoc_vs_umap.py --source 20newsgroups-train --level Top

Both clusterers see the same minilm embeddings (made once, cached). For each seed the two are timed
in this process, after one untimed warm-up fit of each, so numba's compilation is not counted.
UMAP + HDBSCAN is the comparison's ``hdbscan/umap`` (soft labels) and ``hdbscan-hard/umap``; EVoC is
its own choice of clusters (noise scored as one more cluster) and ``evoc@k`` asks it for about the
number of classes. Each row has the V-measure against the labels, the number of clusters and
the label-free silhouette and stability. The parent writes ``bench/results/evoc-<corpus>.json``
and ``.md`` with the speed ratio and whether the 20x target (at an equal or better V-measure) is met.
Settings are chosen on the dev half; the test half is left to the reports.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default="ecommerce-reviews", help="bundled corpus or file")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--half", default="dev")
    ap.add_argument("--level", default="Department Name")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--from-json", type=Path, help="only write the .md again from this result's .json")
    args = ap.parse_args()
    if args.from_json:
        write_markdown(json.loads(args.from_json.read_text()), args.from_json.with_suffix(".md"))
        return

    from simcse_lab.clustering.clusterers import EVoCClusterer, HDBSCANClusterer
    from simcse_lab.clustering.reduce import make_reducer
    from simcse_lab.core.config import load_config, with_overrides
    from simcse_lab.corpus.splits import load_corpus_for
    from simcse_lab.encoding.encode import encode_with_config
    from simcse_lab.encoding.resolve import resolve
    from simcse_lab.evaluation.clusterings import refitter
    from simcse_lab.evaluation.scoring import assess

    cfg = with_overrides(
        load_config("default"),
        {
            "corpus.source": args.source,
            "corpus.half": args.half,
            "corpus.n_samples": args.n,
            "corpus.level": args.level,
            "corpus.heldout": 0,
            "encode.backend": "torch",
            **({} if args.source == "ecommerce-reviews" else {"corpus.drop_labels": []}),
        },
    )
    corpus = load_corpus_for(cfg)
    y = corpus.label_array(args.level)
    k = len(np.unique(y))
    x = encode_with_config(resolve("minilm", cfg), corpus.texts, cfg, normalize=True)

    def umap_hdbscan(seed):
        red = make_reducer("umap", cfg.reduce, seed=seed)  # no cache: timed in full
        t = time.perf_counter()
        z = red.fit_transform(x)
        h = HDBSCANClusterer.from_config(cfg.cluster, n_samples=len(x), seed=seed)
        soft = h.fit_predict(z)
        return time.perf_counter() - t, {
            "hdbscan/umap": (soft, z, h, "hdbscan"),
            "hdbscan-hard/umap": (h.extra_labels_["hdbscan-hard"], z, h, "hdbscan-hard"),
        }

    def evoc(seed, approx=None):
        e = EVoCClusterer(approx_n_clusters=approx, random_state=seed)
        t = time.perf_counter()
        labels = e.fit_predict(x)
        return time.perf_counter() - t, {("evoc" if approx is None else f"evoc@{approx}"): (labels, x, e, "evoc")}

    evoc(0)  # warm-up: numba compiles on the first fit
    rows = []
    for seed in args.seeds:
        for fn in (umap_hdbscan, evoc, lambda s: evoc(s, k)):
            seconds, out = fn(seed)
            for name, (labels, space, clusterer, cname) in out.items():
                ((_, s),) = assess(labels, {args.level: y}, x=space, refit=refitter(clusterer, space, cname), seed=seed)
                rows.append(
                    {
                        "seed": seed,
                        "pipeline": name,
                        "seconds": round(seconds, 3),
                        "v_measure": round(s["v_measure"], 4),
                        "n_clusters": int(s["n_clusters"]),
                        "noise_fraction": round(s["noise_fraction"], 4),
                        "silhouette": round(s["silhouette"], 4),
                        "stability": round(s["stability"], 4),
                    }
                )
            print(rows[-1], flush=True)
    import pandas as pd

    t = pd.DataFrame(rows)
    summary = (
        t.groupby("pipeline", sort=False)
        .agg(
            seconds=("seconds", "mean"),
            v_measure=("v_measure", "mean"),
            v_min=("v_measure", "min"),
            v_max=("v_measure", "max"),
            n_clusters=("n_clusters", "mean"),
            silhouette=("silhouette", "mean"),
            stability=("stability", "mean"),
        )
        .reset_index()
    )
    base = summary.set_index("pipeline").loc["hdbscan/umap"]
    summary["speedup_vs_umap_hdbscan"] = (base["seconds"] / summary["seconds"]).round(1)
    evoc_row = summary.set_index("pipeline").loc["evoc"]
    met = bool(evoc_row["speedup_vs_umap_hdbscan"] >= 20 and evoc_row["v_measure"] >= base["v_measure"])
    record = {
        "corpus": corpus.name,
        "half": args.half,
        "level": args.level,
        "n_texts": len(x),
        "n_classes": k,
        "seeds": args.seeds,
        "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
        "rows": rows,
        "summary": summary.to_dict("records"),
        "target_20x_at_equal_or_better_v_measure": met,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"evoc-{corpus.name}-{args.half}"
    stem.with_suffix(".json").write_text(json.dumps(record, indent=2))
    write_markdown(record, stem.with_suffix(".md"))


def write_markdown(record: dict, path: Path) -> None:
    """The result's table, and whether the target is met; if not, why not."""
    import pandas as pd

    summary = pd.DataFrame(record["summary"])
    rows = summary.set_index("pipeline")
    base, ev = rows.loc["hdbscan/umap"], rows.loc["evoc"]
    met = record["target_20x_at_equal_or_better_v_measure"]
    why = (
        []
        if met
        else [
            f"EVoC is {ev['speedup_vs_umap_hdbscan']:.1f}x faster"
            + (" (short of 20x)" if ev["speedup_vs_umap_hdbscan"] < 20 else ""),
            f"its V-measure is {ev['v_measure']:.3f} against {base['v_measure']:.3f}"
            + (" (lower)" if ev["v_measure"] < base["v_measure"] else ""),
        ]
    )
    path.write_text(
        f"EVoC vs UMAP + HDBSCAN: {record['corpus']} ({record['half']} half, {record['n_texts']} texts,"
        f" {record['n_classes']} classes of {record['level']}), minilm, seeds {record['seeds']}; seconds exclude"
        " numba's first compilation.\n\n"
        + summary.to_markdown(index=False, floatfmt=".3f")
        + f"\n\n20x faster at an equal or better V-measure: {'met' if met else 'not met: ' + '; '.join(why)}.\n"
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
