"""Which texts a run scores and which it trains on.

- `load_corpus_for`: the corpus a config scores: its ``corpus`` section (dev/test half,
  sample); with ``corpus.heldout``, only the held-out part that no model trains on;
- `load_training_texts_for`: the texts label-free training uses (the sample, or its
  training part), texts only;
- `split_heldout`: a stratified held-out slice for SimCSE's in-training evaluator.

With ``corpus.half`` the data (the half, the sample and the held-out part) is fixed by
``corpus.half_seed``, so runs with different seeds differ only in training, UMAP and clustering
and pair text by text.
"""

from __future__ import annotations

import numpy as np

from .cleaning import stratified_indices
from .corpus import Corpus
from .load import load_corpus

__all__ = ["load_corpus_for", "load_training_part_for", "load_training_texts_for", "split_heldout"]


def _sample_for(cfg) -> Corpus:
    c = cfg.corpus
    # with a dev/test half the data (half, sample, held-out part) is fixed by half_seed: runs with
    # different seeds then differ only in training, UMAP and clustering, and pair text by text
    seed = c.half_seed if c.half is not None else cfg.seed
    return load_corpus(
        c.source,
        text_column=c.text_column,
        label_columns=c.label_columns,
        level=c.level,
        n_samples=c.n_samples,
        dedupe=c.dedupe,
        drop_labels=c.drop_labels,
        majority_share=c.majority_share,
        min_class_size=c.min_class_size,
        seed=seed,
        half=c.half,
        half_seed=c.half_seed,
        data_dir=cfg.data_dir,
    )


def _heldout_parts(cfg, corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training part and of the held-out (scored) part of ``corpus``."""
    seed = cfg.corpus.half_seed if cfg.corpus.half is not None else cfg.seed
    n_held = int(round(cfg.corpus.heldout * len(corpus)))
    y = corpus.label_array() if corpus.is_labelled else None
    held = stratified_indices(y, len(corpus), n_held, seed)
    return np.setdiff1d(np.arange(len(corpus)), held), held


#: fewer texts than this are refused before anything is encoded: too few to cluster and score
MIN_SCORED_TEXTS = 10


def load_corpus_for(cfg) -> Corpus:
    """The corpus an `ExperimentConfig` scores: its ``corpus`` section,
    sampled with its seed; with ``corpus.heldout``, only the held-out part no model trains on.
    Fewer than `MIN_SCORED_TEXTS` texts to score is refused in one line, with the counts."""
    corpus = _sample_for(cfg)
    if not cfg.corpus.heldout:
        if len(corpus) < MIN_SCORED_TEXTS:
            raise ValueError(
                f"corpus '{corpus.name}' has {len(corpus)} distinct texts after cleaning; clustering and scoring need"
                f" at least {MIN_SCORED_TEXTS}: give more texts"
            )
        return corpus
    train, held = _heldout_parts(cfg, corpus)
    if len(held) < MIN_SCORED_TEXTS:
        raise ValueError(
            f"corpus '{corpus.name}' has {len(corpus)} distinct texts after cleaning, and corpus.heldout="
            f"{cfg.corpus.heldout} leaves {len(held)} to cluster and score ({len(train)} train); clustering and"
            f" scoring need at least {MIN_SCORED_TEXTS}: give more texts or raise corpus.heldout"
        )
    return corpus.subset(held, report={"held_out_for_scoring": len(held)})


def load_training_texts_for(cfg) -> list[str]:
    """The texts label-free training uses: the whole sample, or with ``corpus.heldout`` the part
    that is not scored. Never any label."""
    corpus = _sample_for(cfg)
    if not cfg.corpus.heldout:
        return list(corpus.texts)
    train, _ = _heldout_parts(cfg, corpus)
    return [corpus.texts[i] for i in train]


def load_training_part_for(cfg) -> Corpus:
    """The training part with its labels: only for the ceiling reference (``truelabels``), which
    trains on labels by design; every label-free method reads `load_training_texts_for`."""
    corpus = _sample_for(cfg)
    if not cfg.corpus.heldout:
        return corpus
    train, _ = _heldout_parts(cfg, corpus)
    return corpus.subset(train)


def split_heldout(
    corpus: Corpus, *, n_eval: int, seed: int, stratify: bool = True
) -> tuple[list[str], list[str], np.ndarray | None]:
    """Training texts and a stratified held-out slice (texts, main-level labels) of ``n_eval``
    texts (at most half the corpus) that training never sees, both in corpus order. With
    ``stratify=False`` (keep-best without labels) the slice is a seeded random one and no labels
    are read (None).

    >>> c = Corpus([f"t{i}" for i in range(8)], {"L": np.array(list("aabbaabb"))}, "toy", "0")
    >>> train, held, y = split_heldout(c, n_eval=4, seed=0)
    >>> len(train), len(held), sorted(y.tolist())
    (4, 4, ['a', 'a', 'b', 'b'])
    """
    from sklearn.model_selection import train_test_split

    if not stratify:
        train_idx, eval_idx = train_test_split(
            np.arange(len(corpus)), test_size=min(n_eval, len(corpus) // 2), random_state=seed
        )
        return [corpus.texts[i] for i in sorted(train_idx)], [corpus.texts[i] for i in sorted(eval_idx)], None
    labels = corpus.label_array()
    n_eval = min(n_eval, len(corpus) // 2)
    if n_eval < len(np.unique(labels)):
        raise ValueError(
            f"a held-out slice of {n_eval} texts leaves too few for each of {len(np.unique(labels))} classes"
        )
    train_idx, eval_idx = train_test_split(np.arange(len(corpus)), test_size=n_eval, stratify=labels, random_state=seed)
    texts = corpus.texts
    return [texts[i] for i in sorted(train_idx)], [texts[i] for i in sorted(eval_idx)], labels[np.sort(eval_idx)]
