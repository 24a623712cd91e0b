"""The run folder: where it may be written, what replacing one means, and file-safe names.

A run folder is ``<runs_dir>/<name>-<config hash>-<corpus fingerprint>`` (see
`simcse_lab.experiment.run_dir_for`); `simcse_lab.reporting.results.Result.save`
writes it whole or not at all.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["check_run_folder", "check_writable_folder", "notice_replacement", "slug"]


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
    be a folder of the user's own."""
    from ..core.publish import recover_folder

    run_dir = Path(run_dir)
    recover_folder(run_dir)  # an earlier run left aside by a killed publish comes back first
    if run_dir.exists():
        if not run_dir.is_dir():
            raise ValueError(f"run folder {run_dir} is a file; give a folder path")
        if any(run_dir.iterdir()) and not any((run_dir / f).is_file() for f in ("manifest.json", "config.yaml")):
            raise ValueError(f"{run_dir} holds other files and is not a simcse-lab run folder; give a new or empty "
                             "folder (saving replaces it whole)")
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
        logger.warning("replacing the complete run in %s (config %s, corpus %s) with config %s, corpus %s",
                       run_dir, *before, *after)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"
