"""The configuration schema: one frozen dataclass per section, every field with a default, a
one-line help and, where it has them, its allowed values and bounds (`simcse_lab.core.fields`),
e.g. ``choices_of(ClusterConfig, "spaces")`` is ``('raw', 'umap')``.

A section's rules that tie several fields together live in its ``cross_checks`` method;
`simcse_lab.core.validation.validate` is the one place that checks them. The training
methods' sections (``neighbours``, ``sccl``, ...) live beside each method and are registered with
it (`simcse_lab.core.registry.METHODS`): `ExperimentConfig` is assembled from the
sections below plus the registered ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .devices import DEVICE_PATTERN, device_problems
from .engines import RayConfig
from .fields import choices_of
from .fields import section as _section
from .fields import setting as _f
from .registry import METHODS, SIGNALS
from .schema_clustering import ClusterConfig, ReduceConfig

__all__ = [
    "ClusterConfig",
    "CorpusConfig",
    "EncodeConfig",
    "ExperimentConfig",
    "MetricsConfig",
    "ModelsConfig",
    "PretrainConfig",
    "RayConfig",
    "ReduceConfig",
    "SECTION_NAMES",
    "TrainConfig",
    "choices_of",
    "method_sections",
]

POOLING_MODES = ("mean", "cls", "max")


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
    n_samples: int | None = _f(3000, "stratified subsample size (None: all rows)", ge=2)
    dedupe: bool = _f(True, "drop exact duplicate texts (they would be false negatives in a SimCSE batch)")
    drop_labels: tuple[str, ...] = _f((), "classes of the main level to drop before sampling")
    majority_share: float | None = _f(
        None,
        "fraction of the sample drawn from the main level's largest class, the"
        " rest stratified over the others: an imbalanced corpus (None: as is)",
        gt=0,
        lt=1,
    )
    min_class_size: int = _f(2, "drop classes of the main level with fewer rows than this", ge=1)
    half: str | None = _f(
        None,
        "dev or test: keep one half of the cleaned corpus (stratified, seeded by half_seed, before"
        " sampling), so settings chosen on dev are reported on texts they never saw (None: all)",
        choices=("dev", "test"),
    )
    half_seed: int = _f(0, "seed of the dev/test halving (fixed, so every run seed sees the same halves)")
    heldout: float = _f(
        0.0,
        "fraction of the sample that trained models never see; the table scores only these texts"
        " (0: train and score on the same texts, as in the seed article)",
        ge=0,
        lt=1,
    )


@dataclass(frozen=True)
class EncodeConfig:
    """How every neural model turns texts into vectors (the same for all, for a fair comparison)."""

    batch_size: int = _f(16, "texts per forward pass (16 encoded fastest on 2 CPU cores here; raise it on a GPU)", ge=1)
    max_seq_length: int = _f(128, "tokens kept per text; longer texts are truncated", ge=1)
    pooling: str = _f("mean", "pooling for plain transformers checkpoints: mean, cls or max", choices=POOLING_MODES)
    normalize: bool = _f(True, "L2-normalise embeddings")
    device: str | None = _f(
        None, "torch device: cpu, cuda, cuda:N or mps (None: cuda if available, else cpu)", pattern=DEVICE_PATTERN
    )
    backend: str = _f(
        "auto",
        "torch, onnx, onnx-int8, openvino, or auto: on CPU the fastest variant whose embeddings match torch's"
        " (cosine >= 0.99 per text) when this machine's speed record (simcse-lab probe-backends) says the texts"
        " repay its export, else torch",
        choices=("auto", "torch", "onnx", "onnx-int8", "openvino"),
    )
    cache: bool = _f(
        True,
        "cache embeddings, UMAP projections and clusterings with their scores (interim/embeddings,"
        " projections, clusterings) under <data_dir>",
    )
    show_progress: bool = _f(True, "show progress bars")
    engine: str = _f(
        "local",
        "where vectors are made: local (this process), multiprocess (sentence-transformers' pool over"
        " encode.devices) or ray (Ray Data actors, see the ray section); every engine gives the same embeddings",
        choices=("local", "multiprocess", "ray"),
    )
    devices: tuple[str, ...] = _f(
        ("cpu", "cpu"), "devices of the multiprocess engine, one process each (cuda:0, ...)", pattern=DEVICE_PATTERN
    )

    def cross_checks(self) -> list[str]:
        return device_problems("encode.device", [self.device] if self.device else []) + (
            device_problems("encode.devices", self.devices) if self.engine == "multiprocess" else []
        )


@dataclass(frozen=True)
class ModelsConfig:
    """Which models enter the comparison."""

    encoders: tuple[str, ...] = _f(
        ("tfidf-lsa", "minilm"),
        "model specs encoded as they are: aliases (minilm, tfidf-lsa, random-init, mlm: MLM-pretrained on the"
        " corpus per the pretrain section), folders, hub ids, or trained specs such as simcse(minilm)",
    )
    simcse_from: tuple[str, ...] = _f(("minilm",), "model specs to fine-tune with unsupervised SimCSE on the corpus")
    supervised_simcse_from: tuple[str, ...] = _f(
        (), "model specs to fine-tune with supervised SimCSE on SNLI triplets (premise, entailment, contradiction)"
    )

    def cross_checks(self) -> list[str]:
        if not (self.encoders or self.simcse_from or self.supervised_simcse_from):
            return ["models.encoders, models.simcse_from and models.supervised_simcse_from are all empty"]
        return []


@dataclass(frozen=True)
class TrainConfig:
    """Unsupervised SimCSE training (sentence-transformers trainer + MultipleNegativesRankingLoss)."""

    epochs: float = _f(1.0, "passes over the training texts", gt=0)
    batch_size: int = _f(32, "texts per batch; each sees batch_size - 1 in-batch negatives", ge=2)
    learning_rate: float = _f(3e-5, "peak learning rate (AdamW, linear decay)", gt=0, lt=1)
    warmup_ratio: float = _f(0.1, "fraction of steps with linear warm-up", ge=0, lt=1)
    max_seq_length: int = _f(64, "tokens kept per text during training", ge=1)
    pooling: str = _f(
        "mean", "pooling when the base is a plain transformers checkpoint: mean, cls or max", choices=POOLING_MODES
    )
    scale: float = _f(20.0, "similarity scale of the loss (1 / temperature; 20 = temperature 0.05)", gt=0)
    loss: str = _f(
        "mnrl",
        "mnrl (MultipleNegativesRankingLoss) or cached-mnrl (large batches in small memory)",
        choices=("mnrl", "cached-mnrl"),
    )
    mini_batch_size: int = _f(32, "cached-mnrl: texts per forward pass (batch_size sets the negatives)", ge=1)
    attention_weight: float = _f(
        0.0, "miCSE: weight of the attention-alignment term between the two dropout views (0: plain SimCSE)", ge=0
    )
    eval_steps: int = _f(0, "every N steps, V-measure of KMeans on a held-out slice of the corpus (0: off)", ge=0)
    eval_n_texts: int = _f(500, "size of the held-out slice (taken out of the training texts)", ge=2)
    keep_best: bool = _f(True, "with eval_steps: keep the best checkpoint, or the base model if training never helped")
    keep_best_by: str = _f(
        "v_measure",
        "what eval_steps scores: v_measure (labels); without labels silhouette (own space) or verdict "
        "(metrics.verdict_signals against the untouched model; keeps it unless the verdict says better)",
        choices=("v_measure", "silhouette", "verdict"),
    )
    nli_n_triplets: int | None = _f(10_000, "supervised SimCSE: SNLI triplets used (None: all 27,195)", ge=2)
    n_texts: int | None = _f(None, "train on at most this many corpus texts (None: all)", ge=2)
    checkpoint_steps: int = _f(100, "save a resumable checkpoint every N steps", ge=1)
    logging_steps: int = _f(10, "log the loss every N steps", ge=1)
    resume: bool = _f(True, "continue an interrupted run from its last checkpoint")

    def cross_checks(self) -> list[str]:
        if self.attention_weight > 0 and self.loss == "cached-mnrl":
            return ["train.attention_weight (miCSE) works with loss=mnrl only"]
        return []


@dataclass(frozen=True)
class PretrainConfig:
    """Masked-language-model pretraining of a raw encoder (the model spec ``mlm`` in models lists)."""

    base: str | None = _f(None, "continue MLM from this checkpoint (alias, folder, hub id); None: a new BERT")
    tokenizer: str = _f("minilm", "tokenizer of a new BERT (MiniLM's uncased WordPiece vocabulary by default)")
    hidden_size: int = _f(256, "width of a new BERT", ge=1)
    num_layers: int = _f(4, "layers of a new BERT", ge=1)
    num_heads: int = _f(4, "attention heads of a new BERT", ge=1)
    intermediate_size: int | None = _f(None, "feed-forward width of a new BERT (None: 4 x hidden_size)", ge=1)
    max_steps: int = _f(300, "optimisation steps", ge=1)
    batch_size: int = _f(64, "texts per step", ge=1)
    learning_rate: float = _f(5e-4, "peak learning rate (AdamW, linear decay)", gt=0, lt=1)
    warmup_ratio: float = _f(0.06, "fraction of steps with linear warm-up", ge=0, lt=1)
    max_seq_length: int = _f(64, "tokens kept per text", ge=8)
    mlm_probability: float = _f(0.15, "fraction of tokens masked", gt=0, lt=1)
    extra_texts: str | None = _f(None, "a .txt file of additional unlabelled texts (one per line) to pretrain on")
    all_texts: bool = _f(True, "pretrain on every cleaned text of the corpus, not only the n_samples sample")
    checkpoint_steps: int = _f(100, "save a resumable checkpoint every N steps", ge=1)
    logging_steps: int = _f(10, "log the loss every N steps", ge=1)

    def cross_checks(self) -> list[str]:
        if self.base is None and self.hidden_size % self.num_heads:
            return [
                f"pretrain.hidden_size ({self.hidden_size}) must be a multiple of pretrain.num_heads ({self.num_heads})"
            ]
        return []


@dataclass(frozen=True)
class MetricsConfig:
    """Embedding-quality metrics besides clustering agreement, and their uncertainty."""

    n_alignment_texts: int = _f(256, "texts used for alignment/uniformity (0: skip)", ge=0)
    sts_splits: tuple[str, ...] = _f(
        ("dev", "test"), "STS-B splits scored by Spearman correlation (empty: skip)", choices=("train", "dev", "test")
    )
    n_bootstrap: int = _f(200, "bootstrap resamples of the scored texts for the spread of each score (0: skip)", ge=0)
    describe_clusters: bool = _f(
        True,
        "each cluster's size, top c-TF-IDF terms and texts nearest its centre, into"
        " clusters.csv, the report and the maps (false: skip, faster sweeps)",
    )
    n_seeds: int = _f(
        1, "repeat the whole comparison (sampling, training, UMAP, clustering) with seeds seed..seed+n-1", ge=1
    )
    verdict_signals: tuple[str, ...] = _f(
        ("lexical_silhouette", "lexical_nmi"),
        "what the label-free verdict on training reads: signals of both clusterings in a space"
        " the trained model did not make (simcse_lab.evaluation.signals); with several, better or worse only when"
        " every one says so",
        choices=SIGNALS.names,
    )
    verdict_abstain_across_k: str = _f(
        "kmeans",
        "where the verdict says unclear because the trained and the start model's clusterings have a"
        " different number of clusters (a score compared across granularities favours the coarser one): never;"
        " kmeans (KMeans only, whose like-for-like comparison is kmeans-start-k); always",
        choices=("never", "kmeans", "always"),
    )

    def cross_checks(self) -> list[str]:
        if self.n_bootstrap == 1:
            return [f"metrics.n_bootstrap must be 0 or >= 2, got {self.n_bootstrap}"]
        return []


_TOP = [
    (
        "name",
        str,
        _f(
            "default",
            "run name; the run folder is <runs_dir>/<name>-<config hash>-<corpus fingerprint>",
            pattern=(r"[A-Za-z0-9][A-Za-z0-9._-]*", "a plain folder name (letters, digits, '.', '_', '-')"),
        ),
    ),
    ("seed", int, _f(42, "seed for sampling, training, UMAP and clustering")),
    ("data_dir", str, _f("data", "folder for raw downloads (raw/) and caches (interim/)")),
    ("runs_dir", str, _f("runs", "folder for run outputs")),
    (
        "threads",
        int | None,
        _f(
            None,
            "CPU threads for torch, ONNX Runtime, numba and BLAS; with 2 or more, up to that many seeded"
            " UMAP fits run beside them in worker processes (None: the cores other processes leave free"
            " when the run starts)",
            ge=1,
        ),
    ),
]
_BEFORE_METHODS = [
    ("corpus", CorpusConfig),
    ("encode", EncodeConfig),
    ("models", ModelsConfig),
    ("train", TrainConfig),
    ("pretrain", PretrainConfig),
]
_AFTER_METHODS = [("ray", RayConfig), ("reduce", ReduceConfig), ("cluster", ClusterConfig), ("metrics", MetricsConfig)]


def method_sections() -> list[tuple[str, type]]:
    """``(section name, config class)`` of every registered training method that has settings."""
    out = []
    for entry in METHODS:
        name, cls = entry.meta.section, entry.meta.config
        if cls is not None and (name, cls) not in out:
            out.append((name, cls))
    return out


def _assemble() -> type:
    taken = {n for n, *_ in _TOP} | {n for n, _ in _BEFORE_METHODS + _AFTER_METHODS}
    clash = [n for n, _ in method_sections() if n in taken]
    if clash:
        raise ValueError(f"training method section(s) {clash} would replace a section of the config")
    sections = [*_BEFORE_METHODS, *method_sections(), *_AFTER_METHODS]
    cls = dataclasses.make_dataclass(
        "ExperimentConfig",
        [*_TOP, *((n, c, _section(c)) for n, c in sections)],
        frozen=True,
        namespace={
            "__doc__": "A whole comparison: corpus, models, training, reduction, clustering.",
            "__module__": __name__,
        },
    )
    return cls


ExperimentConfig: Any = _assemble()
SECTION_NAMES = tuple(f.name for f in dataclasses.fields(ExperimentConfig) if dataclasses.is_dataclass(f.type))
