"""Every text gets a cluster: the texts a run trained on, placed in the clusters of the texts it scored.

With ``corpus.heldout`` a run clusters and scores only the held-out part, so that the verdict on
training reads texts the trained model never saw. A user who asked for their texts to be clustered
still wants the rest placed: with ``cluster.assign_training_texts`` every clustering is extended to
the training part by a vote of each training text's ``n_neighbors`` nearest held-out texts in the
model's own vectors (scikit-learn's `KNeighborsClassifier`, cosine distance, weighted by distance).
The extension never changes a held-out text's cluster and never enters a score or the verdict;
``assignments.csv`` marks each row's ``part`` (``scored`` or ``training``).

Examples
--------
>>> scored = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> assign_by_neighbours(scored, np.array([0, 0, 1, 1]), np.array([[0.95, 0.05], [0.05, 0.95]]), n_neighbors=2)
array([0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["TrainingPart", "assign_by_neighbours", "assign_training_part"]


def assign_by_neighbours(
    scored: np.ndarray, labels: np.ndarray, others: np.ndarray, *, n_neighbors: int = 10
) -> np.ndarray:
    """The cluster of each row of ``others``: the distance-weighted vote of its ``n_neighbors``
    nearest rows of ``scored`` (cosine distance), whose clusters are ``labels`` (noise, -1, votes too)."""
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels)
    if len(others) == 0:
        return np.empty(0, dtype=labels.dtype)
    knn = KNeighborsClassifier(n_neighbors=min(n_neighbors, len(scored)), weights="distance", metric="cosine")
    return knn.fit(np.asarray(scored), labels).predict(np.asarray(others)).astype(labels.dtype)


@dataclass
class TrainingPart:
    """The training part's texts, their rows in the source, and their cluster in every clustering."""

    texts: list[str]
    ids: list[int] | None
    labels: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)


def assign_training_part(
    cfg: Any, runs: list[Any], cluster_labels: dict[tuple[str, str, str], np.ndarray], ctx: Any, timer: Any
) -> TrainingPart | None:
    """Encode the training part with every model of ``runs`` (the embedding cache answers what was
    already encoded, such as the start model's vectors for a training k) and place it in each of
    ``cluster_labels``' clusterings; None without ``corpus.heldout`` (every text was scored) or
    with ``cluster.assign_training_texts`` off."""
    if not cfg.corpus.heldout or not cfg.cluster.assign_training_texts:
        return None
    from ..corpus.splits import load_training_part_for
    from ..encoding.encode import encode_with_config
    from ..encoding.resolve import resolve

    part = load_training_part_for(cfg)
    out = TrainingPart(list(part.texts), part.ids.tolist() if part.ids is not None else None)
    for mr in runs:
        with timer(f"place the training texts: {mr.name}"):
            x = encode_with_config(resolve(mr.name, cfg, ctx=ctx, name=mr.name), out.texts, cfg, normalize=True)
            for key, labels in cluster_labels.items():
                if key[0] == mr.name:
                    out.labels[key] = assign_by_neighbours(
                        mr.embeddings, labels, x, n_neighbors=cfg.cluster.assign_neighbours
                    )
    return out
