"""Shared fixtures: a tiny labelled corpus, a tiny random-init BERT checkpoint, a fake encoder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TOPICS = {
    "toys": ("puzzle", "lego", "doll", "game", "kite", "blocks"),
    "food": ("coffee", "pasta", "cookie", "tea", "sauce", "bread"),
    "pets": ("leash", "collar", "kibble", "litter", "aquarium", "cage"),
}
SUBTOPIC = {"toys": ("games", "puzzles"), "food": ("drinks", "snacks"), "pets": ("dogs", "cats")}
FILLER = ("great", "bad", "cheap", "sturdy", "lovely", "broken", "fresh", "small", "big", "nice")


def make_rows(n_per_topic: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for topic, words in TOPICS.items():
        for i in range(n_per_topic):
            w = rng.choice(words, size=3)
            f = rng.choice(FILLER, size=2)
            text = f"the {w[0]} was {f[0]} and the {w[1]} {w[2]} felt {f[1]} number {i}"
            rows.append({"Text": text, "Cat1": topic, "Cat2": SUBTOPIC[topic][i % 2], "Score": 5})
    return pd.DataFrame(rows)


@pytest.fixture
def tiny_df() -> pd.DataFrame:
    return make_rows()


@pytest.fixture
def tiny_csv(tmp_path: Path, tiny_df: pd.DataFrame) -> Path:
    path = tmp_path / "train_tiny.csv"
    tiny_df.to_csv(path, index=False)
    return path


def _vocab() -> list[str]:
    words = {"the", "was", "and", "felt", "number"} | set(FILLER)
    for ws in TOPICS.values():
        words |= set(ws)
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words), *[str(i) for i in range(100)]]


def build_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-wide random-init BERT with a WordPiece vocabulary of the fixture words."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab_file = path / "vocab.txt"
    vocab_file.write_text("\n".join(_vocab()) + "\n")
    tok = BertTokenizerFast(vocab=str(vocab_file), do_lower_case=True)  # transformers 5: `vocab`, not vocab_file
    assert len(tok) == len(_vocab()), "the fixture tokenizer lost its vocabulary"
    config = BertConfig(
        vocab_size=len(_vocab()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,  # encode.max_seq_length is 128 by default
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-bert") / "model")


class FakeEncoder:
    """Deterministic hash-based embeddings; counts how often it is called."""

    def __init__(self, dim: int = 8, name: str = "fake") -> None:
        self.dim = dim
        self.name = name
        self.identity = {"kind": "fake", "dim": dim}
        self.calls = 0
        self.texts_seen = 0

    def encode(self, texts, *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_seen += len(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little")
            out[i] = np.random.default_rng(seed).normal(size=self.dim)
        return out


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


# ---------------------------------------------------------------- the command line, as a user runs it

#: settings that make a compare run in seconds on the tiny corpus
FAST = [
    "--set",
    "corpus.n_samples=null",
    "--set",
    "corpus.heldout=0",
    "--set",
    "corpus.drop_labels=[]",
    "--set",
    "models.encoders=[tfidf-lsa]",
    "--set",
    "models.simcse_from=[]",
    "--set",
    "cluster.clusterers=[kmeans]",
    "--set",
    "cluster.spaces=[raw]",
    "--set",
    "reduce.plot_2d=false",
    "--set",
    "metrics.sts_splits=[]",
    "--set",
    "metrics.n_alignment_texts=0",
    "--set",
    "metrics.n_bootstrap=5",
    "--set",
    "encode.show_progress=false",
    "-q",
]


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path -> digest)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_line(code: int, err: list[str], msg: str, *, status: int = 2) -> None:
    assert code == status, err
    assert len(err) == 1, err
    assert err[0].startswith("simcse-lab: error:") and msg in err[0], err[0]
    assert "Traceback" not in err[0]
