"""Dimensionality reduction steps with the scikit-learn shape (``fit_transform``).

``UMAPReducer`` wraps umap-learn and keeps the fitted embedding (``embedding_``): the seed
article fits UMAP and then calls ``transform`` on the same data again, which costs a second
pass and gives a slightly different answer; here the fitted embedding is used directly.
``IdentityReducer`` is the "raw space": no reduction, same interface.

With ``cache_dir``, a fitted embedding is stored (verified, see `simcse_lab.core.cache`) under a
key made of the input array's hash, the UMAP parameters and the umap-learn version, so a rerun
on the same embeddings neither fits again nor imports umap. umap-learn's numba functions are set to
keep their compiled code on disk (`umap_with_cached_jit`), so only the first process compiles them.

>>> IdentityReducer().fit_transform(np.ones((3, 2), dtype=np.float32)).shape
(3, 2)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..core.cache import ArrayCache
from ..core.config import ReduceConfig
from ..core.engines import LocalEngine, RayEngine
from ..core.hashing import array_digest, content_hash
from ..core.jit_cache import guard_numba_cache
from .sampling import SampledFit, chunked

logger = logging.getLogger(__name__)

__all__ = ["IdentityReducer", "UMAPReducer", "make_reducer"]


@dataclass
class IdentityReducer:
    """The raw embedding space."""

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float32)


@dataclass
class UMAPReducer:
    """UMAP with the fitted embedding returned as ``float32``."""

    n_components: int = 5
    n_neighbors: int = 15
    min_dist: float = 0.0
    metric: str = "cosine"
    random_state: int | None = 42
    cache_dir: str | Path | None = None
    fit_sample: int = 20_000
    sample_threshold: int | None = None
    transform_chunk: int = 20_000
    backend: str = "cpu"
    # where a sample fit transforms the rest (simcse_lab.core.engines; None: here); not in the cache key:
    # Ray and local give the same projection up to float noise (tested within 1e-4)
    engine: Any = field(default=None, repr=False, compare=False)

    def _plan(self) -> SampledFit:
        return SampledFit(self.fit_sample, self.sample_threshold, self.random_state)

    def sampled(self, n: int) -> bool:
        """Whether ``n`` points are fitted on a sample (above ``sample_threshold``)."""
        return self._plan().sampled(n)

    def _transform_engine(self) -> Any:
        """Where a sample fit transforms the rest: the engine given (umap-learn's transform), else
        here. cuML transforms on the GPU it fitted on."""
        return self.engine if self.engine is not None and self.backend == "cpu" else LocalEngine()

    def describe_fit(self, n: int) -> str:
        """How ``n`` points are projected, for the run manifest."""
        by_ray = isinstance(self._transform_engine(), RayEngine)
        return self._plan().describe(n, "the rest transformed" + (" by Ray tasks" if by_ray else ""))

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        found = self._cached(x)
        if found is None:
            return self._fit(x)
        cache, key, params, emb = found
        if emb is None:
            emb = self._fit(x)
            cache.save(key, emb, {"umap": params, "input_shape": list(x.shape)})
        else:
            logger.info("UMAP %d-d of %s from cache %s", self.n_components, x.shape, key)
        return emb

    def cached(self, x: np.ndarray) -> np.ndarray | None:
        """The projection of ``x`` from the cache, or None when there is none (or no cache)."""
        found = self._cached(np.ascontiguousarray(x, dtype=np.float32))
        return None if found is None else found[3]

    def _cached(self, x: np.ndarray) -> tuple[ArrayCache, str, dict, np.ndarray | None] | None:
        """The cache, key, keyed settings and cached projection (or None) of ``x``; None when a fit is
        not cached at all (no cache folder, or an unseeded fit, which is not reproducible)."""
        if self.cache_dir is None or self.random_state is None:
            return None
        params = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("cache_dir", "fit_sample", "sample_threshold", "transform_chunk", "backend", "engine")
        }
        if self.sampled(len(x)):  # a sample fit is another projection; a full fit keeps its old key
            # transform's negative sampling draws from one seeded stream per call: the chunks matter
            params.update(fit_sample=self.fit_sample, transform_chunk=self.transform_chunk)
        if self.backend != "cpu":
            params["backend"] = self.backend
        key = content_hash({"umap": params, "input": array_digest(x), "umap-learn": metadata.version("umap-learn")})
        cache = ArrayCache(self.cache_dir)
        return cache, key, params, cache.load(key, n_rows=len(x))

    def _fit(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if n < 4:
            raise ValueError(f"UMAP needs at least 4 points, got {n}")
        if self.n_components < 1 or self.n_neighbors < 2:
            raise ValueError(
                f"UMAP n_components must be >= 1 and n_neighbors >= 2, got {self.n_components}, {self.n_neighbors}"
            )
        if not self.sampled(n):
            return np.asarray(self._model(n).fit_transform(x), dtype=np.float32)
        # fit on a seeded sample, then place the rest with transform, chunk by chunk (BERTopic's
        # advice for millions of documents: the fit is what needs memory, transform does not)
        fit_idx, rest = self._plan().split(n)
        model = self._model(self.fit_sample)
        out = np.empty((n, self.n_components), dtype=np.float32)
        out[fit_idx] = model.fit_transform(x[fit_idx])
        chunks = chunked(rest, self.transform_chunk)
        engine = self._transform_engine()  # the Ray engine: the chunks as Ray tasks, in parallel
        for idx, part in zip(chunks, engine.map_ordered(model.transform, (x[idx] for idx in chunks)), strict=True):
            out[idx] = part
        logger.info(
            "UMAP fitted on %d of %d points, the other %d transformed (%s engine)",
            self.fit_sample,
            n,
            len(rest),
            engine.name,
        )
        return out

    def _model(self, n: int):
        # UMAP's spectral initialisation needs n_components + 1 < n; tiny corpora fall back to a
        # random initialisation rather than failing.
        init = "spectral" if n > self.n_components + 2 else "random"
        kwargs = dict(
            n_components=self.n_components,
            n_neighbors=min(self.n_neighbors, n - 1),
            min_dist=self.min_dist,
            metric=self.metric,
            random_state=self.random_state,
            init=init,
        )
        if self.backend == "cuml":
            from cuml.manifold import UMAP

            return UMAP(**kwargs)
        umap = umap_with_cached_jit()
        return umap.UMAP(**kwargs, n_jobs=1 if self.random_state is not None else -1)


@lru_cache(maxsize=1)
def umap_with_cached_jit() -> Any:
    """The ``umap`` module, its numba functions set to keep their machine code on disk.

    umap-learn compiles its numba functions in every new process, without numba's cache, before
    the first fit however small (docs/performance.md says how long). Turning the cache on
    (``Dispatcher.enable_caching``, numba's own ``cache=True``) before anything is compiled makes
    the first process compile and save and every later one load the code. The
    code is the same machine code, so a seeded fit gives the same projection. Functions numba
    cannot cache (closures) are compiled as before."""
    guard_numba_cache()  # before umap's import: pynndescent loads cached code as it is imported
    import umap
    from numba.core.registry import CPUDispatcher
    from umap import distances, layouts, spectral, umap_, utils

    for module in (umap_, layouts, distances, utils, spectral):
        for obj in vars(module).values():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == module.__name__:
                try:
                    obj.enable_caching()
                except RuntimeError:  # no writable place for numba's cache: compile in memory, as before
                    return umap
    return umap


def make_reducer(
    space: str,
    cfg: ReduceConfig,
    *,
    seed: int = 42,
    n_components: int | None = None,
    min_dist: float | None = None,
    cache_dir: str | Path | None = None,
    backend: str = "cpu",
    engine: Any = None,
):
    """Factory: ``"raw"`` -> `IdentityReducer`, ``"umap"`` -> `UMAPReducer`
    (``backend``: ``cpu`` umap-learn or ``cuml``, as resolved by `simcse_lab.clustering.clusterers.resolve_backend`;
    ``engine``: where a sample fit transforms the rest, `simcse_lab.core.engines.make_engine`)."""
    if space == "raw":
        return IdentityReducer()
    if space == "umap":
        return UMAPReducer(
            n_components=cfg.n_components if n_components is None else n_components,
            n_neighbors=cfg.n_neighbors,
            min_dist=cfg.min_dist if min_dist is None else min_dist,
            metric=cfg.metric,
            random_state=seed,
            cache_dir=cache_dir,
            fit_sample=cfg.fit_sample,
            sample_threshold=cfg.sample_threshold,
            transform_chunk=cfg.transform_chunk,
            backend=backend,
            engine=engine,
        )
    raise ValueError(f"unknown space {space!r}; allowed: raw, umap")
