"""The cleaning steps of `load_corpus`, one function each.

Each step takes the table and the name of its text or main label column, records in ``report``
how many rows it removed, and returns what is left. They run in the order
`load_corpus` documents.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "check_cell_types",
    "drop_classes",
    "drop_duplicates",
    "drop_empty_texts",
    "drop_rare_classes",
    "drop_unlabelled",
    "label_levels",
    "skew_to_majority",
    "stratified_indices",
    "subsample",
    "take_half",
]


def stratified_indices(y: np.ndarray | None, n: int, n_samples: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded sample of ``n_samples`` of ``n`` rows, stratified by ``y`` if given."""
    rng = np.random.default_rng(seed)
    if y is None:
        return np.sort(rng.choice(n, size=n_samples, replace=False))
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(n), train_size=n_samples, stratify=y, random_state=seed)
    return np.sort(idx)


def check_cell_types(df: pd.DataFrame, tcol: str, lcols: tuple[str, ...], where: str) -> None:
    """Refuse, naming the first offending row, a text that is not a string (a JSON list, object or
    number would otherwise be embedded as its Python repr) and a label that is a list or an object
    (it would become a class named like ``"['x' '0']"``). Numbers as labels are fine: ``1`` is
    read as ``"1"``."""

    def bad(values: pd.Series, ok) -> tuple[int, Any] | None:
        for row, v in values.items():
            if not ok(v):
                return row, v
        return None

    def missing(v: Any) -> bool:
        return v is None or (isinstance(v, float) and np.isnan(v))

    hit = bad(df[tcol], lambda v: isinstance(v, str) or missing(v))
    if hit:
        raise ValueError(
            f"{where}: the text in data row {hit[0]} is a {type(hit[1]).__name__}, not a string"
            f" ({str(hit[1])[:60]!r}); texts must be strings"
        )
    for col in lcols:
        hit = bad(df[col], lambda v: isinstance(v, (str, int, float, np.integer, np.floating, bool)) or missing(v))
        if hit:
            raise ValueError(
                f"{where}: the label {col!r} in data row {hit[0]} is a {type(hit[1]).__name__}"
                f" ({str(hit[1])[:60]!r}); a label must be one value (a string or a number)"
            )


def drop_empty_texts(df: pd.DataFrame, tcol: str, report: dict[str, int]) -> pd.DataFrame:
    """Strip the texts; drop the empty and missing ones."""
    texts = df[tcol].astype("string").str.strip()
    keep = texts.notna() & (texts != "")
    report["dropped_empty_text"] = int((~keep).sum())
    return df.loc[keep].assign(**{tcol: texts[keep]})


def drop_unlabelled(df: pd.DataFrame, main: str, report: dict[str, int]) -> pd.DataFrame:
    """Drop rows without a label at the main level."""
    has_label = df[main].notna() & (df[main].astype("string").str.strip() != "")
    report["dropped_unlabelled"] = int((~has_label).sum())
    return df.loc[has_label]


def drop_duplicates(df: pd.DataFrame, tcol: str, report: dict[str, int]) -> pd.DataFrame:
    """Drop exact duplicate texts, keeping the first."""
    dup = df[tcol].duplicated(keep="first")
    report["dropped_duplicates"] = int(dup.sum())
    return df.loc[~dup]


def drop_classes(
    df: pd.DataFrame, main: str | None, drop_labels: tuple[str, ...], report: dict[str, int], *, where: str
) -> pd.DataFrame:
    """Drop the classes named in ``drop_labels`` (a name the corpus lacks is reported, not an error)."""
    if not drop_labels:
        return df
    if main is None:
        # a profile written for a labelled corpus (default drops 'Trend') given an unlabelled file
        logger.info("%s has no labels; drop_labels=%s does not apply", where, list(drop_labels))
        return df
    present = set(df[main].astype(str))
    unknown = [d for d in drop_labels if d not in present]
    if unknown:
        # a profile written for one corpus may name classes another corpus lacks
        logger.warning(
            "drop_labels %s are not classes of %r (classes: %s); nothing dropped for them",
            unknown,
            main,
            sorted(present),
        )
    hit = df[main].astype(str).isin(set(drop_labels))
    report["dropped_labels"] = int(hit.sum())
    return df.loc[~hit]


