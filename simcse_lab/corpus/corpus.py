"""The `Corpus`: texts with label levels (coarse to fine), a name and a content fingerprint."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.hashing import texts_fingerprint

__all__ = ["Corpus", "describe_corpus"]


@dataclass(frozen=True)
class Corpus:
    """Texts with label levels (coarse to fine), a name, and a content fingerprint.

    ``labels`` maps each level to an array of strings aligned with ``texts``; it is empty for an
    unlabelled corpus. ``report`` counts what each cleaning step removed. ``ids`` are the texts'
    row numbers in the source (0-based, data rows), so an assignment can be traced back.
    """

    texts: list[str]
    labels: dict[str, np.ndarray]
    name: str
    fingerprint: str
    source: str = ""
    report: dict[str, int] = field(default_factory=dict)
    ids: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def levels(self) -> list[str]:
        return list(self.labels)

    @property
    def is_labelled(self) -> bool:
        return bool(self.labels)

    def subset(self, idx, *, report: dict[str, int] | None = None) -> Corpus:
        """The rows ``idx`` (in that order) as a corpus of their own.

        Examples
        --------
        >>> c = Corpus(["a", "b", "c"], {"L": np.array(["x", "y", "x"])}, "toy", "0")
        >>> c.subset([2, 0]).texts, c.subset([2, 0]).labels["L"].tolist()
        (['c', 'a'], ['x', 'x'])
        """
        idx = np.asarray(idx, dtype=np.int64)
        texts = [self.texts[i] for i in idx]
        labels = {k: v[idx] for k, v in self.labels.items()}
        return Corpus(
            texts,
            labels,
            self.name,
            texts_fingerprint(texts, labels),
            self.source,
            {**self.report, **(report or {})},
            None if self.ids is None else self.ids[idx],
        )

    def label_array(self, level: str | None = None) -> np.ndarray:
        """Labels of ``level`` (None: the first, coarsest level)."""
        if not self.labels:
            raise ValueError(f"corpus '{self.name}' has no labels; give label_columns to score clusterings")
        if level is None:
            level = self.levels[0]
        if level not in self.labels:
            raise ValueError(f"corpus '{self.name}' has no label level {level!r}; levels: {self.levels}")
        return self.labels[level]


def describe_corpus(corpus: Corpus) -> dict:
    """Size, classes per label level, the coarse-to-fine hierarchy and text lengths (in words).

    Examples
    --------
    >>> c = Corpus(["a b", "c", "d e f"], {"L1": np.array(["x", "x", "y"])}, "toy", "0")
    >>> d = describe_corpus(c)
    >>> d["n_texts"], d["levels"]["L1"]["n_classes"], d["words"]["max"]
    (3, 2, 3)
    """
    words = np.array([len(t.split()) for t in corpus.texts])
    out: dict = {
        "name": corpus.name,
        "n_texts": len(corpus),
        "fingerprint": corpus.fingerprint,
        "cleaning": dict(corpus.report),
        "words": {
            "mean": float(words.mean()),
            "median": float(np.median(words)),
            "p95": float(np.percentile(words, 95)),
            "max": int(words.max()),
        },
        "levels": {},
    }
    for level, values in corpus.labels.items():
        counts = pd.Series(values).value_counts()
        out["levels"][level] = {"n_classes": int(len(counts)), "counts": {str(k): int(v) for k, v in counts.items()}}
    if len(corpus.levels) >= 2:
        coarse, fine = corpus.levels[:2]
        table = pd.crosstab(corpus.labels[coarse], corpus.labels[fine])
        out["hierarchy"] = {
            str(parent): sorted(str(c) for c in table.columns[table.loc[parent] > 0]) for parent in table.index
        }
    return out
