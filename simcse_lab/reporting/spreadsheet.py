"""CSV files that are safe to open in a spreadsheet, and read back as written.

A cell a spreadsheet would run as a formula (one that begins with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return, as OWASP's CSV-injection guidance lists them) is written with a leading
``'``, which spreadsheets show as text. A cell that already begins with ``'`` gets one too, so the
guard can always be taken off again: `read_csv` removes exactly one leading ``'`` from every cell
that has one and gives back the text as it was. Numbers are numbers and are never guarded. Every
other cell is written byte for byte, in quotes (numbers are not quoted). Column names are guarded
like cells.

>>> t = pd.DataFrame({"text": ["=1+1", "\\t=1+1", "'quoted", "plain", "-3 stars"], "n": [1, -2, 3, 4, 5]})
>>> guarded(t)["text"].tolist()
["'=1+1", "'\\t=1+1", "''quoted", 'plain', "'-3 stars"]
>>> unguarded(guarded(t)).equals(t)
True
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["GUARDED_STARTS", "guarded", "read_csv", "to_csv", "unguarded"]

#: a cell beginning with one of these is written with a leading "'"
GUARDED_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def _guard(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(GUARDED_STARTS) else value


def _unguard(value: Any) -> Any:
    return value[1:] if isinstance(value, str) and value.startswith("'") else value


def _map_text(table: pd.DataFrame, fn) -> pd.DataFrame:
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(fn)
    out.columns = [fn(c) for c in out.columns]
    return out


def guarded(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every text cell (and column name) that a spreadsheet would run guarded."""
    return _map_text(table, _guard)


def unguarded(table: pd.DataFrame) -> pd.DataFrame:
    """The guard of `guarded` taken off again."""
    return _map_text(table, _unguard)


def to_csv(table: pd.DataFrame, path: str | Path) -> None:
    """Write ``table`` (no index) with its formula-like cells guarded, every text cell in quotes (a
    line break of any kind inside a text, ``\\r`` included, stays inside its cell)."""
    guarded(table).to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV `to_csv` wrote, every cell as it was before the guard."""
    return unguarded(pd.read_csv(path, **kwargs))
