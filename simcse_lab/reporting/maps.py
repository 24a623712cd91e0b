"""Figures that say what the clusters are: a labelled data map (datamapplot) per model, and the
curve that chose k without labels.

``labelled_map`` names each cluster on the 2-D projection by its top c-TF-IDF terms
(`simcse_lab.evaluation.describe`) with ``datamapplot.create_plot``, the field's library for
labelled data maps; noise is drawn grey, unlabelled. datamapplot tries to fetch its font from
Google Fonts and falls back to an installed one offline; that warning is silenced here.
``plot_k_choice`` draws the criterion against k for every KMeans that chose its k, the chosen k
marked and, where the corpus has labels, the number of classes beside it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cluster_names", "labelled_map", "plot_k_choice"]


def cluster_names(
    labels: np.ndarray, terms: dict[int, str], *, n_terms: int = 3, noise: str = "Unlabelled"
) -> np.ndarray:
    """One name per point: its cluster's first ``n_terms`` terms (``noise`` for -1 or no terms).

    >>> cluster_names(np.array([0, 1, -1]), {0: "dress, fit, size, small", 1: ""}).tolist()
    ['dress, fit, size', 'cluster 1', 'Unlabelled']
    """
    names = {c: ", ".join(t.split(", ")[:n_terms]) if t else f"cluster {c}" for c, t in terms.items()}
    return np.array([noise if int(c) == -1 else names.get(int(c), f"cluster {c}") for c in labels], dtype=object)


def labelled_map(
    xy: np.ndarray,
    labels: np.ndarray,
    terms: dict[int, str],
    path: str | Path,
    *,
    title: str,
    sub_title: str = "",
    dpi: int = 90,
) -> Path:
    """A datamapplot PNG of ``xy`` with every cluster named by its terms."""
    from ..core.jit_cache import import_with_jit_cache

    try:
        datamapplot = import_with_jit_cache("datamapplot")  # its datashader kernels compile once, then load
    except ImportError:
        raise ImportError("labelled maps need datamapplot: pip install datamapplot") from None
    import logging

    names = cluster_names(labels, terms)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # "no weight 900 for DejaVu Sans"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Cannot reach Google APIs to download the font": offline, by design
        fig, _ = datamapplot.create_plot(
            np.asarray(xy, dtype=np.float32),
            names,
            title=title,
            sub_title=sub_title,
            font_family="DejaVu Sans",
            figsize=(10, 10),
            dpi=dpi,
        )
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return Path(path)


def plot_k_choice(k_choices: dict[str, dict[str, Any]], *, ax=None, title: str | None = None):
    """The label-free criterion against k, one line per (model, clusterer/space); the chosen k is
    a filled marker and the number of classes (when known) a dotted line."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4.5))
    criteria = set()
    classes = set()
    for name, choice in k_choices.items():
        ks = [int(k) for k in choice["curve"]]
        values = list(choice["curve"].values())
        (line,) = ax.plot(ks, values, marker=".", label=f"{name}: k={choice['k']}")
        ax.plot([choice["k"]], [choice["curve"][str(choice["k"])]], "o", ms=9, color=line.get_color())
        criteria.add(choice["criterion"])
        if choice.get("n_classes"):
            classes.add(int(choice["n_classes"]))
    for n in classes:
        ax.axvline(n, ls=":", color="grey", label=f"{n} classes (not used)")
    ax.set_xlabel("k")
    ax.set_ylabel(", ".join(sorted(criteria)))
    ax.legend(fontsize="small", frameon=False)
    ax.set_title(title or "k chosen without labels")
    return ax
