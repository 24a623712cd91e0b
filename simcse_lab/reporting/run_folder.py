"""The run folder: where it may be written, what replacing one means, and file-safe names.

A run folder is ``<runs_dir>/<name>-<config hash>-<corpus fingerprint>`` (see
`simcse_lab.experiment.run_dir_for`); `simcse_lab.reporting.results.Result.save`
writes it whole or not at all.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..core.hashing import array_digest, content_hash

logger = logging.getLogger(__name__)

__all__ = ["FileReuse", "check_run_folder", "check_writable_folder", "notice_replacement", "slug"]

DIGESTS = ".inputs.json"


def _digestible(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return array_digest(np.ascontiguousarray(value)) if value.dtype != object else content_hash(value.tolist())
    if isinstance(value, dict):
        return {str(k): _digestible(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_digestible(v) for v in value]
    return value


class FileReuse:
    """Write a file into ``out_dir``, or copy it from ``old_dir`` (the same place in the run folder
    being replaced) when its inputs and ``code`` (a digest of the code that writes it) are those
    it was written from there; `close` keeps the digests in ``out_dir/.inputs.json`` for the next
    run. Figures and the large tables of a rerun that found everything cached are copied, not
    drawn or formatted again."""

    def __init__(self, out_dir: Path, old_dir: Path | None, code: str, what: str = "file") -> None:
        self.out_dir, self.old_dir, self.code, self.what = out_dir, old_dir, code, what
        self.digests: dict[str, str] = {}
        self.old: dict[str, str] = {}
        if old_dir is not None and (old_dir / DIGESTS).is_file():
            try:
                old = json.loads((old_dir / DIGESTS).read_text())
                self.old = old if isinstance(old, dict) else {}
            except (OSError, ValueError):
                self.old = {}
        self.reused = 0

    def __call__(self, filename: str, inputs: Any, write: Callable[[Path], None]) -> None:
        digest = content_hash({"inputs": _digestible(inputs), "code": self.code})
        target = self.out_dir / filename
        old = self.old_dir / filename if self.old_dir is not None else None
        if old is not None and self.old.get(filename) == digest and old.is_file():
            shutil.copy2(old, target)
            self.reused += 1
        else:
            write(target)
        if target.is_file():
            self.digests[filename] = digest

    def close(self) -> None:
        (self.out_dir / DIGESTS).write_text(json.dumps(self.digests, indent=1, sort_keys=True))
        if self.reused:
            logger.info("%d %s(s) unchanged since the earlier run: copied, not written again", self.reused, self.what)


def check_writable_folder(folder: str | Path, what: str = "folder") -> Path:
    """Make ``folder`` if needed and check that files can be created in it; a ``ValueError``
    naming the folder and the problem otherwise. Called before a comparison computes anything,
    so a bad ``runs_dir`` fails in a second, not after the whole run.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "a_file"
    >>> _ = f.write_text("x")
    >>> check_writable_folder(f, "runs_dir")
    Traceback (most recent call last):
    ValueError: runs_dir ... is a file, not a folder
    """
    import tempfile

    folder = Path(folder).expanduser()
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                raise ValueError(f"{what} {folder} cannot be made: {p} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise ValueError(f"{what} {folder} is not writable ({exc.strerror or exc})") from None
    return folder


def check_run_folder(run_dir: str | Path) -> Path:
    """Check that a run folder can be written at ``run_dir``: it is new, empty, or an earlier run
    folder (which is replaced whole), and its parent is writable. A file, or a folder holding
    other things, is refused with a ``ValueError``: saving replaces the folder, so it must never
    be a folder of the user's own. A link is followed: the run is written into the folder it points
    at (returned), and a link to nothing is refused before anything is computed."""
    import os

    from ..core.publish import recover_folder

    run_dir = Path(run_dir)
    if run_dir.is_symlink():
        if not run_dir.exists():
            raise ValueError(
                f"run folder {run_dir} is a link to {os.readlink(run_dir)}, which does not exist; create that"
                " folder or give another path"
            )
        run_dir = run_dir.resolve()
    recover_folder(run_dir)  # an earlier run left aside by a killed publish comes back first
    if run_dir.exists():
        if not run_dir.is_dir():
            raise ValueError(f"run folder {run_dir} is a file; give a folder path")
        if any(run_dir.iterdir()) and not any((run_dir / f).is_file() for f in ("manifest.json", "config.yaml")):
            raise ValueError(
                f"{run_dir} holds other files and is not a simcse-lab run folder; give a new or empty "
                "folder (saving replaces it whole)"
            )
    check_writable_folder(run_dir.parent, "the run folder's parent")
    return run_dir


def notice_replacement(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Warn when ``run_dir`` holds a complete run made from another config or corpus."""
    try:
        if not (run_dir / "metrics.json").is_file():
            return
        old = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return
    if not isinstance(old, dict):
        return
    before = (old.get("config_hash"), (old.get("corpus") or {}).get("fingerprint"))
    after = (manifest.get("config_hash"), (manifest.get("corpus") or {}).get("fingerprint"))
    if before != after:
        logger.warning(
            "replacing the complete run in %s (config %s, corpus %s) with config %s, corpus %s",
            run_dir,
            *before,
            *after,
        )


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"
