import numpy as np
import pandas as pd
import pytest

from simcse_lab.clustering.clusterers import (
    HDBSCANClusterer,
    KMeansClusterer,
    default_min_cluster_size,
    make_clusterer,
)
from simcse_lab.core.config import ClusterConfig
from simcse_lab.evaluation.scoring import score_clustering


def blobs(n_per=40, k=3, d=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=20, size=(k, d))
    x = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centers]).astype(np.float32)
    return x, np.repeat(np.arange(k), n_per)


def test_kmeans_recovers_blobs():
    x, y = blobs()
    labels = KMeansClusterer(n_clusters=3, random_state=0).fit_predict(x)
    assert score_clustering(y, labels)["v_measure"] == pytest.approx(1.0)


def test_hdbscan_soft_assigns_every_point_and_reports_noise():
    x, y = blobs()
    outlier = np.full((1, x.shape[1]), 500.0, dtype=np.float32)
    x = np.concatenate([x, outlier])
    c = HDBSCANClusterer(min_cluster_size=10, min_samples=5, soft=True)
    labels = c.fit_predict(x)
    assert labels.min() >= 0 and c.n_clusters_ == 3
    assert c.hard_labels_[-1] == -1 and c.noise_fraction_ > 0
    assert score_clustering(y, labels[:-1])["v_measure"] == pytest.approx(1.0)
    hard = HDBSCANClusterer(min_cluster_size=10, min_samples=5, soft=False).fit_predict(x)
    assert hard[-1] == -1


def test_hdbscan_all_noise_is_one_cluster_not_a_crash():
    x = np.random.default_rng(0).normal(size=(30, 50)).astype(np.float32)
    c = HDBSCANClusterer(min_cluster_size=25, min_samples=10)
    labels = c.fit_predict(x)
    assert c.n_clusters_ == 0 and c.noise_fraction_ == 1.0 and set(labels) == {0}


def test_factory_defaults():
    cfg = ClusterConfig()
    km = make_clusterer("kmeans", cfg, n_samples=1000, n_classes=6)
    assert isinstance(km, KMeansClusterer) and km.n_clusters == 6
    hd = make_clusterer("hdbscan", cfg, n_samples=40_000, n_classes=6)
    assert hd.min_cluster_size == 1000 == default_min_cluster_size(40_000)  # the seed's setting
    with pytest.raises(ValueError, match="unknown clusterer 'dbscan'"):
        make_clusterer("dbscan", cfg, n_samples=10, n_classes=2)
    # without labels and without a k, k is chosen without labels when the data is seen
    assert make_clusterer("kmeans", cfg, n_samples=10, n_classes=None).n_clusters == "auto"
    with pytest.raises(ValueError, match="at least n_clusters"):
        KMeansClusterer(n_clusters=5).fit_predict(np.zeros((3, 2)))


def test_identity_reducer_and_factory():
    from simcse_lab.clustering.reduce import IdentityReducer, UMAPReducer, make_reducer
    from simcse_lab.core.config import ReduceConfig

    x = np.ones((5, 3), dtype=np.float64)
    out = make_reducer("raw", ReduceConfig()).fit_transform(x)
    assert isinstance(make_reducer("raw", ReduceConfig()), IdentityReducer)
    assert out.dtype == np.float32 and out.shape == (5, 3)
    assert isinstance(make_reducer("umap", ReduceConfig()), UMAPReducer)
    with pytest.raises(ValueError, match="unknown space 'pca'"):
        make_reducer("pca", ReduceConfig())


