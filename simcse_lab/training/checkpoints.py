"""Trainer checkpoints: which one a run can resume from.

A checkpoint is resumable when its trainer state, weights and optimizer state are all readable;
a damaged newer one is skipped with a warning naming it.
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["checkpoint_problem", "last_checkpoint"]


def _numbered(ckpt_dir: Path) -> list[Path]:
    found = [p for p in Path(ckpt_dir).glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]), reverse=True)


def checkpoint_problem(ckpt: Path) -> str | None:
    """Why a trainer checkpoint cannot be resumed from, or None if it looks whole: its trainer
    state must parse, its weights file must have a readable safetensors header (or be a whole
    zip for ``.bin``), and its optimizer state (when present) must be a whole zip archive."""
    try:
        json.loads((ckpt / "trainer_state.json").read_text())
    except (OSError, ValueError) as exc:
        return f"trainer_state.json unreadable ({type(exc).__name__})"
    weights = [p for p in ckpt.glob("*.safetensors")] + [p for p in ckpt.glob("*.bin")]
    if not weights:
        return "no weights file"
    for p in weights:
        try:
            if p.suffix == ".safetensors":
                with p.open("rb") as fh:
                    n = int.from_bytes(fh.read(8), "little")
                    json.loads(fh.read(n))
                    if p.stat().st_size < 8 + n:
                        raise ValueError("truncated")
            elif zipfile.ZipFile(p).testzip() is not None:
                raise ValueError("corrupt member")
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            return f"{p.name} unreadable ({type(exc).__name__})"
    for name in ("optimizer.pt", "scheduler.pt"):
        p = ckpt / name
        if p.exists():
            try:
                if zipfile.ZipFile(p).testzip() is not None:
                    raise ValueError("corrupt member")
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                return f"{name} unreadable ({type(exc).__name__})"
    return None


def last_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest ``checkpoint-N`` in ``ckpt_dir`` that can be resumed from (see
    `checkpoint_problem`), or None; newer damaged ones are skipped with a warning."""
    for ckpt in _numbered(ckpt_dir):
        problem = checkpoint_problem(ckpt)
        if problem is None:
            return ckpt
        logger.warning("skipping damaged checkpoint %s: %s", ckpt, problem)
    return None
