"""Benchmark: how the comparison scales past one machine's comfortable size (issue 13).

    python bench/scale.py                          # 20k local vs ray; 100k sample-fit off, on, ray; 500k on
    python bench/scale.py --sizes 100000 --variants ray     # one part; the other rows of scale.json are kept

A synthetic corpus is built from the bundled reviews: texts drawn with replacement, each with a
seeded 10% of its words deleted (so texts are distinct), keeping the review's Department as the
label. The encoder is a 2-layer, 128-wide randomly initialised BERT with MiniLM's tokenizer, so
encoding does not dominate and the scaling of everything else shows. Every variant runs in a
fresh Python process with a cold cache and reports wall time per stage (the run manifest's),
peak resident memory of that process (Ray's processes are not in it: where Ray ran, their summed
resident memory at the end of the run is reported next to it, which counts the shared object store
once per process that maps it) and the V-measures, into ``<out>/scale.json`` and ``.md``.

Variants: ``local`` / ``ray`` (encode.engine; at 20k the Ray engine's overhead, and the two
engines' embeddings compared; at 100k, with sample-fit on, Ray also runs UMAP's transform of the
points outside the sample as parallel tasks), ``off`` / ``on`` (sample-fit UMAP / HDBSCAN /
MiniBatchKMeans disabled or enabled above 50,000 points, local engine). The notes compare each
``ray`` row with the local row of the same size and sample-fit setting, and the clustering time of
the ``on`` rows across sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "data" / "interim" / "bench-scale"


def build_corpus(n: int, seed: int = 0) -> Path:
    """``n`` perturbed reviews with their Department, as Parquet (built once)."""
    import pandas as pd

    from simcse_lab.corpus.load import load_corpus

    path = WORK / f"reviews-{n}.parquet"
    if path.is_file():
        return path
    base = load_corpus("ecommerce-reviews", dedupe=True, drop_labels=["Trend"], data_dir=ROOT / "data")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(base), size=n)
    texts = []
    for i in pick:
        words = base.texts[i].split()
        keep = rng.random(len(words)) > 0.1
        if not keep.any():
            keep[0] = True
        texts.append(" ".join(w for w, k in zip(words, keep) if k))
    dept = base.labels["Department Name"][pick]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"text": texts, "department": dept}).to_parquet(path)
    return path


def build_encoder(seed: int = 0) -> Path:
    """A 2 x 128 BERT with MiniLM's tokenizer, random weights (built once)."""
    path = WORK / "bert-2x128"
    if (path / "config.json").is_file():
        return path
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from simcse_lab.encoding.locations import minilm_path

    tok = AutoTokenizer.from_pretrained(minilm_path(ROOT / "data"))
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=512,
        max_position_embeddings=512,
    )
    torch.manual_seed(seed)
    BertModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def overrides(n: int, variant: str, corpus: Path, encoder: Path, data_dir: Path) -> dict:
    sample_fit = variant != "off"
    return {
        "name": f"scale-{n}-{variant}",
        "data_dir": str(data_dir),
        "runs_dir": str(data_dir / "runs"),
        "corpus.source": str(corpus),
        "corpus.text_column": "text",
        "corpus.label_columns": ["department"],
        "corpus.n_samples": None,
        "corpus.dedupe": False,
        "corpus.drop_labels": [],
        "models.encoders": [str(encoder)],
        "models.simcse_from": [],
        "encode.max_seq_length": 64,
        "encode.batch_size": 64,
        "encode.backend": "torch",
        "encode.engine": "ray" if variant == "ray" else "local",
        "encode.show_progress": False,
        # two one-thread actors use the 2 cores as the local engine's two torch threads do
        "ray.n_actors": 2,
        "ray.num_cpus_per_actor": 1.0,
        "ray.batch_size": 2048,
        "reduce.plot_2d": False,
        "cluster.clusterers": ["kmeans", "hdbscan"],
        "cluster.spaces": ["raw", "umap"],
        "cluster.pairs": ["kmeans/raw", "hdbscan/umap"],
        "reduce.sample_threshold": 50_000 if sample_fit else None,
        "cluster.sample_threshold": 50_000 if sample_fit else None,
        "metrics.sts_splits": [],
        "metrics.n_alignment_texts": 0,
        "metrics.n_bootstrap": 0,
    }