@pytest.mark.slow
def test_umap_keeps_blobs_apart():
    from simcse_lab.clustering.reduce import UMAPReducer

    x, y = blobs(n_per=30, d=20)
    emb = UMAPReducer(n_components=2, n_neighbors=10, random_state=0).fit_transform(x)
    assert emb.shape == (90, 2) and emb.dtype == np.float32
    labels = KMeansClusterer(n_clusters=3, random_state=0).fit_predict(emb)
    assert score_clustering(y, labels)["v_measure"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 4 points"):
        UMAPReducer().fit_transform(x[:3])


def test_extra_labelings_come_from_the_clusterer():
    x = np.r_[np.random.default_rng(0).normal(0, 0.1, (30, 2)), np.random.default_rng(1).normal(5, 0.1, (30, 2))]
    soft = HDBSCANClusterer(min_cluster_size=5, soft=True)
    labels = soft.fit_predict(x)
    assert list(soft.extra_labels_) == ["hdbscan-hard"]
    assert np.array_equal(soft.extra_labels_["hdbscan-hard"], soft.hard_labels_) and len(labels) == 60
    hard = HDBSCANClusterer(min_cluster_size=5, soft=False)
    hard.fit_predict(x)
    assert hard.extra_labels_ == {}
    km = KMeansClusterer(n_clusters=2)
    km.fit_predict(x)
    assert km.extra_labels_ == {}


# --------------------------------------------------------------------------- fits that scale


def _blobs(n: int = 6000, seed: int = 0, std: float = 2.5):
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=n, centers=5, n_features=16, cluster_std=std, random_state=seed)
    return x.astype(np.float32), y


def _v(y, labels) -> float:
    from sklearn.metrics import v_measure_score

    return v_measure_score(y, labels)


def test_sample_fit_hdbscan_and_minibatch_kmeans_stay_close_to_the_full_fit():
    from simcse_lab.clustering.clusterers import HDBSCANClusterer, KMeansClusterer

    x, y = _blobs()
    full = _v(y, KMeansClusterer(n_clusters=5, random_state=0).fit_predict(x))
    mini = KMeansClusterer(n_clusters=5, random_state=0, minibatch_threshold=2000)
    assert abs(_v(y, mini.fit_predict(x)) - full) <= 0.02
    x, y = _blobs(std=1.0)  # blobs both HDBSCAN fits separate, so the test is of the assignment
    full_h = HDBSCANClusterer(min_cluster_size=150, min_samples=10)
    sampled_h = HDBSCANClusterer(min_cluster_size=150, min_samples=10, fit_sample=1500, sample_threshold=2000)
    assert sampled_h.sampled(len(x)) and not full_h.sampled(len(x))
    lf, ls = full_h.fit_predict(x), sampled_h.fit_predict(x)
    assert abs(_v(y, ls) - _v(y, lf)) <= 0.02, (_v(y, ls), _v(y, lf))
    assert abs(_v(y, sampled_h.extra_labels_["hdbscan-hard"]) - _v(y, full_h.extra_labels_["hdbscan-hard"])) <= 0.02


@pytest.mark.slow
def test_sample_fit_umap_stays_close_to_the_full_fit(tmp_path):
    from simcse_lab.clustering.clusterers import KMeansClusterer
    from simcse_lab.clustering.reduce import UMAPReducer

    x, y = _blobs(2500)
    full = UMAPReducer(n_components=5, random_state=0).fit_transform(x)
    reducer = UMAPReducer(
        n_components=5, random_state=0, fit_sample=800, sample_threshold=1000, transform_chunk=600, cache_dir=tmp_path
    )
    sampled = reducer.fit_transform(x)
    assert sampled.shape == full.shape and np.isfinite(sampled).all()
    km = KMeansClusterer(n_clusters=5, random_state=0)
    assert abs(_v(y, km.fit_predict(sampled)) - _v(y, km.fit_predict(full))) <= 0.02
    # a sample fit is cached under its own key (a full fit keeps the key it always had)
    assert np.array_equal(reducer.fit_transform(x), sampled) and len(list(tmp_path.glob("*.npy"))) == 1


def test_backend_cpu_and_auto_without_a_gpu():
    from simcse_lab.clustering.backend import resolve_backend

    assert resolve_backend("cpu") == "cpu"
    try:
        import cuml  # noqa: F401
    except ImportError:
        assert resolve_backend("auto") == "cpu"
        with pytest.raises(ValueError, match="cluster.backend=cuml needs RAPIDS cuML"):
            resolve_backend("cuml")


