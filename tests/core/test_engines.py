"""Every engine gives the local engine's embeddings and fills the same cache entry."""

from __future__ import annotations

import numpy as np
import pytest

from simcse_lab.core.engines import (
    LocalEngine,
    MultiProcessEngine,
    RayEngine,
    make_engine,
)
from simcse_lab.encoding.encode import encode_texts, is_cached
from simcse_lab.encoding.resolve import load_encoder


def texts_200() -> list[str]:
    from conftest import make_rows

    rows = make_rows(n_per_topic=67, seed=3)
    return rows["Text"].tolist()[:200]


@pytest.fixture(scope="module")
def local_reference(tiny_checkpoint):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=32)
    return encode_texts(enc, texts_200(), batch_size=16, show_progress=False, engine=LocalEngine(chunk_size=64))


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the test run: 2 CPUs, a small object store; actors leave a CPU for reads."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, object_store_memory=128 * 2**20, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_make_engine_follows_the_config():
    from simcse_lab.core.config import load_config

    assert isinstance(make_engine(load_config("default")), LocalEngine)
    cfg = load_config("default", {"encode.engine": "ray", "ray.n_actors": 3, "ray.address": "ray://head:10001"})
    engine = make_engine(cfg)
    assert isinstance(engine, RayEngine) and engine.n_actors == 3 and engine.address == "ray://head:10001"
    assert isinstance(make_engine(load_config("default", {"encode.engine": "multiprocess"})), MultiProcessEngine)


def test_local_chunks_cover_every_row_once(fake_encoder):
    x = encode_texts(
        fake_encoder, [f"t{i}" for i in range(10)], batch_size=4, show_progress=False, engine=LocalEngine(chunk_size=3)
    )
    assert x.shape == (10, 8) and fake_encoder.calls == 3  # chunks of max(3, 4) texts


@pytest.mark.slow
def test_ray_engine_equals_local_and_fills_the_same_cache(local_ray, tiny_checkpoint, local_reference, tmp_path):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=32)
    engine = RayEngine(n_actors=1, batch_size=64)  # 4 batches, arriving in any order: written by id
    x = encode_texts(enc, texts_200(), batch_size=16, show_progress=False, engine=engine, cache_dir=tmp_path)
    assert x.shape == local_reference.shape
    np.testing.assert_allclose(x, local_reference, atol=1e-5)
    assert not enc.loaded  # the model was loaded in the actor, not here
    # the local engine now finds the entry the Ray engine wrote, without loading the model
    assert is_cached(enc, texts_200(), tmp_path, normalize=True)
    again = encode_texts(enc, texts_200(), batch_size=16, show_progress=False, cache_dir=tmp_path)
    assert not enc.loaded and np.array_equal(again, x)


@pytest.mark.slow
def test_multiprocess_engine_equals_local(tiny_checkpoint, local_reference):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=32)
    x = encode_texts(
        enc,
        texts_200(),
        batch_size=16,
        show_progress=False,
        engine=MultiProcessEngine(devices=("cpu", "cpu"), chunk_size=50),
    )
    np.testing.assert_allclose(x, local_reference, atol=1e-5)


def test_transductive_encoders_stay_local():
    """TF-IDF/LSA is fitted on all texts at once, whichever engine is asked for."""
    from simcse_lab.encoding.encoders import TfidfLsaEncoder

    texts = [f"word{i % 7} other{i % 3}" for i in range(30)]
    a = encode_texts(TfidfLsaEncoder(n_components=4), texts, show_progress=False)
    b = encode_texts(TfidfLsaEncoder(n_components=4), texts, show_progress=False, engine=RayEngine())
    np.testing.assert_array_equal(a, b)


