"""Thread settings and the UMAP projection cache."""

import numpy as np

from simcse_lab.clustering.reduce import UMAPReducer
from simcse_lab.core.runtime import available_cores, configure_threads, run_threads, training_threads


def test_configure_threads_sets_torch_and_the_environment():
    import os

    import torch

    try:
        assert configure_threads(1) == 1
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        n = configure_threads(None)
    assert 1 <= n <= available_cores() and torch.get_num_threads() == n == run_threads(None)


def test_threads_left_to_the_run_are_the_cores_other_processes_leave_free():
    """A second busy process on the machine: the run takes the cores it leaves (torch, BLAS and the
    UMAP workers alike) instead of as many threads as there are cores, which made OpenMP threads
    wait on each other (5-6x the idle time beside one busy process on 2 cores)."""
    import subprocess
    import sys
    import time

    import pytest
    import torch

    from simcse_lab.clustering.prefetch import ProjectionPool
    from simcse_lab.core import runtime

    if available_cores() < 2:
        pytest.skip("needs 2 cores")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        runtime._FREE.clear()  # a reading of the idle machine from an earlier test is not reused
        n = configure_threads(None)
        assert n <= available_cores() - 1 and torch.get_num_threads() == n
        assert ProjectionPool.for_threads(None).workers == (n if n > 1 else 0)
        # training alone keeps every core: its result depends on the thread count, not on the load
        with training_threads() as t:
            assert t == available_cores() == torch.get_num_threads()
        assert torch.get_num_threads() == n
        assert configure_threads(1) == 1 == run_threads(None)  # a number set by the user is kept,
        with training_threads() as t:
            assert t == 1  # for training too
    finally:
        busy.kill()
        busy.wait()
        configure_threads(None)


def test_umap_projection_is_cached_per_input_and_parameters(tmp_path, monkeypatch):
    calls = []

    def fake_fit(self, x):
        calls.append((self.n_components, x.shape))
        return np.random.default_rng(len(calls)).normal(size=(len(x), self.n_components)).astype(np.float32)

    monkeypatch.setattr(UMAPReducer, "_fit", fake_fit)
    x = np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32)
    first = UMAPReducer(n_components=3, cache_dir=tmp_path).fit_transform(x)
    again = UMAPReducer(n_components=3, cache_dir=tmp_path).fit_transform(x)
    np.testing.assert_array_equal(first, again)
    assert len(calls) == 1
    UMAPReducer(n_components=2, cache_dir=tmp_path).fit_transform(x)  # other parameters: a new fit
    UMAPReducer(n_components=3, cache_dir=tmp_path).fit_transform(x + 1)  # other input: a new fit
    UMAPReducer(n_components=3, cache_dir=tmp_path, random_state=None).fit_transform(x)  # unseeded: never cached
    assert len(calls) == 4
    # a corrupted entry is recomputed, not read
    for npy in tmp_path.glob("*.npy"):
        npy.write_bytes(npy.read_bytes()[:-8])
    UMAPReducer(n_components=3, cache_dir=tmp_path).fit_transform(x)
    assert len(calls) == 5


def test_a_library_that_compiles_at_import_compiles_once_then_loads_from_numba_cache(tmp_path):
    """datashader (through datamapplot and BERTopic) compiles numba kernels at import, without cache:
    imported through `import_with_jit_cache`, a second process loads them instead."""
    import subprocess
    import sys

    (tmp_path / "eager_lib.py").write_text(
        "import numba\n\n@numba.jit(numba.float64(numba.float64), nopython=True)\ndef twice(x):\n    return 2 * x\n\n"
        "ngjit = numba.jit(nopython=True, nogil=True)  # applied later to generated code, as datashader does\n"
        "namespace = {}\nexec('def thrice(x):\\n    return 3 * x', namespace)\nthrice = ngjit(namespace['thrice'])\n"
    )
    script = (
        "import sys\nsys.path.insert(0, {path!r})\nfrom simcse_lab.core.jit_cache import import_with_jit_cache\n"
        "lib = import_with_jit_cache('eager_lib') if {cached} else __import__('eager_lib')\n"
        "print(sum(lib.twice.stats.cache_hits.values()), lib.twice(2.5) + lib.thrice(0.0))\n"
    )

    def run(cached: bool) -> list[str]:
        r = subprocess.run(
            [sys.executable, "-c", script.format(path=str(tmp_path), cached=cached)], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout.split()

    assert run(False) == ["0", "5.0"] and run(False) == ["0", "5.0"]  # as the library is: compiled every time
    assert run(True) == ["0", "5.0"]  # compiled and saved
    assert run(True) == ["1", "5.0"]  # loaded


def test_a_damaged_numba_cache_file_is_a_miss_named_in_a_warning(tmp_path):
    """A cache file cut short (a full disk) or garbled made numba fail with an UnpicklingError in
    every later process: it is a miss now, named, removed and compiled again."""
    import subprocess
    import sys

    (tmp_path / "cached_lib.py").write_text(
        "import numba\n\n@numba.njit(cache=True)\ndef twice(x):\n    return 2 * x\n"
    )
    script = (
        "import logging, sys\nlogging.basicConfig(level=logging.WARNING)\nsys.path.insert(0, {path!r})\n"
        "from simcse_lab.core.jit_cache import guard_numba_cache\nguard_numba_cache()\n"
        "import cached_lib\nprint(cached_lib.twice(2.5), sum(cached_lib.twice.stats.cache_hits.values()))\n"
    )

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", script.format(path=str(tmp_path))], capture_output=True, text=True, timeout=120
        )

    assert run().stdout.split() == ["5.0", "0"]  # compiled and saved
    assert run().stdout.split() == ["5.0", "1"]  # loaded
    (cache,) = (tmp_path / "__pycache__").glob("cached_lib.twice-*.nbi")
    for damaged in (cache, *(tmp_path / "__pycache__").glob("cached_lib.twice-*.nbc")):
        damaged.write_bytes(damaged.read_bytes()[:7] + b"\x00garbled")
    r = run()
    assert r.returncode == 0 and r.stdout.split() == ["5.0", "0"], r.stderr[-2000:]  # compiled again
    assert "numba cache file" in r.stderr and "cannot be read" in r.stderr and "Traceback" not in r.stderr
    assert run().stdout.split() == ["5.0", "1"]  # and saved again


def test_threads_chosen_again_leave_numbas_started_pool_alone():
    """numba sizes its thread pool once; changing NUMBA_NUM_THREADS after its threads started made
    its next config reload (datashader's import compiles) fail with a RuntimeError."""
    import subprocess
    import sys

    code = (
        "import numba, numpy as np\n"
        "from simcse_lab.core.runtime import configure_threads\n"
        "configure_threads(1)\n"
        "f = numba.njit(parallel=True)(lambda x: x.sum())\nf(np.ones(10))\n"
        "configure_threads(2)\n"
        "numba.core.config.reload_config()\nprint(numba.get_num_threads())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-1500:]