def _cuml_gpu() -> bool:
    try:
        from simcse_lab.clustering.backend import resolve_backend

        return resolve_backend("auto") == "cuml"
    except Exception:
        return False


@pytest.mark.skipif(not _cuml_gpu(), reason="needs RAPIDS cuML and a CUDA GPU (bench/gpu_check.sh runs it)")
def test_cuml_backend_agrees_with_cpu_on_blobs():
    from simcse_lab.clustering.clusterers import HDBSCANClusterer, KMeansClusterer
    from simcse_lab.clustering.reduce import UMAPReducer

    x, y = _blobs(std=1.0)
    for make in (
        lambda b: KMeansClusterer(n_clusters=5, random_state=0, backend=b),
        lambda b: HDBSCANClusterer(min_cluster_size=150, backend=b),
    ):
        assert abs(_v(y, make("cuml").fit_predict(x)) - _v(y, make("cpu").fit_predict(x))) <= 0.02
    proj = UMAPReducer(n_components=5, random_state=0, backend="cuml").fit_transform(x)
    km = KMeansClusterer(n_clusters=5)
    assert abs(_v(y, km.fit_predict(proj)) - _v(y, km.fit_predict(x))) <= 0.05


def test_clusterings_and_their_scores_are_cached_and_verified(tmp_path, tiny_csv, monkeypatch, caplog):
    """A rerun on cached embeddings reads every clustering, its scores and descriptions back
    instead of fitting again (same table, same clusters); another setting, or a damaged entry,
    fits again."""
    from simcse_lab.clustering.clusterers.hdbscan import HDBSCANClusterer
    from simcse_lab.clustering.clusterers.kmeans import KMeansClusterer
    from simcse_lab.core.config import ExperimentConfig, with_overrides
    from simcse_lab.experiment import run

    cfg = with_overrides(
        ExperimentConfig(),
        {
            "corpus.source": str(tiny_csv),
            "corpus.n_samples": None,
            "data_dir": str(tmp_path),
            "models.encoders": ["tfidf-lsa"],
            "models.simcse_from": [],
            "metrics.sts_splits": [],
            "metrics.n_alignment_texts": 0,
            "metrics.n_bootstrap": 10,
            "reduce.n_neighbors": 10,
            "reduce.plot_2d": False,
            "encode.show_progress": False,
        },
    )
    first = run(cfg)
    fits = []
    for cls in (KMeansClusterer, HDBSCANClusterer):
        real = cls.fit_predict
        monkeypatch.setattr(cls, "fit_predict", lambda self, x, _real=real: fits.append(self) or _real(self, x))
    from sklearn.feature_extraction.text import CountVectorizer

    counted = []
    real_counts = CountVectorizer.fit_transform
    monkeypatch.setattr(
        CountVectorizer, "fit_transform", lambda self, *a, **k: counted.append(1) or real_counts(self, *a, **k)
    )
    again = run(cfg)
    assert fits == [] and counted == []  # every description came from the cache: no term counts made
    pd.testing.assert_frame_equal(again.table, first.table)
    pd.testing.assert_frame_equal(again.clusters, first.clusters)
    assert again.manifest["k_choice"] == first.manifest["k_choice"]
    run(with_overrides(cfg, {"cluster.kmeans.n_init": 3}))
    assert {type(f).__name__ for f in fits} == {"KMeansClusterer"}  # only KMeans' key changed
    fits.clear()
    for npy in (tmp_path / "interim" / "clusterings").glob("*.npy"):
        npy.write_bytes(npy.read_bytes()[:-8] + b"\x00" * 8)
    caplog.clear()
    damaged = run(cfg)
    assert len(fits) >= 2 and any("does not match its record" in r.getMessage() for r in caplog.records)
    pd.testing.assert_frame_equal(damaged.table, first.table)


