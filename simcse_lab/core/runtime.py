"""The run's environment: CPU thread settings for every pool the pipeline uses (torch, numba,
BLAS/OpenMP, ONNX Runtime), the versions and hardware a run records, and a step timer.

Each library sizes its own pool; left alone, they can stack (torch's intra-op threads plus an
OpenMP BLAS pool plus numba's workers) or, worse, a library imported late reads no setting at
all. `configure_threads` sets one number everywhere: environment variables for libraries
not imported yet, the libraries' own setters for those already imported; ONNX Runtime sessions
and the UMAP worker processes read it back with `run_threads`.

Left to itself (``threads: None``) the number is the cores other processes leave free when the run
starts (`free_cores`), not the machine's core count: an OpenMP pool with more threads than free
cores makes its threads wait on each other at every barrier while another process holds a core
(`bench/explore.py` measures a run beside a busy one). That count changes no result of encoding,
projecting or clustering (the encoder's vectors and KMeans' labels are bitwise the same on one
thread and on two). Training is the exception: its gradients are summed in another order on
another number of threads, so a model trained on one thread differs from one trained on two in
the last bits, and UMAP can magnify that. Training therefore runs on a count that does not depend
on the load (`training_threads`: ``threads`` when set, else every core), so the same config
trains the same model whether or not the machine was busy.

>>> import os
>>> n = configure_threads(1)
>>> n, os.environ["OMP_NUM_THREADS"], run_threads(None)
(1, '1', 1)
>>> n = configure_threads(None)  # back to the free cores
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "Timer",
    "available_cores",
    "busy_cores",
    "configure_threads",
    "cpu_name",
    "free_cores",
    "hardware",
    "package_versions",
    "quiet",
    "run_threads",
    "set_quiet",
    "training_threads",
    "cpu_flags",
    "versions",
]

_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


QUIET_ENV = "SIMCSE_LAB_QUIET"


def set_quiet() -> None:
    """Quiet from now on, in this process and those it starts: no progress bar, no trainer log
    lines, no library warnings; only this package's warnings and the result (the CLI's ``-q``)."""
    import warnings

    os.environ[QUIET_ENV] = "1"
    os.environ["TQDM_DISABLE"] = "1"  # read when tqdm is first imported (model-card and dataset bars)
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"  # its load reports, read when transformers is imported
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # worker processes and kernels
    warnings.filterwarnings("ignore")
    if "transformers" in sys.modules:  # already imported (main called in-process)
        sys.modules["transformers"].utils.logging.disable_progress_bar()
        sys.modules["transformers"].utils.logging.set_verbosity_error()


def quiet() -> bool:
    """Whether `set_quiet` was called (here or in a parent process)."""
    return os.environ.get(QUIET_ENV) == "1"


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def busy_cores(sample_s: float = 0.25) -> float:
    """How many cores other processes kept busy over the next ``sample_s`` seconds (this process's
    own use left out), read from ``/proc/stat``; 0 where that cannot be read."""

    def read() -> tuple[int, int, float, float]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        own = os.times()
        # user nice system idle iowait irq softirq steal; guest time is counted in user already
        return sum(values), values[3] + values[4], own.user + own.system, time.monotonic()

    try:
        total0, idle0, own0, t0 = read()
        time.sleep(sample_s)
        total1, idle1, own1, t1 = read()
    except (OSError, ValueError, IndexError):
        return 0.0
    if total1 <= total0 or t1 <= t0:
        return 0.0
    machine = ((total1 - total0) - (idle1 - idle0)) / (total1 - total0) * (os.cpu_count() or 1)
    return max(0.0, machine - (own1 - own0) / (t1 - t0))


_FREE: list[tuple[float, int]] = []  # (when, free cores) of the last reading


def free_cores(max_age_s: float = 10.0) -> int:
    """The cores of this process's affinity that other processes leave free now (at least 1); a
    reading younger than ``max_age_s`` is reused (the CLI and the run it starts both ask)."""
    if _FREE and time.monotonic() - _FREE[0][0] < max_age_s:
        return _FREE[0][1]
    cores = available_cores()
    free = max(1, min(cores, cores - round(busy_cores())))
    _FREE[:] = [(time.monotonic(), free)]
    return free


_CONFIGURED: list[int] = []  # the number the last configure_threads set
_ASKED: list[int | None] = [None]  # the number it was asked for (None: chosen from the free cores)


def run_threads(threads: int | None) -> int:
    """``threads`` when set, else what `configure_threads` chose for this run (else every core)."""
    if threads is not None:
        return int(threads)
    return _CONFIGURED[-1] if _CONFIGURED else available_cores()


def package_versions(packages: Iterable[str]) -> dict[str, str]:
    """Installed version of each distribution, or ``"not installed"``."""
    return {pkg: _version(pkg) for pkg in packages}


@lru_cache(maxsize=None)
def _version(pkg: str) -> str:  # a distribution's metadata is looked up once per process
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The vector instruction sets the CPU offers (AVX2, AVX-512, AMX, ...), which set how fast
    each backend runs: a speed record is only valid for the same set."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return sorted(f for f in have if f.startswith(("avx", "amx", "sse4", "fma", "vnni")))
    except OSError:
        pass
    return [platform.machine()]


def configure_threads(n: int | None = None) -> int:
    """Use ``n`` threads (None: the cores other processes leave free, `free_cores`) in every
    pool; return the number."""
    cores = available_cores()
    if n is None:
        _ASKED[:] = [None]
        n = free_cores()
        if n < cores:
            logger.info(
                "threads: %d of %d cores, as other processes keep %d busy (set threads to choose)", n, cores, cores - n
            )
    else:
        _ASKED[:] = [int(n)]
    n = int(n)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    _CONFIGURED[:] = [n]
    for var in _ENV:
        if var == "NUMBA_NUM_THREADS" and "numba" in sys.modules:
            # numba's pool is sized once; a changed variable after its threads started is an error
            # at numba's next config reload: the count in use is set below instead
            continue
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


@contextmanager
def training_threads() -> Iterator[int]:
    """torch's threads while a model trains: the ``threads`` setting when the user set one, else
    every core, whatever other processes do (see the module docstring); restored afterwards."""
    import torch

    n = _ASKED[0] or available_cores()
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


class Timer:
    """Wall seconds per named step, summed over repeats.

    >>> t = Timer()
    >>> with t("load"):
    ...     pass
    >>> list(t.seconds)
    ['load']
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = round(self.seconds.get(step, 0.0) + time.perf_counter() - t0, 3)
            logger.info("%s: %.1fs", step, time.perf_counter() - t0)


def versions() -> dict[str, str]:
    """The versions a run folder records."""
    return package_versions(
        (
            "simcse-lab",
            "torch",
            "sentence-transformers",
            "transformers",
            "umap-learn",
            "hdbscan",
            "scikit-learn",
            "numpy",
            "pandas",
            "numba",
            "datasets",
            "accelerate",
        )
    )


def hardware() -> dict[str, Any]:
    """CPU, cores, platform and (when this process already imported torch) its threads and GPU."""
    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "gpu": None,
    }
    # only ask torch when this run already imported it: a fully cached rerun never needs it (importing it costs seconds)
    if "torch" in sys.modules:
        import torch

        from .devices import cuda_available

        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if cuda_available() else None
    return info
