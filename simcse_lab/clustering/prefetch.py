"""Seeded UMAP fits in a worker process, beside the rest of the run.

umap-learn fits a seeded projection on one core (its parallel layout is not reproducible, so a
``random_state`` turns it off), and on a machine with more cores the others wait while each model
is projected. `ProjectionPool` hands every model's seeded fit to a worker process (up to the run's
``threads`` at once) as soon as its vectors exist; the run goes on encoding the next model and
clustering the one before, on one thread (`ProjectionPool.beside_workers`), and takes
each projection when it needs it. A fit still waiting in the queue when it is needed is taken back
and done here. One worker per thread, not one fewer: else the last model's fit waits in the queue
behind the one before while the run has nothing left to do but wait for it; single-threaded
processes share cores without waiting on each other (measured: docs/performance.md, "Why the code
is built this way").

The worker runs the same reducer object (the same seeded umap-learn code, numba's cached machine
code, one thread) and stores its projection in the same cache, so a run gives the projection a fit
here would give (``tests/clustering/test_clusterers.py`` checks them equal). Not used with one thread
(``threads: 1``), for cuML and sample fits, or for a projection that is in the cache already.

The worker is handed the reducer's settings as JSON and the vectors as ``.npy`` (no pickle is
loaded on either side) in a scratch folder ``umap-worker-<run pid>-*`` under the temporary folder,
and hands back ``.npy`` or the error as JSON. It dies with the run: the kernel kills it when its
parent ends (``PR_SET_PDEATHSIG`` on Linux; elsewhere it checks its parent), so a ``kill -9`` of a
run leaves no worker behind, and a scratch folder whose run is gone is removed by the next run.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from ..core.publish import naming_a_full_disk
from ..core.runtime import run_threads
from .reduce import UMAPReducer

logger = logging.getLogger(__name__)

__all__ = ["ProjectionPool"]

_ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}


class ProjectionPool:
    """Fits seeded CPU UMAP projections in ``workers`` processes at a time; ``workers=0`` fits everything here.

    ``submit(name, x, reducers)`` queues the fits of one model's vectors; ``fit_transform(name,
    reducer, x)`` returns that projection, from its worker or fitted here. Each fit is a fresh
    ``python -m simcse_lab.clustering.prefetch`` process (not multiprocessing, which re-imports a
    user's script in the child). Use as a context manager: on the way out, fits nobody asked for are
    cancelled and their processes stopped."""

    def __init__(self, workers: int) -> None:
        self.workers = max(0, int(workers))
        self._threads: ThreadPoolExecutor | None = None
        self._jobs: dict[tuple[str, str], Future] = {}
        self._procs: set[subprocess.Popen] = set()

    @classmethod
    def for_threads(cls, threads: int | None) -> ProjectionPool:
        """One worker per thread of the run (None: what `configure_threads` chose, the cores other
        processes leave free); none with one thread."""
        n = run_threads(threads)
        return cls(n if n > 1 else 0)

    def __enter__(self) -> ProjectionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def beside_workers(self) -> AbstractContextManager:
        """While the run clusters beside the workers: one thread for its BLAS/OpenMP pools (KMeans,
        silhouettes). Two OpenMP threads sharing the cores with a UMAP worker wait on each other, and
        at a few thousand texts one thread is faster even alone (docs/performance.md). Decided by
        the worker count, not by whether a worker is busy now, so a rerun gets the same threads."""
        if not self.workers:
            return nullcontext()
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1)

    @staticmethod
    def eligible(reducer: Any, n: int) -> bool:
        """Whether a fit goes to a worker: a seeded umap-learn fit of all ``n`` points (a sample fit
        transforms the rest through the run's engine; cuML fits on the GPU)."""
        return (
            isinstance(reducer, UMAPReducer)
            and reducer.backend == "cpu"
            and reducer.random_state is not None
            and not reducer.sampled(n)
            and n >= 4
        )

    def submit(self, name: str, x: np.ndarray, reducers: list[Any]) -> None:
        if not self.workers:
            return
        for reducer in reducers:
            key = (name, repr(reducer))
            if key in self._jobs or not self.eligible(reducer, len(x)):
                continue
            found = reducer.cached(x)
            if found is not None:  # read once: fit_transform hands this one out
                self._jobs[key] = Future()
                self._jobs[key].set_result(found)
                continue
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="umap-worker")
            self._jobs[key] = self._threads.submit(self._in_process, dataclasses.replace(reducer, engine=None), x)

    def fit_transform(self, name: str, reducer: Any, x: np.ndarray) -> np.ndarray:
        job = self._jobs.pop((name, repr(reducer)), None)
        if job is not None and not job.cancel():  # running or done in a worker: its projection
            try:
                return job.result()
            except _WorkerDied as exc:  # e.g. killed for memory: fit here instead
                logger.warning("%s; fitting the projection of %s here", exc, name)
        return reducer.fit_transform(x)

    def _in_process(self, reducer: UMAPReducer, x: np.ndarray) -> np.ndarray:
        remove_orphaned_scratch()
        with tempfile.TemporaryDirectory(prefix=f"{_SCRATCH}{os.getpid()}-") as tmp:
            job = Path(tmp)
            with naming_a_full_disk(job.parent, " (the temporary folder; set TMPDIR to a folder on another disk)"):
                np.save(job / "x.npy", np.asarray(x), allow_pickle=False)
                (job / "reducer.json").write_text(json.dumps(_settings(reducer)))
            package_root = str(Path(__file__).resolve().parents[2])  # this simcse_lab, wherever it was imported from
            env = {
                **os.environ,
                **_ONE_THREAD,
                "PYTHONPATH": os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])]),
            }
            proc = subprocess.Popen(
                [sys.executable, "-m", __name__, str(job), str(os.getpid())],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self._procs.add(proc)
            try:
                _, err = proc.communicate()
            finally:
                self._procs.discard(proc)
            if (job / "error.json").exists():
                raise _error_from(json.loads((job / "error.json").read_text()))
            if not (job / "out.npy").exists():
                last = (err.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
                raise _WorkerDied(f"the UMAP worker process ended with exit code {proc.returncode} ({last})")
            return np.load(job / "out.npy", allow_pickle=False)

    def close(self) -> None:
        for job in self._jobs.values():
            job.cancel()
        self._jobs.clear()
        for proc in list(self._procs):  # a fit still running is not wanted (an error or Ctrl-C ended the run)
            proc.kill()
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
            self._threads = None


class _WorkerDied(RuntimeError):
    pass


_SCRATCH = "umap-worker-"


def _settings(reducer: UMAPReducer) -> dict[str, Any]:
    """What a worker needs to rebuild ``reducer``: its settings (no engine: a worker fits here)."""
    settings = {f.name: getattr(reducer, f.name) for f in dataclasses.fields(reducer) if f.init and f.name != "engine"}
    if settings.get("cache_dir") is not None:
        settings["cache_dir"] = str(settings["cache_dir"])
    return settings


def _error_from(record: dict[str, str]) -> Exception:
    """The worker's error as the run raises it: a built-in exception type as itself, any other as a
    RuntimeError that names it."""
    kind = getattr(builtins, record["type"], None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        return kind(record["message"])
    return RuntimeError(f"{record['type']}: {record['message']}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_orphaned_scratch(root: str | Path | None = None) -> list[Path]:
    """Remove the scratch folders of workers whose run is gone (killed before it could clean up)."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{_SCRATCH}*"):
        pid = folder.name[len(_SCRATCH) :].split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` ends (Linux), and end now if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the run ended before the signal was set up
        os._exit(1)


def _work(job: Path, parent: int) -> None:
    """The worker: fit the reducer rebuilt from ``reducer.json`` on ``x.npy``; write ``out.npy``, or
    the error as ``error.json``."""
    _die_with(parent)
    x = np.load(job / "x.npy", allow_pickle=False)
    try:
        projection = UMAPReducer(**json.loads((job / "reducer.json").read_text())).fit_transform(x)
    except Exception as exc:  # handed back to the run, which raises it
        (job / "error.json").write_text(json.dumps({"type": type(exc).__name__, "message": str(exc)}))
        return
    part = job / "out.part.npy"
    np.save(part, np.asarray(projection), allow_pickle=False)
    part.replace(job / "out.npy")


if __name__ == "__main__":
    _work(Path(sys.argv[1]), int(sys.argv[2]))
