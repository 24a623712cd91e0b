"""Publishing files and folders so that nothing is ever seen half-written or lost.

- `atomic_write`: a file through a temporary sibling and one rename.
- `atomic_folder`: a folder built in a temporary sibling, then swapped with the earlier one in
  one atomic exchange (Linux ``renameat2(RENAME_EXCHANGE)``). Where the OS has no exchange, the
  earlier folder is renamed aside first; if the process dies between the two renames,
  `recover_folder` (run at the start of every publish) puts it back.
- `folder_lock`: one writer per folder at a time; a second one is refused in one line.

Temporary siblings are named ``.<name>.partial-<pid>-*`` and ``.<name>.old-<pid>-*``; the pid
tells `recover_folder` whether their writer is still alive.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

logger = logging.getLogger(__name__)

__all__ = ["FolderBusy", "atomic_folder", "atomic_write", "folder_lock", "naming_a_full_disk", "recover_folder"]

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_held: set[tuple[int, str]] = set()  # (thread, folder) whose lock this process holds


class FolderBusy(ValueError):
    """Another process is writing the same folder."""


@contextmanager
def naming_a_full_disk(folder: str | Path, what: str = "") -> Iterator[None]:
    """A full disk while writing under ``folder``, said with the folder: the error a write to an
    open file gives names no file ("No space left on device", and nothing to free).

    >>> with naming_a_full_disk("/data/runs"):
    ...     raise OSError(errno.ENOSPC, "No space left on device")
    Traceback (most recent call last):
    OSError: [Errno 28] No space left on device: '/data/runs'
    """
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC and not exc.filename:
            raise OSError(errno.ENOSPC, f"{exc.strerror or 'No space left on device'}{what}", str(folder)) from exc
        raise


def atomic_write(path: Path, data: bytes | Callable[[BinaryIO], Any]) -> None:
    """Write ``data`` (bytes, or a function that writes into the open binary file, e.g.
    ``lambda fh: np.save(fh, x)`` to stream a large array) to ``path`` through a temporary
    sibling and one rename: readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with naming_a_full_disk(path.parent), os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step; False where the OS or file system has no
    such call (the caller falls back to two renames)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(sibling: Path, dest: Path) -> int | None:
    """The pid in ``.<dest>.partial-<pid>-*`` or ``.<dest>.old-<pid>-*``; None for another name."""
    for kind in ("partial", "old"):
        head = f".{dest.name}.{kind}-"
        if sibling.name.startswith(head):
            pid = sibling.name[len(head) :].split("-", 1)[0]
            return int(pid) if pid.isdigit() else None
    return None


def recover_folder(dest: str | Path) -> list[str]:
    """Finish what an interrupted publish of ``dest`` left: if ``dest`` is missing and an earlier
    copy sits aside (``.<name>.old-*``), put the newest back; remove the temporary siblings whose
    writer is no longer running. Returns what it did, one line each (also logged)."""
    dest = Path(dest)
    if not dest.parent.is_dir():
        return []
    done = []
    dead = [
        p for p in dest.parent.glob(f".{dest.name}.*-*") if (pid := _owner(p, dest)) is not None and not _alive(pid)
    ]
    olds = sorted((p for p in dead if p.name.startswith(f".{dest.name}.old-")), key=lambda p: p.stat().st_mtime)
    if olds and not dest.exists():
        os.replace(olds.pop(), dest)
        done.append(f"restored {dest} from an interrupted publish")
    for p in dead:
        if p.exists():
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            done.append(f"removed {p.name}, left by an interrupted write")
    for line in done:
        logger.warning(line)
    _drop_stale_lock(dest.parent / f".{dest.name}.lock")
    return done


def _drop_stale_lock(lock: Path) -> None:
    """Remove a lock file that no process holds (its holder was killed)."""
    import fcntl

    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino == os.stat(lock).st_ino:
            lock.unlink()
    except (BlockingIOError, FileNotFoundError):
        pass
    finally:
        os.close(fd)


@contextmanager
def folder_lock(dest: str | Path, what: str = "folder", *, wait: bool = False) -> Iterator[None]:
    """Hold ``.<name>.lock`` beside ``dest`` (an advisory ``flock``, released by the OS when the
    process dies; the file is removed on release). A second writer asking for it gets a
    `FolderBusy` at once, or with ``wait`` (a result already computed, only its publishing left)
    waits for the first to finish. Re-entrant within one thread.

    >>> d = Path(tempfile.mkdtemp()) / "run"
    >>> with folder_lock(d), folder_lock(d):
    ...     (d.parent / ".run.lock").exists()
    True
    >>> (d.parent / ".run.lock").exists()
    False
    """
    import fcntl

    dest = Path(dest).absolute()
    key = (threading.get_ident(), str(dest))
    if key in _held:
        yield
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = dest.parent / f".{dest.name}.lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            if not wait:
                os.close(fd)
                raise FolderBusy(
                    f"{what} {dest} is being written by another process (pid {holder}); wait for it"
                    " to finish, or write elsewhere"
                ) from None
            logger.warning("waiting for process %s to finish writing %s", holder, dest)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file as we waited on it: lock the new one
    try:
        os.pwrite(fd, f"{os.getpid():<16}".encode(), 0)
        _held.add(key)
        try:
            yield
        finally:
            _held.discard(key)
            lock.unlink(missing_ok=True)  # before the release, so a waiter sees it gone and retries
    finally:
        os.close(fd)  # closing releases the flock


@contextmanager
def atomic_folder(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``dest``; on success it replaces ``dest`` atomically, on an
    error (or Ctrl-C) it is removed, so ``dest`` is never seen half-written and an earlier
    ``dest`` stays whole until the new one is complete. One writer at a time (`folder_lock`).

    >>> d = Path(tempfile.mkdtemp()) / "out"
    >>> with atomic_folder(d) as tmp:
    ...     _ = (tmp / "a.txt").write_text("1")
    >>> try:
    ...     with atomic_folder(d) as tmp:
    ...         _ = (tmp / "a.txt").write_text("2")
    ...         raise OSError("disk full")
    ... except OSError:
    ...     pass
    >>> (d / "a.txt").read_text(), sorted(p.name for p in d.parent.iterdir())
    ('1', ['out'])
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(dest, wait=True):
        recover_folder(dest)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.partial-{os.getpid()}-"))
        try:
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a published folder gets the usual mode
            with naming_a_full_disk(dest.parent):
                yield tmp
            _publish(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # after an exchange it holds the earlier folder


def _publish(tmp: Path, dest: Path) -> None:
    if not dest.exists():
        os.rename(tmp, dest)
        return
    if _exchange(tmp, dest):
        return
    # no atomic exchange here: move the earlier folder aside, then rename the new one in; a death
    # in between leaves .<name>.old-<pid>-*, which recover_folder restores at the next start
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{os.urandom(3).hex()}")
    os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except BaseException:
        os.replace(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
