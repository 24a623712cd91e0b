"""Benchmark: SimCSE training throughput, ``simcse_lab.training.simcse.train_simcse`` against a plain
sentence-transformers trainer with the same settings, and the batch-size / max_seq_length trade-off.

    python bench/train_throughput.py                 # minilm, 20 steps per setting
    python bench/train_throughput.py --steps 40 --grid 32x64 64x64

Each measurement runs in a fresh process and trains ``--steps`` optimisation steps (one epoch
over ``steps x batch`` reviews), with checkpoints off; throughput is the HF trainer's own
``train_steps_per_second`` (the training loop only, no model loading). Writes
``<out>/train_throughput.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def texts_for(n: int, seed: int) -> list[str]:
    from simcse_lab.corpus.load import load_corpus

    corpus = load_corpus("ecommerce-reviews", n_samples=None, dedupe=True, drop_labels=["Trend"], seed=seed)
    return corpus.texts[:n]


def role_ours(batch: int, seq: int, steps: int, seed: int) -> dict:
    from simcse_lab.core.config import TrainConfig
    from simcse_lab.training.simcse import train_simcse

    cfg = TrainConfig(batch_size=batch, max_seq_length=seq, checkpoint_steps=10**6, resume=False)
    with tempfile.TemporaryDirectory() as tmp:
        log = train_simcse(
            "minilm", texts_for(batch * steps, seed), cfg, output_dir=tmp, seed=seed, device="cpu", show_progress=False
        ).log
    return {"steps": log["global_step"], **{k: log["metrics"][k] for k in ("train_runtime", "train_steps_per_second")}}


def role_plain(batch: int, seq: int, steps: int, seed: int) -> dict:
    """sentence-transformers' own recipe, nothing of simcse_lab but the model folder and the texts."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )

    from simcse_lab.encoding.resolve import minilm_path

    texts = texts_for(batch * steps, seed)
    model = SentenceTransformer(str(minilm_path()), device="cpu")
    model.max_seq_length = seq
    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp,
            num_train_epochs=1,
            per_device_train_batch_size=batch,
            learning_rate=3e-5,
            warmup_steps=0.1,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no",
            logging_steps=10,
            seed=seed,
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_dict({"anchor": texts, "positive": texts}),
            loss=MultipleNegativesRankingLoss(model, scale=20.0),
        )
        result = trainer.train()
    return {"steps": result.global_step, **{k: result.metrics[k] for k in ("train_runtime", "train_steps_per_second")}}


def _child(role: str, batch: int, seq: int, steps: int, seed: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--role",
        role,
        "--grid",
        f"{batch}x{seq}",
        "--steps",
        str(steps),
        "--seed",
        str(seed),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{role} {batch}x{seq} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--grid",
        nargs="+",
        default=["32x64", "16x64", "64x64", "32x32", "32x128"],
        help="batch x max_seq_length settings for simcse_lab (the first is also run plainly)",
    )
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--role", choices=["ours", "plain"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    grid = [tuple(int(v) for v in g.split("x")) for g in args.grid]
    if args.role:
        batch, seq = grid[0]
        fn = role_ours if args.role == "ours" else role_plain
        print(json.dumps(fn(batch, seq, args.steps, args.seed)))
        return 0

    rows = []
    for i, (batch, seq) in enumerate(grid):
        roles = ["plain", "ours"] if i == 0 else ["ours"]
        for role in roles:
            print(f"{role} batch {batch} x {seq} tokens", flush=True)
            r = _child(role, batch, seq, args.steps, args.seed)
            rows.append(
                {
                    "trainer": "sentence-transformers (plain)" if role == "plain" else "simcse_lab",
                    "batch_size": batch,
                    "max_seq_length": seq,
                    **r,
                    "texts_per_second": round(r["train_steps_per_second"] * batch, 1),
                }
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_throughput.json").write_text(json.dumps(rows, indent=2))
    import pandas as pd

    md = [
        "# SimCSE training throughput (minilm, CPU)",
        "",
        pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"),
        "",
    ]
    (args.out / "train_throughput.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
