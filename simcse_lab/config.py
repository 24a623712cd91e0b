"""One typed, frozen configuration tree for every entry point.

The CLI flags (``--set section.key=value``), YAML files and notebook parameter cells are three
views of :class:`ExperimentConfig`. Every field has a default and a one-line help string, the
tree round-trips through plain dicts, YAML and flat dotted keys, and :func:`config_hash` gives a
stable identity that is saved with every run.

Examples
--------
>>> cfg = ExperimentConfig()
>>> cfg2 = with_overrides(cfg, {"corpus.n_samples": 500, "models.encoders": ["tfidf-lsa"]})
>>> cfg2.corpus.n_samples, cfg2.models.encoders
(500, ('tfidf-lsa',))
>>> from_flat(to_flat(cfg2)) == cfg2
True
>>> config_hash(cfg) == config_hash(ExperimentConfig())
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ClusterConfig",
    "CorpusConfig",
    "EncodeConfig",
    "ExperimentConfig",
    "MetricsConfig",
    "ModelsConfig",
    "PretrainConfig",
    "ReduceConfig",
    "TrainConfig",
    "config_hash",
    "describe",
    "from_dict",
    "from_params",
    "key_of_param",
    "param_name",
    "from_flat",
    "list_profiles",
    "load_config",
    "parse_overrides",
    "to_dict",
    "to_flat",
    "to_yaml",
    "with_overrides",
]


def _f(default: Any, help: str) -> Any:  # noqa: A002 - "help" reads best at call sites
    if isinstance(default, (list, dict, set)):
        raise TypeError("config defaults must be immutable")
    return field(default=default, metadata={"help": help})


def _section(cls: type) -> Any:
    return field(default_factory=cls, metadata={"help": (cls.__doc__ or "").strip().splitlines()[0]})


@dataclass(frozen=True)
class CorpusConfig:
    """Which texts and labels to load, and how to clean them."""

    source: str = _f(
        "ecommerce-reviews",
        "bundled corpus name, or a path to a CSV/TSV/Parquet/JSONL/TXT file",
    )
    text_column: str | None = _f(None, "column holding the text (None: detect 'Text', 'Review Text', 'text', ...)")
    label_columns: tuple[str, ...] | None = _f(
        None, "label columns, coarse to fine (None: the corpus defaults, e.g. Cat1/Cat2/Cat3)"
    )
    level: str | None = _f(None, "label level that sets k, stratifies sampling and colours plots (None: first)")
    n_samples: int | None = _f(3000, "stratified subsample size (None: all rows)")
    dedupe: bool = _f(True, "drop exact duplicate texts (they would be false negatives in a SimCSE batch)")
    drop_labels: tuple[str, ...] = _f((), "classes of the main level to drop before sampling")
    min_class_size: int = _f(2, "drop classes of the main level with fewer rows than this")


@dataclass(frozen=True)
class EncodeConfig:
    """How every neural model turns texts into vectors (the same for all, for a fair comparison)."""

    batch_size: int = _f(16, "texts per forward pass (16 encoded fastest on 2 CPU cores here; raise it on a GPU)")
    max_seq_length: int = _f(128, "tokens kept per text; longer texts are truncated")
    pooling: str = _f("mean", "pooling for plain transformers checkpoints: mean, cls or max")
    normalize: bool = _f(True, "L2-normalise embeddings")
    device: str | None = _f(None, "torch device (None: cuda if available, else cpu)")
    backend: str = _f(
        "auto",
        "torch, onnx, onnx-int8, openvino, or auto: on CPU the fastest exported variant whose embeddings match"
        " torch's (cosine >= 0.99 per text) if it beats torch, else torch",
    )
    cache: bool = _f(True, "cache embeddings (interim/embeddings) and UMAP projections (interim/projections) under <data_dir>")
    show_progress: bool = _f(True, "show progress bars")


@dataclass(frozen=True)
class ModelsConfig:
    """Which models enter the comparison."""

    encoders: tuple[str, ...] = _f(
        ("tfidf-lsa", "minilm"),
        "model specs encoded as they are: aliases (minilm, tfidf-lsa, random-init, mlm: MLM-pretrained on the"
        " corpus per the pretrain section), folders or hub ids",
    )
    simcse_from: tuple[str, ...] = _f(("minilm",), "model specs to fine-tune with unsupervised SimCSE on the corpus")
    supervised_simcse_from: tuple[str, ...] = _f(
        (), "model specs to fine-tune with supervised SimCSE on SNLI triplets (premise, entailment, contradiction)"
    )


@dataclass(frozen=True)
class TrainConfig:
    """Unsupervised SimCSE training (sentence-transformers trainer + MultipleNegativesRankingLoss)."""

    epochs: float = _f(1.0, "passes over the training texts")
    batch_size: int = _f(32, "texts per batch; each sees batch_size - 1 in-batch negatives")
    learning_rate: float = _f(3e-5, "peak learning rate (AdamW, linear decay)")
    warmup_ratio: float = _f(0.1, "fraction of steps with linear warm-up")
    max_seq_length: int = _f(64, "tokens kept per text during training")
    pooling: str = _f("mean", "pooling when the base is a plain transformers checkpoint: mean, cls or max")
    scale: float = _f(20.0, "similarity scale of the loss (1 / temperature; 20 = temperature 0.05)")
    loss: str = _f("mnrl", "mnrl (MultipleNegativesRankingLoss) or cached-mnrl (large batches in small memory)")
    mini_batch_size: int = _f(32, "cached-mnrl: texts per forward pass (batch_size sets the negatives)")
    attention_weight: float = _f(
        0.0, "miCSE: weight of the attention-alignment term between the two dropout views (0: plain SimCSE)"
    )
    eval_steps: int = _f(0, "every N steps, V-measure of KMeans on a held-out slice of the corpus (0: off)")
    eval_n_texts: int = _f(500, "size of the held-out slice (taken out of the training texts)")
    keep_best: bool = _f(True, "with eval_steps: keep the best checkpoint, or the base model if training never helped")
    nli_n_triplets: int | None = _f(10_000, "supervised SimCSE: SNLI triplets used (None: all 27,195)")
    n_texts: int | None = _f(None, "train on at most this many corpus texts (None: all)")
    checkpoint_steps: int = _f(100, "save a resumable checkpoint every N steps")
    logging_steps: int = _f(10, "log the loss every N steps")
    resume: bool = _f(True, "continue an interrupted run from its last checkpoint")


@dataclass(frozen=True)
class PretrainConfig:
    """Masked-language-model pretraining of a raw encoder (the model spec ``mlm`` in models lists)."""

    base: str | None = _f(None, "continue MLM from this checkpoint (alias, folder, hub id); None: a new BERT")
    tokenizer: str = _f("minilm", "tokenizer of a new BERT (MiniLM's uncased WordPiece vocabulary by default)")
    hidden_size: int = _f(256, "width of a new BERT")
    num_layers: int = _f(4, "layers of a new BERT")
    num_heads: int = _f(4, "attention heads of a new BERT")
    intermediate_size: int | None = _f(None, "feed-forward width of a new BERT (None: 4 x hidden_size)")
    max_steps: int = _f(300, "optimisation steps")
    batch_size: int = _f(64, "texts per step")
    learning_rate: float = _f(5e-4, "peak learning rate (AdamW, linear decay)")
    warmup_ratio: float = _f(0.06, "fraction of steps with linear warm-up")
    max_seq_length: int = _f(64, "tokens kept per text")
    mlm_probability: float = _f(0.15, "fraction of tokens masked")
    extra_texts: str | None = _f(None, "a .txt file of additional unlabelled texts (one per line) to pretrain on")
    all_texts: bool = _f(True, "pretrain on every cleaned text of the corpus, not only the n_samples sample")
    checkpoint_steps: int = _f(100, "save a resumable checkpoint every N steps")
    logging_steps: int = _f(10, "log the loss every N steps")


@dataclass(frozen=True)
class ReduceConfig:
    """UMAP projections: an n-D space for clustering and a 2-D one for plots."""

    n_components: int = _f(5, "UMAP dimensions of the clustering space (2 reuses the plot projection)")
    n_neighbors: int = _f(15, "UMAP neighbourhood size")
    min_dist: float = _f(0.0, "UMAP min_dist of the clustering space (0 packs clusters tightly)")
    plot_min_dist: float = _f(0.1, "UMAP min_dist of the 2-D plot projection")
    metric: str = _f("cosine", "UMAP input metric")
    plot_2d: bool = _f(True, "fit a 2-D UMAP for plots and the interactive view (false: no plots, faster sweeps)")


@dataclass(frozen=True)
class ClusterConfig:
    """Clusterers and the spaces they run in."""

    methods: tuple[str, ...] = _f(("kmeans", "hdbscan"), "clusterers: kmeans, hdbscan")
    spaces: tuple[str, ...] = _f(("raw", "umap"), "spaces to cluster in: raw (the embedding), umap")
    pairs: tuple[str, ...] = _f(
        (), "only these method/space pairs, e.g. [kmeans/raw, hdbscan/umap] as in the seed (empty: every method x space)"
    )
    n_clusters: int | None = _f(None, "KMeans k (None: number of classes of the main label level)")
    kmeans_n_init: int = _f(10, "KMeans restarts")
    min_cluster_size: int | None = _f(
        None, "HDBSCAN min_cluster_size (None: 2.5% of the corpus, the seed's 1000 of 40k)"
    )
    min_samples: int = _f(10, "HDBSCAN min_samples")
    soft: bool = _f(True, "HDBSCAN labels = argmax of all_points_membership_vectors (as in the seed)")


@dataclass(frozen=True)
class MetricsConfig:
    """Embedding-quality metrics besides clustering agreement, and their uncertainty."""

    n_alignment_texts: int = _f(256, "texts used for alignment/uniformity (0: skip)")
    sts_splits: tuple[str, ...] = _f(("dev", "test"), "STS-B splits scored by Spearman correlation (empty: skip)")
    n_bootstrap: int = _f(200, "bootstrap resamples of the scored texts for the spread of each score (0: skip)")
    n_seeds: int = _f(1, "repeat the whole comparison (sampling, training, UMAP, clustering) with seeds seed..seed+n-1")


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole comparison: corpus, models, training, reduction, clustering."""

    name: str = _f("default", "run name; the run folder is <runs_dir>/<name>-<config hash>")
    seed: int = _f(42, "seed for sampling, training, UMAP and clustering")
    data_dir: str = _f("data", "folder for raw downloads (raw/) and caches (interim/)")
    runs_dir: str = _f("runs", "folder for run outputs")
    threads: int | None = _f(None, "CPU threads for torch, ONNX Runtime, numba and BLAS (None: every core)")
    corpus: CorpusConfig = _section(CorpusConfig)
    encode: EncodeConfig = _section(EncodeConfig)
    models: ModelsConfig = _section(ModelsConfig)
    train: TrainConfig = _section(TrainConfig)
    pretrain: PretrainConfig = _section(PretrainConfig)
    reduce: ReduceConfig = _section(ReduceConfig)
    cluster: ClusterConfig = _section(ClusterConfig)
    metrics: MetricsConfig = _section(MetricsConfig)


