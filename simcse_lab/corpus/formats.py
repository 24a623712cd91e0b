"""Reading a corpus file (CSV, TSV, Parquet, JSONL, TXT) and finding its text and label columns.

The text column is the one named, else the first of `TEXT_CANDIDATES` present; label
columns are the ones named, else a known hierarchy (`KNOWN_LABELS`: the Kaggle Amazon
file's ``Cat1``/``Cat2``/``Cat3``, the clothing reviews' ``Department Name``/``Class Name``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["KNOWN_LABELS", "TEXT_CANDIDATES", "pick_label_columns", "pick_text_column", "read_table"]

TEXT_CANDIDATES = ("Text", "Review Text", "text", "review", "review_text", "sentence", "content", "body")
KNOWN_LABELS = (("Cat1", "Cat2", "Cat3"), ("Department Name", "Class Name"))


_ORANGE_TYPES = {"d", "discrete", "c", "continuous", "s", "string", "text", "t", "time", ""}


def _orange_header(path: Path, suffix: str) -> bool:
    """Whether a ``.tab`` file has Orange's three header rows (names, types, flags such as
    ``class``/``meta``): its second row holds only Orange type names."""
    if suffix != ".tab":
        return False
    with open(path, encoding="utf-8", errors="replace") as f:
        f.readline()
        second = f.readline().rstrip("\n").split("\t")
    return any(second) and all(v.strip() in _ORANGE_TYPES for v in second)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet/JSONL/TXT file into a DataFrame (TXT: one ``text`` per line; a
    ``.tab`` file in Orange's format has its type and flag rows skipped). Delimited files are read
    as strings, exactly as written; only an empty cell is missing."""
    if "://" in str(path):
        raise ValueError(f"corpus source {path} is a URL; download the file first and give its path")
    path = Path(path).expanduser()
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
            # every cell as written: "NA" (North America) is a label, "01" is not "1"; only an
            # empty cell is missing
            return pd.read_csv(path, sep=sep, skiprows=[1, 2] if _orange_header(path, suffixes[-1]) else None,
                               dtype=str, keep_default_na=False, na_values=[""])
        if suffixes and suffixes[-1] in {".jsonl", ".ndjson", ".json"}:
            # JSON's own types: no guessing of numbers or dates from strings
            return pd.read_json(path, lines=suffixes[-1] != ".json", dtype=False, convert_dates=False,
                                keep_default_dates=False)
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


def pick_text_column(df: pd.DataFrame, text_column: str | None, where: str) -> str:
    if text_column is not None:
        if text_column not in df.columns:
            raise ValueError(f"{where} has no text column {text_column!r}; columns: {list(df.columns)}")
        return text_column
    for cand in TEXT_CANDIDATES:
        if cand in df.columns:
            return cand
    raise ValueError(f"{where}: cannot tell which column holds the text; give text_column, one of {list(df.columns)}")


def pick_label_columns(df: pd.DataFrame, label_columns: tuple[str, ...] | None, where: str) -> tuple[str, ...]:
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