def _saved_tiny_run(tmp_path, tiny_csv):
    """A one-model KMeans run of the tiny corpus, saved to ``tmp_path/run``: (result, run folder)."""
    from simcse_lab.core.config import ExperimentConfig, with_overrides
    from simcse_lab.experiment import run

    cfg = with_overrides(
        ExperimentConfig(),
        {
            "corpus.source": str(tiny_csv),
            "corpus.n_samples": None,
            "data_dir": str(tmp_path),
            "models.encoders": ["tfidf-lsa"],
            "models.simcse_from": [],
            "metrics.sts_splits": [],
            "metrics.n_alignment_texts": 0,
            "metrics.n_bootstrap": 0,
            "reduce.n_neighbors": 10,
            "cluster.clusterers": ["kmeans"],
            "encode.show_progress": False,
        },
    )
    result = run(cfg)
    return result, result.save(tmp_path / "run")


def test_figures_are_drawn_again_only_when_what_they_show_changed(tmp_path, tiny_csv, monkeypatch, caplog):
    import logging

    from simcse_lab.reporting import plots

    result, out = _saved_tiny_run(tmp_path, tiny_csv)
    figures = {p.name: p.read_bytes() for p in (out / "figures").iterdir()}
    drawn = []
    real = plots.plot_run
    monkeypatch.setattr(plots, "plot_run", lambda *a, **k: drawn.append(1) or real(*a, **k))
    caplog.set_level(logging.INFO)
    result.save(out)
    assert drawn == [] and any("unchanged since the earlier run" in r.getMessage() for r in caplog.records)
    assert {p.name: p.read_bytes() for p in (out / "figures").iterdir()} == figures
    result.corpus_name = "renamed"  # every title changes
    result.save(out)
    assert drawn == [1]


def test_large_tables_are_formatted_again_only_when_their_rows_changed(tmp_path, tiny_csv, monkeypatch):
    import pandas as pd

    result, out = _saved_tiny_run(tmp_path, tiny_csv)
    before = {n: (out / n).read_bytes() for n in ("assignments.csv", "clusters.csv")}
    written = []
    real = pd.DataFrame.to_csv
    monkeypatch.setattr(
        pd.DataFrame,
        "to_csv",
        lambda self, path=None, *a, **k: (written.append(getattr(path, "name", path)), real(self, path, *a, **k))[1],
    )
    result.save(out)
    assert "assignments.csv" not in written and "clusters.csv" not in written
    assert {n: (out / n).read_bytes() for n in before} == before
    key = next(iter(result.cluster_labels))
    result.cluster_labels[key] = result.cluster_labels[key][::-1].copy()  # another assignment of the texts
    result.save(out)
    assert "assignments.csv" in written and (out / "assignments.csv").read_bytes() != before["assignments.csv"]


@pytest.mark.slow
def test_umap_compiles_once_and_later_processes_load_its_code_from_numba_cache():
    import subprocess
    import sys

    def fit(via_workbench: bool) -> tuple[int, str]:
        """A new process's first UMAP fit: how many compiled functions it loaded from numba's cache."""
        script = (
            "import numpy as np\n"
            "import umap\n"
            "from numba.core.registry import CPUDispatcher\n"
            "from umap import layouts, umap_\n"
            "from simcse_lab.clustering import reduce\n"
            + ("" if via_workbench else "reduce.umap_with_cached_jit = lambda: umap  # plain umap-learn\n")
            + "x = np.random.default_rng(0).normal(size=(120, 16)).astype(np.float32)\n"
            "xy = reduce.UMAPReducer(n_components=2, n_neighbors=10, random_state=3).fit_transform(x)\n"
            "jitted = [f for m in (layouts, umap_) for f in vars(m).values() if isinstance(f, CPUDispatcher)]\n"
            "print(sum(sum(f.stats.cache_hits.values()) for f in jitted), float(np.abs(xy).sum()))\n"
        )
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        hits, total = r.stdout.split()
        return int(hits), total

    _, first = fit(True)  # compiles (and saves) what is not cached yet
    hits, again = fit(True)
    plain_hits, plain = fit(False)
    assert hits > plain_hits  # the workbench's process loaded umap's compiled code that plain umap compiles anew
    assert first == again == plain  # the same seeded projection from cached code


