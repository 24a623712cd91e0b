"""Where vectors are made: this process, a pool of local processes, or Ray actors.

An engine turns an encoder and texts into chunks of ``(row indices, embeddings)``;
`simcse_lab.encoding.encode.encode_texts` writes each chunk into its one output array (and the same
cache entry: the key has no engine in it), so a comparison does not care where the vectors were
made. Every engine gives the same embeddings as the local one (tested, ``atol`` 1e-5).

- `LocalEngine`: the encoder in this process, chunk after chunk (the default).
- `MultiProcessEngine`: sentence-transformers' own multi-process pool
  (``SentenceTransformer.encode(..., device=[...])``), one process per device: enough on one box
  with several GPUs.
- `RayEngine`: Ray Data. ``ray.data.from_pandas`` of ``(id, text)`` ->
  ``map_batches`` with a callable class that loads the model once per actor
  (``ActorPoolStrategy(size=n_actors)``, ``num_cpus`` / ``num_gpus`` per actor) -> batches of
  ``(id, embedding)`` streamed back. Ray does not keep row order, so rows carry their id and are
  written by it. ``ray.init`` takes ``ray.address`` or ``$RAY_ADDRESS`` (a cluster), else starts a
  local Ray; model folders must then be readable from every node (a shared file system or a hub id).

Every engine also has ``map_ordered(fn, parts)``: ``fn`` applied to each array of ``parts``, results
in the order given. The local and multi-process engines run it here, one part after another (the
pool is sentence-transformers' and only encodes); the Ray engine runs the parts as Ray tasks, a
bounded number in flight, ``fn`` shipped once through the object store. Sample-fit UMAP uses it to
``transform`` the points outside its sample in parallel (`simcse_lab.clustering.reduce`).
"""

from __future__ import annotations

import copy
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fields import setting as _f

logger = logging.getLogger(__name__)

__all__ = [
    "LocalEngine",
    "MultiProcessEngine",
    "RayConfig",
    "RayEngine",
    "make_engine",
]

Chunk = tuple[np.ndarray, np.ndarray]  # (row indices into the texts, float32 embeddings)


@dataclass(frozen=True)
class RayConfig:
    """The Ray Data engine (encode.engine: ray): a pool of actors that each load the model once; a
    sample-fit UMAP also transforms its chunks as Ray tasks of num_cpus_per_actor CPUs each."""

    address: str | None = _f(None, "Ray cluster address (None: $RAY_ADDRESS if set, else a local Ray on this machine)")
    n_actors: int = _f(1, "encoding actors (each loads the model once)", ge=1)
    batch_size: int = _f(1024, "texts per Ray batch; each actor encodes it in batches of encode.batch_size", ge=1)
    num_cpus_per_actor: float = _f(
        1.0, "CPUs reserved per actor (its torch threads); leave one for Ray's read tasks", gt=0
    )
    num_gpus_per_actor: float = _f(0.0, "GPUs per actor (0: CPU)", ge=0)
    object_store_mb: int | None = _f(256, "object store of a local Ray, MiB (None: Ray's default)", ge=64)


