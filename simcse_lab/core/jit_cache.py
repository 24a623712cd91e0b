"""numba's on-disk cache for the field's libraries that compile without it.

Some libraries compile numba functions in every new process: datashader (imported by datamapplot,
and through it by BERTopic) compiles its edge-bundling kernels eagerly, at import (seconds:
docs/performance.md), although the workbench never bundles edges. `import_with_jit_cache` imports such a
module with numba's ``cache=True`` as the default of every ``numba.jit`` / ``numba.njit`` that runs
during the import, so the first process compiles and saves and every later one loads the machine
code. The code is the same; a decorator that sets ``cache`` itself keeps
its choice. A module imported before (by the user, or by another library) is returned as it is.
umap-learn compiles lazily and is handled at its first fit (`simcse_lab.clustering.reduce`).

A cache file that cannot be read back (truncated by a full disk, garbled, written by another
numba) would make numba fail with an ``UnpicklingError`` in every later process; `guard_numba_cache`
makes such a file a miss instead: it is named in a warning, removed, and the code compiled again.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

__all__ = ["guard_numba_cache", "import_with_jit_cache"]


def _damaged(path: str, exc: BaseException) -> None:
    logger.warning("numba cache file %s cannot be read (%s); removed, compiling again", path, type(exc).__name__)
    try:
        os.unlink(path)
    except OSError:
        pass


def guard_numba_cache() -> None:
    """Make a numba cache file that cannot be read a miss (warned about and removed) rather than an
    error in every later process. Idempotent; numba's own misses (no file, another version, stale
    source) are unchanged."""
    from numba.core import caching

    cls = caching.IndexDataCacheFile
    if getattr(cls, "_simcse_lab_guarded", False):
        return
    load_index, load_data = cls._load_index, cls._load_data

    def _load_index(self: Any) -> dict:
        try:
            return load_index(self)
        except OSError:
            raise
        except Exception as exc:  # UnpicklingError, EOFError, ValueError, ...: a damaged index
            _damaged(self._index_path, exc)
            return {}

    def _load_data(self: Any, name: str) -> Any:
        try:
            return load_data(self, name)
        except OSError:
            raise
        except Exception as exc:  # a damaged data file: numba reads an OSError here as a miss
            _damaged(self._data_path(name), exc)
            raise OSError(f"damaged numba cache file {self._data_path(name)}") from exc

    cls._load_index, cls._load_data = _load_index, _load_data
    cls._simcse_lab_guarded = True


def _in_a_file(func: Any) -> bool:
    return os.path.isfile(getattr(getattr(func, "__code__", None), "co_filename", ""))


def import_with_jit_cache(name: str) -> ModuleType:
    """``importlib.import_module(name)``, with numba's cache on for what the import compiles."""
    if name in sys.modules:
        return sys.modules[name]
    import numba

    guard_numba_cache()

    real = {"jit": numba.jit, "njit": numba.njit}

    def caching(decorator: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if "cache" in kwargs:
                return decorator(*args, **kwargs)
            if args and inspect.isfunction(args[0]):  # @numba.njit, no arguments
                return decorator(*args, cache=_in_a_file(args[0]), **kwargs)
            plain, cached = decorator(*args, **kwargs), decorator(*args, cache=True, **kwargs)
            # a decorator made now may be applied later, also to code generated at run time (datashader's
            # ngjit), which numba cannot cache: only a function from a file gets the cache
            return lambda func: (cached if _in_a_file(func) else plain)(func)

        return wrapped

    numba.jit, numba.njit = caching(real["jit"]), caching(real["njit"])
    try:
        return importlib.import_module(name)
    finally:
        numba.jit, numba.njit = real["jit"], real["njit"]
