"""What every label-free method shares: its inputs, its embeddings, its k, and one training round.

Every method trains only on the texts of the corpus (its training part, see ``corpus.heldout``),
never on its labels: the one number some may take from the labels is the number of clusters
(``sccl.n_clusters``, ``selftrain.n_clusters``: None means the number of classes of the main
level, as MTEB gives its clustering tasks; ``auto`` chooses k without labels, and so does None on
a corpus without labels). A test proves it: shuffling the labels leaves every
trained model bit-identical.

Every round is a keyed, resumable training run (`simcse_lab.training.lifecycle`) whose key
holds the method's settings, so a method run is reused by every later comparison that asks for it.
This module is imported while the config schema is assembled, so the package's heavier modules are
imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ...encoding.resolve import Resolved, SpecContext
    from ..lifecycle import TrainResult

__all__ = [
    "MethodInputs",
    "embed",
    "method_inputs",
    "n_clusters_for",
    "pseudo_labels",
    "settings_for_training",
    "train_round",
    "with_chosen_k",
]


@dataclass(frozen=True)
class MethodInputs:
    """What a method ``name(base)`` starts from: its spec, the config, its own section and the
    texts it may train on."""

    spec: str
    cfg: Any
    settings: Any
    texts: list[str]


def method_inputs(method: str, section: str | None, base: Resolved, ctx: SpecContext) -> MethodInputs:
    """The spec ``method(base)``, the config, ``cfg.<section>`` (None without one) and the training texts."""
    spec = f"{method}({base.spec})"
    cfg = ctx.need_config(spec)
    return MethodInputs(spec, cfg, getattr(cfg, section) if section else None, ctx.get_train_texts(spec))


def embed(target: str, texts: list[str], cfg: Any) -> np.ndarray:
    """The model's L2-normalised embeddings of ``texts`` (cached, like the comparison's)."""
    from ...encoding.encode import encode_with_config
    from ...encoding.resolve import load_encoder

    encoder = load_encoder(
        target,
        max_seq_length=cfg.encode.max_seq_length,
        pooling=cfg.train.pooling,
        device=cfg.encode.device,
        data_dir=cfg.data_dir,
        seed=cfg.seed,
    )
    return encode_with_config(encoder, texts, cfg, normalize=True)


def pseudo_labels(x: np.ndarray, n_clusters: int, *, confidence: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """KMeans cluster of every row, and the rows kept as confident: in each cluster the
    ``confidence`` fraction closest to its centre (at least 2 per cluster)."""
    from ...clustering.clusterers import KMeansClusterer

    km = KMeansClusterer(n_clusters=n_clusters, n_init=10, random_state=seed)
    labels = km.fit_predict(x)
    dist = np.linalg.norm(x - km.cluster_centers_[labels], axis=1)
    keep = []
    for c in range(n_clusters):
        members = np.flatnonzero(labels == c)
        n_keep = max(2, int(math.ceil(confidence * len(members)))) if len(members) >= 2 else 0
        keep += members[np.argsort(dist[members], kind="stable")[:n_keep]].tolist()
    return labels, np.sort(np.asarray(keep, dtype=np.int64))


def n_clusters_for(
    setting: int | str | None, ctx: SpecContext, spec: str, x: np.ndarray | None = None
) -> tuple[int, dict | None]:
    """A method's k and, when it was chosen without labels, the choice (`choose_k`'s record).

    A number is used as it is; None is the number of classes of the main label level on a
    labelled corpus; ``auto`` (and None on a corpus without labels) is chosen on ``x``, the start
    model's embeddings of the training texts, by the config's ``cluster.k_criterion`` over
    ``cluster.k_min..k_max`` as the comparison's KMeans chooses its k, read off the curve by
    ``cluster.train_k_rule``."""
    if isinstance(setting, int):
        return _fits(setting, spec, x, "its setting"), None
    corpus = ctx.get_corpus(spec)
    if setting is None and corpus.is_labelled:
        return _fits(len(np.unique(corpus.label_array())), spec, x, "the number of classes"), None
    if x is None:
        raise ValueError(f"{spec}: choosing k without labels needs the start model's embeddings")
    from ...clustering.choose_k import choose_k
    from ...evaluation.scoring import k_criterion

    c, seed = ctx.need_config(spec).cluster, ctx.need_config(spec).seed
    score, higher = k_criterion(c.k_criterion, seed=seed)
    choice = choose_k(
        x,
        score=score,
        higher_is_better=higher,
        criterion=c.k_criterion,
        k_min=c.k_min,
        k_max=c.k_max,
        seed=seed,
        rule=c.train_k_rule,
    )
    ctx.k_choices[spec] = choice.as_dict()  # the run's manifest shows it beside the scored KMeans' choices
    return choice.k, choice.as_dict()


def _fits(k: int, spec: str, x: np.ndarray | None, what: str) -> int:
    """``k`` when the training texts can hold ``k`` clusters of two texts each, else one line naming the key."""
    if x is not None and 2 * k > len(x):
        method = spec.split("(", 1)[0]
        raise ValueError(
            f"{method}.n_clusters={k} ({what}) is too many clusters for {len(x)} training texts: each cluster needs"
            f" 2, so at most {len(x) // 2}; lower {method}.n_clusters or use auto"
        )
    return k


def with_chosen_k(method_cfg: Any, k: int, choice: dict | None) -> Any:
    """The method's settings with a k chosen without labels written in, so that the trained model's
    cache key holds the k it was trained with (another k range that picks another k trains anew)."""
    return dataclasses.replace(method_cfg, n_clusters=k) if choice is not None else method_cfg


def settings_for_training(cfg: Any, method_cfg: Any, **changes: Any) -> Any:
    """The train section with the method's learning rate (None: the train section's own)."""
    lr = method_cfg.learning_rate or cfg.train.learning_rate
    return dataclasses.replace(cfg.train, learning_rate=lr, eval_steps=0, **changes)


def train_round(
    base: str,
    columns: dict[str, list],
    cfg: Any,
    train_cfg: Any,
    *,
    kind: str,
    method_cfg: Any,
    round_: int,
    output_dir: str | Path | None,
    **kwargs: Any,
) -> TrainResult:
    """One keyed training run of a method on text ``columns`` (its settings and round in the key)."""
    from ...core.config import to_dict
    from ..trainer import fit_columns

    return fit_columns(
        base,
        columns,
        train_cfg,
        kind=kind,
        seed=cfg.seed + round_,
        device=cfg.encode.device,
        data_dir=cfg.data_dir,
        show_progress=cfg.encode.show_progress,
        output_dir=output_dir,
        extra={"method": kind, "settings": to_dict(method_cfg) if method_cfg is not None else {}, "round": round_},
        **kwargs,
    )
