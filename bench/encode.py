"""Benchmark: encode throughput per backend, quality against torch, and the achieved FLOP rate.

    python bench/encode.py                       # minilm, 1,000 reviews
    python bench/encode.py --model random-init --n-texts 2000

1. This CPU's float32 matmul peak through torch (square matmuls, best of several, all cores).
2. The encoder's FLOPs for these texts, counted exactly from its config and the padded batches
   it really runs (longest-first batches, as sentence-transformers and the ONNX encoder do):
   per token and layer ``2 * (4 d^2 + 2 d f)`` for the projections and feed-forward, plus
   ``2 * 2 * s * d`` for attention over a padded length ``s``.
3. texts/s of ``SentenceTransformer.encode`` with its defaults (batch 32, the seed's call), of
   simcse_lab's torch path (``--batch-size``, 16 by default) and of each exported variant (ONNX Runtime
   fp32 and int8, OpenVINO); their lowest per-text
   cosine to the torch embedding; achieved GFLOP/s and the fraction of the matmul peak.

Writes ``<out>/encode-<model>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def matmul_peak_gflops(n: int = 1536, reps: int = 5) -> float:
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def encoder_flops(st, texts: list[str], batch_size: int) -> tuple[float, float]:
    """Total forward FLOPs for ``texts`` in longest-first padded batches, and mean padded tokens per text."""
    cfg = st[0].auto_model.config
    d, f, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    order = np.argsort([-len(t) for t in texts], kind="stable")
    total, tokens = 0.0, 0
    for start in range(0, len(texts), batch_size):
        batch = [texts[i] for i in order[start : start + batch_size]]
        s = st.preprocess(batch)["input_ids"].shape[1]
        per_token = layers * (2 * (4 * d * d + 2 * d * f) + 2 * 2 * s * d)
        total += per_token * s * len(batch)
        tokens += s * len(batch)
    return total, tokens / len(texts)


def timed(fn, texts):
    fn(texts[:64])  # warm-up
    t0 = time.perf_counter()
    x = np.asarray(fn(texts), dtype=np.float32)
    return x, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--n-texts", type=int, default=1000)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16, help="simcse_lab's batch size (encode.batch_size)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--data-dir", type=Path, default=ROOT / "data")
    args = ap.parse_args(argv)

    from simcse_lab.core.runtime import configure_threads
    from simcse_lab.corpus.load import load_corpus
    from simcse_lab.encoding.backends import (
        OnnxEncoder,
        export_dir,
        export_onnx,
        runtime_of,
    )
    from simcse_lab.encoding.resolve import load_encoder

    threads = configure_threads(None)
    texts = load_corpus(
        "ecommerce-reviews", n_samples=args.n_texts, dedupe=True, drop_labels=["Trend"], seed=args.seed
    ).texts
    peak = matmul_peak_gflops()
    enc = load_encoder(args.model, max_seq_length=args.max_seq_length, data_dir=args.data_dir)
    st = enc.model
    bs = args.batch_size
    flops_b, tokens_b = encoder_flops(st, texts, bs)
    flops32, tokens32 = encoder_flops(st, texts, 32)
    rows = []
    ref, secs = timed(lambda t: st.encode(t), texts)  # the seed's call: defaults (batch 32)
    rows.append(
        {
            "encoder": "SentenceTransformer.encode (defaults, batch 32)",
            "texts_per_s": len(texts) / secs,
            "gflops": flops32 / secs / 1e9,
            "min_cosine_to_torch": 1.0,
        }
    )
    x, secs = timed(lambda t: enc.encode(t, batch_size=bs), texts)
    rows.append(
        {
            "encoder": f"simcse_lab torch (batch {bs})",
            "texts_per_s": len(texts) / secs,
            "gflops": flops_b / secs / 1e9,
            "min_cosine_to_torch": _min_cos(ref, x),
        }
    )
    folder = export_dir(enc, args.data_dir)
    record = (
        json.loads((folder / "export.json").read_text())
        if (folder / "export.json").is_file()
        else export_onnx(enc, folder, texts[:96])
    )
    for variant, info in record["variants"].items():
        onnx_enc = OnnxEncoder(
            folder / info["file"], enc, enc.name, enc.identity, threads=threads, runtime=runtime_of(variant)
        )
        x, secs = timed(lambda t, e=onnx_enc: e.encode(t, batch_size=bs), texts)
        rows.append(
            {
                "encoder": f"simcse_lab {variant} (batch {bs})",
                "texts_per_s": len(texts) / secs,
                "gflops": flops_b / secs / 1e9,
                "min_cosine_to_torch": _min_cos(ref, x),
            }
        )
    for r in rows:
        r["fraction_of_peak"] = r["gflops"] / peak
        r["speedup_vs_st_default"] = r["texts_per_s"] / rows[0]["texts_per_s"]
    cfg = st[0].auto_model.config
    report = {
        "model": args.model,
        "n_texts": len(texts),
        "max_seq_length": args.max_seq_length,
        "threads": threads,
        "matmul_peak_gflops": round(peak, 1),
        "architecture": {"layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size, "ffn": cfg.intermediate_size},
        "mean_padded_tokens_per_text": {"batch 32": round(tokens32, 1), f"batch {bs}": round(tokens_b, 1)},
        "gflop_per_text": {
            "batch 32": round(flops32 / len(texts) / 1e9, 3),
            f"batch {bs}": round(flops_b / len(texts) / 1e9, 3),
        },
        "rows": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = Path(args.model).name
    (args.out / f"encode-{name}.json").write_text(json.dumps(report, indent=2))
    import pandas as pd

    md = [
        f"# Encode throughput: {args.model}, {len(texts)} reviews, max_seq_length {args.max_seq_length}, "
        f"{threads} threads",
        "",
        f"torch float32 matmul peak: {peak:.1f} GFLOP/s; encoder: {report['architecture']}; "
        f"{report['gflop_per_text'][f'batch {bs}']} GFLOP per text at batch {bs} "
        f"({report['mean_padded_tokens_per_text'][f'batch {bs}']} padded tokens per text).",
        "",
        pd.DataFrame(report["rows"]).to_markdown(index=False, floatfmt=".3f"),
        "",
    ]
    (args.out / f"encode-{name}.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


def _min_cos(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())


if __name__ == "__main__":
    sys.exit(main())