def test_the_labellings_of_one_fit_share_their_stability_refits(monkeypatch):
    """hdbscan and hdbscan-hard come from one fit: their stability re-clusterings are fitted once."""
    from simcse_lab.evaluation.clusterings import refitter

    x, _ = blobs()
    x = np.concatenate([x, np.full((1, x.shape[1]), 500.0, dtype=np.float32)])
    c = HDBSCANClusterer(min_cluster_size=10, min_samples=5, soft=True)
    c.fit_predict(x)
    fits = []
    real = HDBSCANClusterer.fit_predict
    monkeypatch.setattr(HDBSCANClusterer, "fit_predict", lambda self, x: fits.append(1) or real(self, x))
    memo: dict = {}
    soft, hard = refitter(c, x, "hdbscan", memo), refitter(c, x, "hdbscan-hard", memo)
    rows = np.arange(0, len(x), 2)
    soft_labels, hard_labels = soft(rows, 7), hard(rows, 7)
    assert len(fits) == 1
    again = HDBSCANClusterer(min_cluster_size=10, min_samples=5, soft=True)
    assert (again.fit_predict(x[rows]) == soft_labels).all()
    assert (again.extra_labels_["hdbscan-hard"] == hard_labels).all()
    hard(np.arange(1, len(x), 2), 7)  # another resample is fitted
    assert len(fits) == 3


def test_seeded_umap_fits_run_in_a_worker_process_and_give_the_projection_a_fit_here_gives(tmp_path, monkeypatch):
    from simcse_lab.clustering.prefetch import ProjectionPool
    from simcse_lab.clustering.reduce import UMAPReducer

    x, _ = blobs()
    settings = dict(n_components=2, n_neighbors=10, random_state=3)
    here = UMAPReducer(**settings).fit_transform(x)
    reducer = UMAPReducer(**settings, cache_dir=tmp_path / "projections")
    unseeded = UMAPReducer(**{**settings, "random_state": None})
    with ProjectionPool(1) as pool:
        pool.submit("m", x, [reducer, reducer, unseeded])  # one fit of each setting; unseeded UMAP uses every core
        assert len(pool._jobs) == 1
        next(iter(pool._jobs.values())).result(timeout=300)
        monkeypatch.setattr(UMAPReducer, "_fit", lambda self, x: pytest.fail("fitted in this process"))
        got = pool.fit_transform("m", reducer, x)
    assert np.array_equal(got, here)  # the same seeded projection as a fit here
    assert np.array_equal(reducer.cached(x), here)  # and stored in the run's cache
    with ProjectionPool(1) as pool:
        pool.submit("m", x, [reducer])
        assert pool._threads is None  # cached already: no worker started
        monkeypatch.setattr(UMAPReducer, "cached", lambda self, x: pytest.fail("the cache is read twice"))
        monkeypatch.setattr(UMAPReducer, "fit_transform", lambda self, x: pytest.fail("the cache is read twice"))
        assert np.array_equal(pool.fit_transform("m", reducer, x), here)
    monkeypatch.undo()
    assert ProjectionPool.for_threads(1).workers == 0 and ProjectionPool.for_threads(2).workers == 2
    bad = UMAPReducer(**{**settings, "n_neighbors": 1})
    with ProjectionPool(1) as pool:
        pool.submit("m", x, [bad])
        assert len(pool._jobs) == 1
        with pytest.raises(ValueError, match="n_neighbors >= 2"):  # the worker's error, raised in the run
            pool.fit_transform("m", bad, x)


