"""The configuration sections of projection and clustering: ``reduce`` and ``cluster`` (see
`simcse_lab.core.schema`, which assembles every section into `ExperimentConfig`).

``cluster`` holds what every clusterer shares (which clusterers, in which spaces, how k is chosen,
sampling, backend) and one sub-section per registered clusterer with settings, defined beside the
clusterer (``cluster.hdbscan.min_samples``: `simcse_lab.clustering.clusterers.hdbscan`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .fields import k_problems
from .fields import section as _section
from .fields import setting as _f
from .registry import CLUSTERERS

__all__ = ["K_RULES", "ClusterConfig", "ClusterSettings", "ReduceConfig", "clusterer_sections"]

#: the names of `simcse_lab.clustering.choose_k.RULES` (a test keeps the two the same)
K_RULES = ("best", "within-10%", "within-25%", "largest-peak", "first-peak")


@dataclass(frozen=True)
class ReduceConfig:
    """UMAP projections: an n-D space for clustering and a 2-D one for plots."""

    n_components: int = _f(5, "UMAP dimensions of the clustering space (2 reuses the plot projection)", ge=2)
    n_neighbors: int = _f(15, "UMAP neighbourhood size", ge=2)
    min_dist: float = _f(0.0, "UMAP min_dist of the clustering space (0 packs clusters tightly)", ge=0)
    plot_min_dist: float = _f(0.1, "UMAP min_dist of the 2-D plot projection", ge=0)
    metric: str = _f("cosine", "UMAP input metric")
    plot_2d: bool = _f(True, "fit a 2-D UMAP for plots and the interactive view (false: no plots, faster sweeps)")
    fit_sample: int = _f(
        20_000,
        "above sample_threshold points, fit UMAP on a seeded sample of this many and transform the rest in chunks",
        ge=100,
    )
    sample_threshold: int | None = _f(
        50_000, "corpus size above which UMAP is fitted on a sample (None: never)", ge=100
    )
    transform_chunk: int = _f(
        20_000,
        "points per UMAP transform chunk (memory stays flat as the corpus grows; with"
        " encode.engine ray the chunks run in parallel as Ray tasks)",
        ge=100,
    )


@dataclass(frozen=True)
class ClusterSettings:
    """Clusterers and the spaces they run in: the settings every clusterer shares."""

    clusterers: tuple[str, ...] = _f(
        ("kmeans", "hdbscan"), "clusterers: kmeans, hdbscan, evoc", choices=CLUSTERERS.names
    )
    spaces: tuple[str, ...] = _f(
        ("raw", "umap"), "spaces to cluster in: raw (the embedding), umap", choices=("raw", "umap")
    )
    pairs: tuple[str, ...] = _f(
        (),
        "clusterer/space pairs, e.g. [kmeans/raw, hdbscan/umap] as in the seed: a clusterer"
        " named here runs only in the spaces paired with it, the others in every space"
        " (empty: every clusterer x space)",
    )
    n_clusters: int | str | None = _f(
        None,
        "KMeans k: a number; auto (chosen without labels: the best cluster.k_criterion over"
        " cluster.k_min..k_max); None: the number of classes of the main label level, auto without labels",
        ge=2,
    )
    k_min: int = _f(2, "n_clusters auto: the smallest k tried", ge=2)  # k_max >= k_min: cross_checks
    k_max: int = _f(15, "n_clusters auto: the largest k tried", ge=2)
    k_criterion: str = _f(
        "silhouette",
        "n_clusters auto: the label-free score that picks k",
        choices=("silhouette", "davies_bouldin", "calinski_harabasz"),
    )
    k_rule: str = _f(
        "best",
        "n_clusters auto: how k is read off the criterion's curve: best, or a rule that prefers"
        " a finer clustering (within-10%, within-25%: the largest k that close to the best value;"
        " largest-peak: the largest local best; first-peak: the smallest local best)",
        choices=K_RULES,
    )
    train_k_rule: str = _f(
        "first-peak",
        "a training method's n_clusters auto (selftrain, sccl): the rule that reads its k off the same curve;"
        " first-peak stays where it is however far k_max goes, largest-peak follows it (bench/k_rules.py)",
        choices=K_RULES,
    )
    fine_level: bool = _f(
        False,
        "n_clusters auto: also cluster with KMeans at a finer k off the same curve (the"
        " best from 2x to 4x the chosen k), as clusterer kmeans-fine",
    )
    assign_training_texts: bool = _f(
        False,
        "with corpus.heldout: also place the training texts in every clustering (assignments.csv, part"
        " training), by their nearest scored texts; never scored",
    )
    assign_neighbours: int = _f(10, "assign_training_texts: how many nearest scored texts vote", ge=1)
    backend: str = _f(
        "auto",
        "cpu (scikit-learn, hdbscan, umap-learn), cuml (RAPIDS on a GPU), or auto: cuml when"
        " it imports and a GPU is present, else cpu",
        choices=("auto", "cpu", "cuml"),
    )
    fit_sample: int = _f(
        20_000,
        "above sample_threshold points, fit HDBSCAN on a seeded sample of this many and"
        " assign the rest (approximate_predict / membership_vector)",
        ge=100,
    )
    sample_threshold: int | None = _f(
        50_000,
        "corpus size above which HDBSCAN is fitted on a sample and KMeans is MiniBatchKMeans (None: never)",
        ge=100,
    )

    def cross_checks(self) -> list[str]:
        problems = k_problems("cluster.n_clusters", self.n_clusters)
        if self.k_max < self.k_min:
            problems.append(f"cluster.k_max ({self.k_max}) must be >= cluster.k_min ({self.k_min})")
        if not self.clusterers or not self.spaces:
            problems.append("cluster.clusterers and cluster.spaces must not be empty")
        for key, values in (("cluster.clusterers", self.clusterers), ("cluster.spaces", self.spaces)):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                problems.append(f"{key} lists {', '.join(twice)} twice")
        known = [f"{m}/{s}" for m in CLUSTERERS.names() for s in ("raw", "umap")]
        problems += [
            f"cluster.pairs: {pair!r} is not a clusterer/space pair ({', '.join(known)})"
            for pair in self.pairs
            if pair not in known
        ]
        if self.clusterers and self.spaces and not self.runs():
            problems.append(
                f"cluster.pairs {list(self.pairs)} leave no clusterer of cluster.clusterers {list(self.clusterers)}"
                f" a space of cluster.spaces {list(self.spaces)}"
            )
        return problems

    def _paired(self) -> dict[str, set[str]]:
        named: dict[str, set[str]] = {}
        for pair in self.pairs:
            method, _, space = pair.partition("/")
            named.setdefault(method, set()).add(space)
        return named

    def runs(self) -> list[tuple[str, str]]:
        """Every (clusterer, space) clustering to run, space by space: a clusterer named in
        ``pairs`` in the spaces paired with it, any other clusterer in every space.

        >>> ClusterConfig(clusterers=("kmeans", "hdbscan", "evoc"), pairs=("kmeans/raw", "hdbscan/umap")).runs()
        [('kmeans', 'raw'), ('evoc', 'raw'), ('hdbscan', 'umap'), ('evoc', 'umap')]
        """
        named = self._paired()
        return [(m, s) for s in self.spaces for m in self.clusterers if m not in named or s in named[m]]

    def idle_clusterers(self) -> list[str]:
        """Clusterers that ``pairs`` keep out of every selected space (the run says so, and goes on)."""
        running = {m for m, _ in self.runs()}
        return [m for m in self.clusterers if m not in running]

    def space_runs(self, space: str) -> bool:
        """Whether any clustering runs in ``space`` (a UMAP space nobody clusters is not fitted)."""
        return any(s == space for _, s in self.runs())


def clusterer_sections() -> list[tuple[str, type]]:
    """``(clusterer name, config class)`` of every registered clusterer that has settings."""
    return [(e.name, e.meta.config) for e in CLUSTERERS if e.meta.config is not None]


def _assemble() -> Any:
    clash = [n for n, _ in clusterer_sections() if n in {f.name for f in dataclasses.fields(ClusterSettings)}]
    if clash:
        raise ValueError(f"clusterer section(s) {clash} would replace a setting of the cluster section")
    return dataclasses.make_dataclass(
        "ClusterConfig",
        [(name, cls, _section(cls)) for name, cls in clusterer_sections()],
        bases=(ClusterSettings,),
        frozen=True,
        namespace={
            "__doc__": "Clusterers and the spaces they run in, with each clusterer's own settings.",
            "__module__": __name__,
        },
    )


ClusterConfig: Any = _assemble()
