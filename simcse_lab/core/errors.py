"""What counts as the user's error, and how it is said: one line, naming the file and the problem.

Bad input, config, files, a full disk, missing permissions and damaged model files are things a
user can cause and fix; the CLI (exit status 2), the sweep (``error.txt``) and the notebooks
(`one_line_errors`) show them as one line. Anything else is a bug in simcse-lab and keeps
its traceback.
"""

from __future__ import annotations

import errno
import tempfile
from typing import Any

from .assets import AssetError

__all__ = ["EXPECTED_ERRORS", "error_line", "one_line_errors"]

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, AssetError, ImportError)


def error_line(exc: BaseException) -> str:
    """One line for an expected error; an OS error names its file and the problem.

    >>> error_line(PermissionError(13, "Permission denied", "/runs/x"))
    'Permission denied: /runs/x'
    >>> error_line(ValueError("bad value\\nmore"))
    'bad value more'
    """
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return (
            f"{exc.strerror or 'No space left on device'} (the disk of a folder being written is full: data_dir,"
            f" runs_dir, or the temporary folder {tempfile.gettempdir()}, which TMPDIR moves)"
        )
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def one_line_errors() -> bool:
    """In a notebook (IPython kernel), show `EXPECTED_ERRORS` as the one line
    ``simcse-lab: error: ...`` instead of a traceback through the library; other exceptions keep
    theirs. Papermill then reports the failing cell with that line. Returns whether a kernel was
    found (outside IPython this does nothing).

    >>> one_line_errors()
    False
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False

    def show(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
        stb = [f"simcse-lab: error: {error_line(value)}"]
        # IPython's wrapper only returns what a custom handler gives; showing it (which the kernel
        # publishes as the cell's error output, with its name and value) is the handler's job
        shell._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc(EXPECTED_ERRORS, show)
    return True