def test_a_models_raw_space_is_clustered_before_its_projection_is_waited_for(monkeypatch):
    """A space may be given as a function (a UMAP fit still running in a worker): it is called only
    when its first clusterer needs it, after the raw space's clusterings."""
    from simcse_lab.core.config import ExperimentConfig, with_overrides
    from simcse_lab.core.runtime import Timer
    from simcse_lab.evaluation.clusterings import cluster_model

    x, _ = blobs()
    calls = []
    real = KMeansClusterer.fit_predict
    monkeypatch.setattr(KMeansClusterer, "fit_predict", lambda self, p: calls.append("kmeans") or real(self, p))

    def projection():
        calls.append("umap")
        return x[:, :2].copy()

    cfg = with_overrides(
        ExperimentConfig(),
        {
            "cluster.clusterers": ["kmeans", "hdbscan"],
            "cluster.n_clusters": 3,
            "cluster.pairs": ["kmeans/raw", "hdbscan/umap"],
            "metrics.n_bootstrap": 0,
        },
    )
    found = cluster_model(
        "m",
        x,
        {"raw": x, "umap": projection},
        cfg,
        levels={},
        n_classes=3,
        backend="cpu",
        texts=[f"text {i}" for i in range(len(x))],
        terms=None,
        timer=Timer(),
    )
    assert calls[0] == "kmeans" and calls.count("umap") == 1 and "umap" in calls
    assert {(r["clusterer"], r["space"]) for r in found.rows} == {
        ("kmeans", "raw"),
        ("hdbscan", "umap"),
        ("hdbscan-hard", "umap"),
    }


@pytest.mark.slow
@pytest.mark.parametrize("threads, expected", [(2, 1), (1, 1)])
def test_a_run_clusters_on_one_thread_beside_its_umap_workers(tmp_path, tiny_csv, threads, expected, monkeypatch):
    """With UMAP workers (threads 2: two workers), KMeans and the scores run on one BLAS/OpenMP
    thread, whether or not a worker is busy at that moment (a rerun gets the same threads)."""
    from sklearn.utils._openmp_helpers import (
        _openmp_effective_n_threads,  # the threads KMeans takes
    )

    from simcse_lab.core.config import ExperimentConfig, with_overrides
    from simcse_lab.experiment import run

    seen = []
    real = KMeansClusterer.fit_predict
    monkeypatch.setattr(
        KMeansClusterer, "fit_predict", lambda self, x: seen.append(_openmp_effective_n_threads()) or real(self, x)
    )
    cfg = with_overrides(
        ExperimentConfig(),
        {
            "name": "threads",
            "data_dir": str(tmp_path / "data"),
            "runs_dir": str(tmp_path / "runs"),
            "corpus.source": str(tiny_csv),
            "corpus.n_samples": None,
            "models.encoders": ["tfidf-lsa"],
            "models.simcse_from": [],
            "threads": threads,
            "reduce.n_neighbors": 10,
            "metrics.n_alignment_texts": 0,
            "metrics.sts_splits": [],
            "metrics.n_bootstrap": 0,
            "cluster.clusterers": ["kmeans", "hdbscan"],
        },
    )
    run(cfg)
    assert seen and set(seen) == {expected}
    run(cfg)  # projections cached now: no worker is busy, the threads are the same
    assert set(seen) == {expected}


def test_a_umap_worker_dies_with_its_run_and_leaves_no_scratch(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from simcse_lab.clustering.prefetch import remove_orphaned_scratch

    # a run (the parent) starts a worker the way ProjectionPool does, then is killed with -9
    worker = (
        "import os, sys, time; from simcse_lab.clustering.prefetch import _die_with; "
        "_die_with(int(sys.argv[1])); print(os.getpid(), flush=True); time.sleep(60)"
    )
    run = (
        "import os, subprocess, sys, time\n"
        f"w = subprocess.Popen([sys.executable, '-c', {worker!r}, str(os.getpid())],\n"
        "                      stdout=subprocess.PIPE, text=True)\n"
        "print(w.stdout.readline().strip(), flush=True)\ntime.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", run], stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(50):
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(worker_pid, signal.SIGKILL)
        raise AssertionError("the worker outlived its run")
    # the scratch folder of a run that is gone is removed by the next run; a live run's is kept
    gone, alive = tmp_path / f"umap-worker-{parent.pid}-abc", tmp_path / f"umap-worker-{os.getpid()}-def"
    for folder in (gone, alive):
        folder.mkdir()
        (folder / "x.npy").write_bytes(b"")
    assert remove_orphaned_scratch(tmp_path) == [gone] and alive.is_dir() and not gone.exists()
