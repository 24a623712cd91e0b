"""Reading a corpus file (CSV, TSV, Parquet, JSONL, TXT) and finding its text and label columns.

The text column is the one named, else the first of `TEXT_CANDIDATES` present; label
columns are the ones named, else a known hierarchy (`KNOWN_LABELS`: the Kaggle Amazon
file's ``Cat1``/``Cat2``/``Cat3``, the clothing reviews' ``Department Name``/``Class Name``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = [
    "COMPRESSIONS",
    "KNOWN_LABELS",
    "TEXT_CANDIDATES",
    "format_suffix",
    "pick_label_columns",
    "pick_text_column",
    "read_table",
    "text_lines",
]

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


#: a last suffix that names a compression: the format is the suffix before it (``.parquet.brotli``)
COMPRESSIONS = (".brotli", ".gz", ".bz2", ".xz", ".zst", ".zip", ".snappy")


def format_suffix(path: Path) -> str:
    """The suffix that decides how ``path`` is read: the last one (``notes.pq.txt`` is text), or the
    one before a compression suffix (``reviews.parquet.brotli`` is Parquet, ``texts.csv.gz`` CSV).

    >>> [format_suffix(Path(p)) for p in ("notes.pq.txt", "r.parquet.brotli", "t.CSV.gz", "README")]
    ['.txt', '.parquet', '.csv', '']
    """
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) > 1 and suffixes[-1] in COMPRESSIONS and suffixes[-2] != ".txt":
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def text_lines(text: str) -> list[str]:
    """The lines of a text file as written: split at ``\\n`` (a ``\\r`` before it goes with it) and
    nowhere else, so a form feed, U+2028 or NEL inside a line stays in it; a final newline ends the
    last line rather than starting an empty one.

    >>> text_lines("one\\r\\ntwo\\u2028still two\\x0cand still\\nthree\\n")
    ['one', 'two\\u2028still two\\x0cand still', 'three']
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet/JSONL/TXT file into a DataFrame, by its last suffix (TXT: one ``text``
    per line, lines ending at ``\\n`` or ``\\r\\n`` only; a ``.tab`` file in Orange's format has its
    type and flag rows skipped). Delimited files are read as strings, exactly as written; only an
    empty cell is missing. A UTF-8 byte order mark is not part of the first text or column name."""
    if "://" in str(path):
        raise ValueError(f"corpus source {path} is a URL; download the file first and give its path")
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"corpus file not found: {path}")
    if path.is_dir():
        raise ValueError(f"corpus path is a folder, expected a file: {path}")
    if not path.is_file():
        raise ValueError(f"corpus path is not a regular file (a pipe, socket or device?): {path}")
    suffix = format_suffix(path)
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffix in {".csv", ".tsv", ".tab"}:
            sep = "," if suffix == ".csv" else "\t"
            # every cell as written: "NA" (North America) is a label, "01" is not "1"; only an
            # empty cell is missing
            return pd.read_csv(
                path,
                sep=sep,
                skiprows=[1, 2] if _orange_header(path, suffix) else None,
                encoding="utf-8-sig",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
        if suffix in {".jsonl", ".ndjson", ".json"}:
            # JSON's own types: no guessing of numbers or dates from strings
            return pd.read_json(
                path,
                lines=suffix != ".json",
                dtype=False,
                convert_dates=False,
                keep_default_dates=False,
                encoding="utf-8-sig",
            )
        if suffix == ".txt":
            return pd.DataFrame({"text": text_lines(path.read_bytes().decode("utf-8-sig"))})
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