def _map_here(fn: Callable[[np.ndarray], Any], parts: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    for part in parts:
        yield np.asarray(fn(part), dtype=np.float32)


@dataclass
class LocalEngine:
    """The encoder in this process, ``chunk_size`` texts at a time."""

    chunk_size: int = 2048
    name: str = "local"

    def chunks(self, encoder: Any, texts: list[str], *, batch_size: int) -> Iterator[Chunk]:
        # a transductive encoder (TF-IDF/LSA) is fitted on the corpus, so it must see all texts at once
        step = len(texts) if getattr(encoder, "transductive", False) else max(self.chunk_size, batch_size)
        for start in range(0, len(texts), step):
            part = texts[start : start + step]
            yield np.arange(start, start + len(part)), encoder.encode(part, batch_size=batch_size, show_progress=False)

    def map_ordered(self, fn: Callable[[np.ndarray], Any], parts: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """``fn`` of each part, here, in order."""
        return _map_here(fn, parts)


def _plain(encoder: Any) -> Any:
    """The encoder as it can travel to another process: a copy without its loaded model or
    runtime session (it reloads there, from its loader)."""
    if getattr(encoder, "_loader", None) is None and not hasattr(encoder, "_session"):
        return encoder
    twin = copy.copy(encoder)
    if getattr(twin, "_loader", None) is not None:
        twin._model = None
    if hasattr(twin, "_session"):
        twin._session = None
    return twin


@dataclass
class MultiProcessEngine:
    """sentence-transformers' multi-process pool, one process per entry of ``devices``."""

    devices: tuple[str, ...] = ("cpu", "cpu")
    chunk_size: int = 2048
    name: str = "multiprocess"

    def chunks(self, encoder: Any, texts: list[str], *, batch_size: int) -> Iterator[Chunk]:
        model = getattr(encoder, "model", None)
        if getattr(encoder, "transductive", False) or model is None or not hasattr(model, "start_multi_process_pool"):
            logger.info("%s: not a sentence-transformers model; encoding in this process", encoder.name)
            yield from LocalEngine(self.chunk_size).chunks(encoder, texts, batch_size=batch_size)
            return
        pool = model.start_multi_process_pool(list(self.devices))
        try:
            step = max(self.chunk_size, batch_size) * len(self.devices)
            for start in range(0, len(texts), step):
                part = texts[start : start + step]
                emb = model.encode(
                    part,
                    batch_size=batch_size,
                    pool=pool,
                    convert_to_numpy=True,
                    normalize_embeddings=False,
                    show_progress_bar=False,
                )
                yield np.arange(start, start + len(part)), np.asarray(emb, dtype=np.float32)
        finally:
            model.stop_multi_process_pool(pool)

    def map_ordered(self, fn: Callable[[np.ndarray], Any], parts: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """``fn`` of each part, here, in order (the pool encodes; it runs nothing else)."""
        return _map_here(fn, parts)


class _EmbedActor:
    """One Ray actor: loads the encoder once, then embeds every batch it is given."""

    def __init__(self, encoder: Any, batch_size: int, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.encoder, self.batch_size = encoder, batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        emb = self.encoder.encode([str(t) for t in batch["text"]], batch_size=self.batch_size, show_progress=False)
        return {"id": np.asarray(batch["id"], dtype=np.int64), "embedding": np.asarray(emb, dtype=np.float32)}


def _apply(fn: Callable[[np.ndarray], Any], part: np.ndarray) -> np.ndarray:
    """One Ray task of `RayEngine.map_ordered`."""
    return np.asarray(fn(part), dtype=np.float32)


def init_ray(address: str | None = None, *, num_cpus: int | None = None, object_store_mb: int | None = None) -> Any:
    """Connect to ``address`` (or ``$RAY_ADDRESS``), or start a local Ray once per process."""
    try:
        import ray
    except ImportError:
        raise ImportError("encode.engine=ray needs Ray Data: pip install 'simcse-lab[ray]'") from None
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    else:
        ray.init(
            num_cpus=num_cpus or os.cpu_count(),
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=object_store_mb * 2**20 if object_store_mb else None,
            ignore_reinit_error=True,
        )
    return ray


@dataclass
class RayEngine:
    """Ray Data ``map_batches`` over an actor pool; rows carry their id, results stream back."""

    address: str | None = None
    n_actors: int = 1
    batch_size: int = 1024
    num_cpus_per_actor: float = 1.0
    num_gpus_per_actor: float = 0.0
    object_store_mb: int | None = 256
    name: str = "ray"

    def chunks(self, encoder: Any, texts: list[str], *, batch_size: int) -> Iterator[Chunk]:
        if getattr(encoder, "transductive", False):  # TF-IDF/LSA is fitted on all texts at once
            yield from LocalEngine().chunks(encoder, texts, batch_size=batch_size)
            return
        import pandas as pd

        ray = init_ray(self.address, object_store_mb=self.object_store_mb)
        table = pd.DataFrame({"id": np.arange(len(texts), dtype=np.int64), "text": texts})
        # one block per Ray batch (no repartition shuffle), so every actor gets work
        ds = ray.data.from_pandas([table.iloc[i : i + self.batch_size] for i in range(0, len(table), self.batch_size)])
        out = ds.map_batches(
            _EmbedActor,
            fn_constructor_kwargs={
                "encoder": _plain(encoder),
                "batch_size": batch_size,
                "threads": int(self.num_cpus_per_actor),
            },
            batch_size=self.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.n_actors),
            num_cpus=self.num_cpus_per_actor,
            num_gpus=self.num_gpus_per_actor or None,
        )
        for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
            yield batch["id"], np.asarray(batch["embedding"], dtype=np.float32)

    def map_ordered(self, fn: Callable[[np.ndarray], Any], parts: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """``fn`` of each part as Ray tasks (``num_cpus_per_actor`` CPUs each, no GPU: the work given
        here is umap-learn's CPU transform), results in order; at most two tasks per actor in
        flight, so the object store holds a few parts, not all of them."""
        ray = init_ray(self.address, object_store_mb=self.object_store_mb)
        fn_ref = ray.put(fn)  # shipped once, not with every task
        task = ray.remote(num_cpus=self.num_cpus_per_actor)(_apply)
        pending: deque = deque()
        for part in parts:
            pending.append(task.remote(fn_ref, part))
            if len(pending) >= 2 * max(1, self.n_actors):
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())


def make_engine(cfg: Any) -> Any:
    """The engine an `ExperimentConfig` asks for (``encode.engine``)."""
    engine = cfg.encode.engine
    if engine == "local":
        return LocalEngine()
    if engine == "multiprocess":
        return MultiProcessEngine(devices=tuple(cfg.encode.devices))
    if engine == "ray":
        r = cfg.ray
        return RayEngine(
            address=r.address,
            n_actors=r.n_actors,
            batch_size=r.batch_size,
            num_cpus_per_actor=r.num_cpus_per_actor,
            num_gpus_per_actor=r.num_gpus_per_actor,
            object_store_mb=r.object_store_mb,
        )
    raise ValueError(f"unknown encode.engine {engine!r}; allowed: local, multiprocess, ray")