def test_large_results_are_memory_mapped_and_published_by_rename(fake_encoder, tmp_path, monkeypatch):
    import simcse_lab.encoding.encode as encode

    monkeypatch.setattr(encode, "MEMMAP_BYTES", 100)
    texts = [f"t{i}" for i in range(50)]
    x = encode_texts(fake_encoder, texts, batch_size=8, show_progress=False, cache_dir=tmp_path)
    assert isinstance(x, np.memmap)
    assert not list(tmp_path.glob(".scratch-*"))  # the scratch file became the entry
    y = encode_texts(fake_encoder, texts, batch_size=8, show_progress=False)  # in memory, no cache
    np.testing.assert_array_equal(np.asarray(x), y)


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU (bench/gpu_check.sh runs it)")
def test_cuda_encoding_equals_cpu(tiny_checkpoint, local_reference):
    enc = load_encoder(str(tiny_checkpoint), max_seq_length=32, device="cuda")
    x = encode_texts(enc, texts_200(), batch_size=16, show_progress=False)
    np.testing.assert_allclose(x, local_reference, atol=1e-4)


@pytest.mark.slow
def test_ray_map_ordered_keeps_the_order_of_the_parts(local_ray):
    def slow_square(part: np.ndarray) -> np.ndarray:  # nested: Ray's workers get it by value
        import time

        time.sleep(0.05 * float(part[0, 0] % 3))  # parts finish out of order
        return part**2

    parts = [np.full((2, 3), i, dtype=np.float32) for i in range(7)]
    out = list(RayEngine(n_actors=2).map_ordered(slow_square, iter(parts)))
    assert [float(o[0, 0]) for o in out] == [float(i * i) for i in range(7)]
    assert list(LocalEngine().map_ordered(slow_square, parts[:2]))[1][0, 0] == 1.0


@pytest.mark.slow
def test_sample_fit_umap_transforms_through_ray_as_it_does_here(local_ray, tmp_path):
    """Chunks transformed by Ray tasks give the projection the local transform gives (and the
    same cache entry: the engine is not in the key)."""
    from sklearn.datasets import make_blobs

    from simcse_lab.clustering.reduce import UMAPReducer

    x = make_blobs(n_samples=1200, centers=4, n_features=16, random_state=0)[0].astype(np.float32)
    kw = dict(n_components=3, random_state=0, fit_sample=500, sample_threshold=1000, transform_chunk=250)

    class CountingRay(RayEngine):
        parts = 0

        def map_ordered(self, fn, parts):
            parts = list(parts)
            self.parts += len(parts)
            yield from super().map_ordered(fn, parts)

    here = UMAPReducer(**kw).fit_transform(x)
    engine = CountingRay(n_actors=2)
    ray_reducer = UMAPReducer(**kw, engine=engine, cache_dir=tmp_path)
    np.testing.assert_allclose(ray_reducer.fit_transform(x), here, atol=1e-4)
    assert engine.parts == 3  # the 700 points outside the sample went to Ray, 250 at a time
    assert np.array_equal(UMAPReducer(**kw, cache_dir=tmp_path).fit_transform(x), ray_reducer.fit_transform(x))


def test_manifest_says_where_a_sample_fit_transforms_the_rest():
    from simcse_lab.core.config import load_config
    from simcse_lab.experiment import scaling_report

    local = load_config("default")
    ray = load_config("default", {"encode.engine": "ray"})
    assert scaling_report(local, 1000, "cpu")["umap_fit"] == "all 1000"
    assert scaling_report(local, 60_000, "cpu")["umap_fit"] == "sample of 20000 of 60000, the rest transformed"
    assert scaling_report(ray, 60_000, "cpu")["umap_fit"].endswith("the rest transformed by Ray tasks")
    assert not scaling_report(ray, 60_000, "cuml")["umap_fit"].endswith("by Ray tasks")  # cuML stays on its GPU


@pytest.mark.skipif(_cuda(), reason="checks a machine without CUDA")
def test_cuda_asked_for_without_cuda_fails_before_any_model_loads(capsys, tiny_csv, tmp_path):
    from simcse_lab.cli import main

    for extra in (
        ["--set", "encode.device=cuda"],
        ["--set", "encode.engine=multiprocess", "--set", "encode.devices=[cuda:0]"],
    ):
        code = main(["compare", "--set", f"corpus.source={tiny_csv}", "--set", f"data_dir={tmp_path}", *extra, "-q"])
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert code == 2 and len(err) == 1 and "torch sees no CUDA GPU on this machine" in err[0], err
    assert not (tmp_path / "interim").exists()