def drop_rare_classes(df: pd.DataFrame, main: str, min_class_size: int, report: dict[str, int]) -> pd.DataFrame:
    """Drop classes with fewer than ``min_class_size`` rows."""
    counts = df[main].astype(str).value_counts()
    rare = counts[counts < min_class_size].index
    hit = df[main].astype(str).isin(set(rare))
    report["dropped_rare_classes"] = int(hit.sum())
    return df.loc[~hit]


def take_half(df: pd.DataFrame, main: str | None, half: str, half_seed: int, report: dict[str, int]) -> pd.DataFrame:
    """Keep the ``dev`` or ``test`` half (stratified, seeded by ``half_seed``: the halves never share a row)."""
    if half not in ("dev", "test"):
        raise ValueError(f"half must be 'dev' or 'test', got {half!r}")
    y = df[main].astype(str).to_numpy() if main is not None else None
    dev = stratified_indices(y, len(df), len(df) // 2, half_seed)
    idx = dev if half == "dev" else np.setdiff1d(np.arange(len(df)), dev)
    report["dropped_other_half"] = len(df) - len(idx)
    return df.iloc[idx]


def subsample(
    df: pd.DataFrame, main: str | None, n_samples: int, seed: int, report: dict[str, int], *, where: str
) -> pd.DataFrame:
    """A stratified, seeded sample of ``n_samples`` rows (all of them when fewer are left)."""
    if n_samples < 2:
        raise ValueError(f"n_samples must be at least 2, got {n_samples}")
    if n_samples > len(df):
        logger.warning(
            "%s: n_samples=%d but only %d texts are left after cleaning; using all %d",
            where,
            n_samples,
            len(df),
            len(df),
        )
    if n_samples >= len(df):
        return df
    y = df[main].astype(str).to_numpy() if main is not None else None
    if y is not None and n_samples < len(set(y)):
        raise ValueError(f"n_samples={n_samples} is smaller than the {len(set(y))} classes of {main!r}")
    idx = stratified_indices(y, len(df), n_samples, seed)
    report["dropped_subsample"] = len(df) - len(idx)
    return df.iloc[idx]


def skew_to_majority(
    df: pd.DataFrame,
    main: str | None,
    share: float,
    n_samples: int | None,
    seed: int,
    report: dict[str, int],
    *,
    where: str,
) -> pd.DataFrame:
    """A seeded sample in which the main level's largest class holds ``share`` of the rows and the
    other classes share the rest as they are (stratified): an imbalanced version of the corpus.
    Without ``n_samples``, the largest sample the classes allow."""
    if main is None:
        raise ValueError(f"{where} has no labels; corpus.majority_share needs a main label level to skew")
    y = df[main].astype(str).to_numpy()
    names, counts = np.unique(y, return_counts=True)
    major = names[np.argmax(counts)]  # np.unique sorts names: ties go to the first name
    is_major = y == major
    n_major_avail, n_rest_avail = int(is_major.sum()), int((~is_major).sum())
    n = n_samples if n_samples is not None else int(min(n_major_avail / share, n_rest_avail / (1 - share)))
    n_major = int(round(share * n))
    n_rest = n - n_major
    if n_major > n_major_avail or n_rest > n_rest_avail:
        raise ValueError(
            f"{where}: corpus.majority_share={share} of {n} texts needs {n_major} of class {major!r} (it has"
            f" {n_major_avail}) and {n_rest} of the others (they have {n_rest_avail}); lower corpus.n_samples"
        )
    n_other_classes = len(names) - 1
    if n_rest < n_other_classes:
        raise ValueError(
            f"{where}: corpus.majority_share={share} leaves {n_rest} texts for the other"
            f" {n_other_classes} classes; raise corpus.n_samples or lower the share"
        )
    rng = np.random.default_rng(seed)
    major_idx = rng.choice(np.flatnonzero(is_major), size=n_major, replace=False)
    rest = np.flatnonzero(~is_major)
    if n_rest < len(rest):
        rest = rest[stratified_indices(y[rest], len(rest), n_rest, seed)]
    idx = np.sort(np.concatenate([major_idx, rest]))
    report["dropped_subsample"] = len(df) - len(idx)
    logger.info(
        "%s: %d of %d texts from the largest class %r (majority_share=%s)", where, n_major, len(idx), major, share
    )
    return df.iloc[idx]


def label_levels(
    df: pd.DataFrame, lcols: tuple[str, ...], main: str | None, report: dict[str, int], *, where: str
) -> dict[str, np.ndarray]:
    """Each label level as an array of strings; a finer level with one class is skipped (with a
    warning), a main level with one class is an error."""
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
    return labels