def child(args: argparse.Namespace) -> None:
    """One variant in this fresh process; prints one JSON line."""
    t0 = time.perf_counter()
    from simcse_lab.core.config import load_config
    from simcse_lab.experiment import run

    cfg = load_config("default", json.loads(args.child))
    result = run(cfg)
    wall = time.perf_counter() - t0
    table = result.table
    scores = {f"{r.clusterer}/{r.space}": round(float(r.v_measure), 4) for r in table.itertuples()}
    out = {
        "wall_seconds": round(wall, 1),
        "stages": result.manifest["seconds_per_step"],
        "scaling": result.manifest["scaling"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "v_measure": scores,
    }
    if args.save_embeddings:
        from simcse_lab.encoding.encode import embedding_cache_key  # noqa: F401 - the cache holds them; find the entry

        emb = sorted((Path(cfg.data_dir) / "interim" / "embeddings").glob("*.npy"), key=lambda p: p.stat().st_size)[-1]
        shutil.copy(emb, args.save_embeddings)
    if cfg.encode.engine == "ray":
        import ray

        out["ray_processes_rss_mb_at_end"] = _ray_workers_rss_mb()
        ray.shutdown()
    print("RESULT " + json.dumps(out), flush=True)


def _ray_workers_rss_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    me = psutil.Process()
    return round(sum(p.memory_info().rss for p in me.children(recursive=True)) / 2**20, 1)


def run_variant(
    n: int, variant: str, corpus: Path, encoder: Path, data_dir: Path, save_embeddings: Path | None = None
) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(overrides(n, variant, corpus, encoder, data_dir))]
    if save_embeddings:
        cmd += ["--save-embeddings", str(save_embeddings)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"{n} {variant} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(lines[-1][7:])
    out["process_seconds"] = round(time.perf_counter() - t0, 1)
    return {"n": n, "variant": variant, **out}


def _stage(row: dict, prefix: str) -> float:
    """Seconds of the manifest's steps whose name starts with ``prefix`` (``encode <model>``, ...)."""
    return sum(v for k, v in row["stages"].items() if k.startswith(prefix))


def growth_notes(rows: list[dict]) -> list[str]:
    """How clustering time (UMAP + KMeans + HDBSCAN) grows with the corpus, sample-fit on, local
    engine: each size against the smallest, as a ratio of times next to the ratio of sizes."""
    on = sorted((r for r in rows if r["variant"] == "on"), key=lambda r: r["n"])
    if len(on) < 2:
        return []

    def clustering(r):
        return _stage(r, "umap") + _stage(r, "cluster")

    first = on[0]
    return [
        f"- Sample-fit on, {r['n']:,} vs {first['n']:,} texts ({r['n'] / first['n']:.1f}x): clustering "
        f"{clustering(r):.1f} s vs {clustering(first):.1f} s ({clustering(r) / clustering(first):.2f}x), "
        f"peak RSS {r['peak_rss_mb']:.0f} vs {first['peak_rss_mb']:.0f} MiB."
        for r in on[1:]
    ]


def markdown(rows: list[dict], extra: list[str]) -> str:
    out = [
        "| texts | variant | wall (s) | encode (s) | UMAP (s) | KMeans (s) | HDBSCAN (s) | peak RSS (MiB) |"
        " kmeans/raw | hdbscan/umap | UMAP fit | HDBSCAN fit |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        rss = f"{r['peak_rss_mb']:.0f}" + (
            f" (+{r['ray_processes_rss_mb_at_end']:.0f} Ray at end)" if r.get("ray_processes_rss_mb_at_end") else ""
        )
        out.append(
            f"| {r['n']:,} | {r['variant']} | {r['wall_seconds']:.1f} | {_stage(r, 'encode'):.1f} "
            f"| {_stage(r, 'umap'):.1f} | {_stage(r, 'cluster kmeans'):.1f} | {_stage(r, 'cluster hdbscan'):.1f} "
            f"| {rss} | {r['v_measure'].get('kmeans/raw', float('nan')):.3f} "
            f"| {r['v_measure'].get('hdbscan/umap', float('nan')):.3f} "
            f"| {r['scaling']['umap_fit']} | {r['scaling']['hdbscan_fit']} |"
        )
    return "\n".join(out + [""] + extra) + "\n"


def merge_earlier(path: Path, rows: list[dict], hw: dict) -> list[dict]:
    """This run's rows plus the other (size, variant) rows of an earlier ``scale.json`` made on the
    same kind of machine (CPU model and count), so parts can run separately. Rows of another machine
    are dropped: times are only comparable within one machine."""
    if not path.is_file():
        return rows
    old = json.loads(path.read_text())
    if any(old.get("hardware", {}).get(k) != hw.get(k) for k in ("cpu", "cpu_count")):
        print(f"{path}: measured on another machine; its rows are not kept", file=sys.stderr)
        return rows
    new = {(r["n"], r["variant"]) for r in rows}
    kept = [r for r in old.get("rows", []) if (r["n"], r["variant"]) not in new]
    order = ["local", "off", "on", "ray"]
    return sorted(kept + rows, key=lambda r: (r["n"], order.index(r["variant"]) if r["variant"] in order else 9))


def engine_notes(rows: list[dict]) -> list[str]:
    """Per size with a ``ray`` row: its wall time against the local engine's row with the same
    sample-fit setting (``local``, or ``on`` above the threshold), and how far the embeddings
    (when both were kept) and the V-measures lie apart."""
    notes = []
    for n in sorted({r["n"] for r in rows}):
        by = {r["variant"]: r for r in rows if r["n"] == n}
        base = "local" if "local" in by else "on"
        if "ray" not in by or base not in by:
            continue
        ray, loc = by["ray"], by[base]
        files = [WORK / f"emb-{n}-{v}.npy" for v in (base, "ray")]
        diff = (
            (
                f"largest absolute difference of the embeddings "
                f"{float(np.abs(np.load(files[0]) - np.load(files[1])).max()):.2e}; "
            )
            if all(f.is_file() for f in files)
            else ""
        )
        vdiff = max(abs(ray["v_measure"][k] - loc["v_measure"][k]) for k in loc["v_measure"])
        notes.append(
            f"- {n:,} texts: Ray engine wall time {ray['wall_seconds'] / loc['wall_seconds']:.2f}x the local engine's "
            f"({ray['wall_seconds']:.1f} s vs {loc['wall_seconds']:.1f} s; encode {_stage(ray, 'encode'):.1f} s vs "
            f"{_stage(loc, 'encode'):.1f} s; UMAP {_stage(ray, 'umap'):.1f} s vs {_stage(loc, 'umap'):.1f} s); {diff}"
            f"largest V-measure difference {vdiff:.4f}."
        )
    return notes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 500_000])
    p.add_argument("--variants", nargs="+", default=None, help="local, ray, off, on (default: per size, see above)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--save-embeddings", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    from simcse_lab.core.runtime import hardware

    encoder = build_encoder()
    plan = {20_000: ["local", "ray"], 100_000: ["off", "on", "ray"], 500_000: ["on"]}
    rows = []
    for n in args.sizes:
        corpus = build_corpus(n)
        variants = args.variants or plan.get(n, ["on"])
        for variant in variants:
            data_dir = WORK / f"run-{n}-{variant}"
            shutil.rmtree(data_dir, ignore_errors=True)  # cold: no embeddings, projections
            keep = WORK / f"emb-{n}-{variant}.npy" if variant in ("local", "ray") else None
            row = run_variant(n, variant, corpus, encoder, data_dir, keep)
            rows.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(data_dir, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = merge_earlier(args.out / "scale.json", rows, hardware())
    extra = engine_notes(rows) + growth_notes(rows)
    record = {"hardware": hardware(), "rows": rows, "notes": extra}
    (args.out / "scale.json").write_text(json.dumps(record, indent=2))
    (args.out / "scale.md").write_text(markdown(rows, extra))
    print(markdown(rows, extra))


if __name__ == "__main__":
    main()