# --------------------------------------------------------------------------- conversion


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict (tuples become lists) suitable for YAML/JSON."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key)
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config key '{key}' must be a list, got {value!r}")
        return tuple(_coerce(v, args[0], key) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"config key '{key}' must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ValueError(f"config key '{key}' must be an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"config key '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError(f"config key '{key}' must be a string, got {value!r}")
        return str(value)
    return value


def from_dict(data: dict[str, Any] | None, cls: type = ExperimentConfig, *, _prefix: str = "") -> Any:
    """Build a config from a (partial) nested dict; unknown keys are an error naming the allowed ones."""
    data = dict(data or {})
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        where = f"section '{_prefix.rstrip('.')}'" if _prefix else "the config"
        raise ValueError(f"unknown key(s) {unknown} in {where}; allowed: {names}")
    kwargs: dict[str, Any] = {}
    for name in names:
        if name not in data:
            continue
        tp = hints[name]
        value = data[name]
        key = _prefix + name
        if dataclasses.is_dataclass(tp):
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise ValueError(f"config section '{key}' must be a mapping, got {value!r}")
            kwargs[name] = from_dict(value, tp, _prefix=key + ".")
        else:
            kwargs[name] = _coerce(value, tp, key)
    return cls(**kwargs)


def to_flat(cfg: Any) -> dict[str, Any]:
    """Flat ``{"section.key": value}`` view (tuples become lists)."""
    out: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            else:
                out[prefix + k] = v

    walk(to_dict(cfg), "")
    return out


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = nested
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"config key '{key}' conflicts with a non-section value")
        node[parts[-1]] = value
    return nested


