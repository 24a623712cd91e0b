"""Encoders: what turns texts into vectors, behind one small interface.

- `Encoder` (a protocol): ``name``, ``identity`` (exactly what determines the
  embeddings; the embedding cache keys on it) and ``encode(texts) -> (n, d) float32``;
- `SentenceEncoder`: a sentence-transformers model, loaded lazily (a run whose
  embeddings are all cached never loads it), with two-view dropout encoding for SimCSE and
  alignment;
- `TfidfLsaEncoder`: TF-IDF + TruncatedSVD, the non-neural floor.

Which encoder a model spec means is decided in `simcse_lab.encoding.resolve.resolve`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..core.arrays import l2_normalize

__all__ = ["Encoder", "SentenceEncoder", "TfidfLsaEncoder"]


@runtime_checkable
class Encoder(Protocol):
    """What the pipeline needs from a model: a name, an identity and ``encode``."""

    name: str
    identity: dict[str, Any]

    def encode(self, texts: list[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Return ``(len(texts), d)`` float32 embeddings (not necessarily normalised)."""
        ...


class SentenceEncoder:
    """A sentence-transformers model behind the `Encoder` interface.

    Give the model, or a ``loader`` that returns it: then the weights are loaded on first use,
    so a run whose embeddings are all cached never loads (or imports) torch models at all.
    """

    def __init__(
        self,
        model: Any = None,
        name: str = "model",
        identity: dict[str, Any] | None = None,
        provenance: str = "",
        *,
        loader: Callable[[], Any] | None = None,
        folder: str | Path | None = None,
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

        texts = list(texts)
        min_df = self.min_df if len(texts) >= 50 else 1
        x = TfidfVectorizer(max_features=self.max_features, min_df=min_df, sublinear_tf=True).fit_transform(texts)
        k = max(1, min(self.n_components, x.shape[1] - 1, len(texts) - 1))
        z = TruncatedSVD(n_components=k, random_state=self.seed).fit_transform(x)
        return l2_normalize(z, dtype=np.float64).astype(np.float32)
