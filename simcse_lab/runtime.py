"""CPU thread settings for every pool the pipeline uses: torch, numba, BLAS/OpenMP, ONNX Runtime.

Each library sizes its own pool; left alone, they can stack (torch's intra-op threads plus an
OpenMP BLAS pool plus numba's workers) or, worse, a library imported late reads no setting at
all. :func:`configure_threads` sets one number everywhere: environment variables for libraries
not imported yet, the libraries' own setters for those already imported. ONNX Runtime sessions
take it from :func:`simcse_lab.backends.select_backend` (``threads=``).

>>> import os
>>> n = configure_threads(1)
>>> n, os.environ["OMP_NUM_THREADS"]
(1, '1')
>>> n = configure_threads(None)  # back to every core
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["available_cores", "configure_threads", "cpu_name", "package_versions"]

_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def package_versions(packages: Iterable[str]) -> dict[str, str]:
    """Installed version of each distribution, or ``"not installed"``."""
    out = {}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def configure_threads(n: int | None = None) -> int:
    """Use ``n`` threads (None: :func:`available_cores`) in every pool; return ``n``."""
    cores = available_cores()
    n = cores if n is None else int(n)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    for var in _ENV:
        os.environ[var] = str(min(n, cores) if var == "NUMBA_NUM_THREADS" else n)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    logger.debug("threads: %d (of %d cores)", n, cores)
    return n