def from_flat(flat: dict[str, Any]) -> ExperimentConfig:
    """Inverse of :func:`to_flat`; missing keys take their defaults."""
    return from_dict(_unflatten(flat))


def with_overrides(cfg: ExperimentConfig, overrides: dict[str, Any]) -> ExperimentConfig:
    """A new config with dotted-key overrides applied (the original is left untouched)."""
    if not overrides:
        return cfg
    known = to_flat(ExperimentConfig())
    for key in overrides:
        if key not in known:
            close = [k for k in known if k.split(".")[-1] == key.split(".")[-1]]
            hint = f" (did you mean {close}?)" if close else ""
            raise ValueError(f"unknown config key '{key}'{hint}; see `simcse-lab config --keys`")
    flat = to_flat(cfg)
    flat.update(overrides)
    return from_flat(flat)


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Parse ``["a.b=1", "c.d=[x, y]"]``; values are read as YAML scalars or lists."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ValueError(f"override {item!r}: value is not valid YAML ({exc})") from None
    return out


def to_yaml(cfg: ExperimentConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def config_hash(cfg: Any, n: int = 12) -> str:
    """Stable short hash of the config's content (key order and tuple/list form do not matter)."""
    blob = json.dumps(to_dict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:n]


def list_profiles() -> list[str]:
    """Names of the profiles shipped with the package (``simcse_lab/profiles/*.yaml``)."""
    root = resources.files("simcse_lab") / "profiles"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_config(
    source: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> ExperimentConfig:
    """Load a profile name or YAML path (None: defaults) and apply dotted-key overrides."""
    if source is None:
        data: dict[str, Any] = {}
    else:
        path = Path(source)
        if path.suffix in {".yaml", ".yml"} or path.exists():
            if not path.is_file():
                raise FileNotFoundError(f"config file not found: {path}")
            text = path.read_text()
        elif str(source) in list_profiles():
            text = (resources.files("simcse_lab") / "profiles" / f"{source}.yaml").read_text()
        else:
            raise ValueError(f"unknown profile {str(source)!r}; profiles: {list_profiles()}, or give a YAML path")
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"config {source}: invalid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError(f"config {source}: top level must be a mapping")
    return with_overrides(from_dict(data), overrides or {})


SECTIONS = ("corpus", "encode", "models", "train", "pretrain", "reduce", "cluster", "metrics")


def param_name(key: str) -> str:
    """Notebook parameter name of a dotted key: ``corpus.n_samples`` -> ``corpus_n_samples``."""
    return key.replace(".", "_", 1)


def key_of_param(name: str) -> str | None:
    """Dotted key of a notebook parameter name, or None if it is not a config key."""
    known = to_flat(ExperimentConfig())
    if name in known:
        return name
    head, _, rest = name.partition("_")
    if head in SECTIONS and f"{head}.{rest}" in known:
        return f"{head}.{rest}"
    return None


def from_params(params: dict[str, Any], *, base: str | Path | None = None) -> ExperimentConfig:
    """Build a config from notebook/papermill parameters.

    ``params`` may hold flat names (``corpus_n_samples``), dotted keys (``corpus.n_samples``) or
    whole sections as dicts (``corpus={"n_samples": 500}``, which is what ``papermill -f`` injects
    for a YAML file written like a config file). Values of ``None`` keep the base's value; other
    names are ignored, so a notebook may pass its whole namespace. ``base`` is a profile name or
    YAML path (None: the defaults).

    >>> cfg = from_params({"corpus_n_samples": 200, "train": {"epochs": 0.5}, "unrelated": 1}, base="default")
    >>> cfg.corpus.n_samples, cfg.train.epochs, cfg.models.simcse_from
    (200, 0.5, ('minilm',))
    """
    overrides: dict[str, Any] = {}
    for name, value in params.items():
        if name in SECTIONS and isinstance(value, dict):
            for k, v in value.items():
                if v is not None:
                    overrides[f"{name}.{k}"] = v
            continue
        key = key_of_param(name)
        if key is not None and value is not None:
            overrides[key] = value
    return load_config(base, overrides)


def describe(cls: type = ExperimentConfig, prefix: str = "") -> list[tuple[str, Any, str]]:
    """``(dotted key, default, help)`` for every leaf field, for CLI and notebook documentation."""
    rows: list[tuple[str, Any, str]] = []
    hints = _hints(cls)
    default = cls()
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            rows.extend(describe(hints[f.name], prefix + f.name + "."))
        else:
            value = getattr(default, f.name)
            rows.append((prefix + f.name, list(value) if isinstance(value, tuple) else value, f.metadata["help"]))
    return rows
