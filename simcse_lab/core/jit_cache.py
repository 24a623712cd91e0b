"""numba's on-disk cache for the field's libraries that compile without it.

Some libraries compile numba functions in every new process: datashader (imported by datamapplot,
and through it by BERTopic) compiles its edge-bundling kernels eagerly, at import (seconds:
docs/performance.md), although the workbench never bundles edges. `import_with_jit_cache` imports such a
module with numba's ``cache=True`` as the default of every ``numba.jit`` / ``numba.njit`` that runs
during the import, so the first process compiles and saves and every later one loads the machine
code. The code is the same; a decorator that sets ``cache`` itself keeps
its choice. A module imported before (by the user, or by another library) is returned as it is.
umap-learn compiles lazily and is handled at its first fit (`simcse_lab.clustering.reduce`).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from types import ModuleType
from typing import Any

__all__ = ["import_with_jit_cache"]


def _in_a_file(func: Any) -> bool:
    return os.path.isfile(getattr(getattr(func, "__code__", None), "co_filename", ""))


def import_with_jit_cache(name: str) -> ModuleType:
    """``importlib.import_module(name)``, with numba's cache on for what the import compiles."""
    if name in sys.modules:
        return sys.modules[name]
    import numba

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
