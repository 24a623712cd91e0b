"""The configuration sections of projection and clustering: ``reduce`` and ``cluster`` (see
`simcse_lab.core.schema`, which assembles every section into `ExperimentConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

from .fields import k_problems
from .fields import setting as _f
from .registry import CLUSTERERS

__all__ = ["K_RULES", "ClusterConfig", "ReduceConfig"]

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
class ClusterConfig:
    """Clusterers and the spaces they run in."""

    methods: tuple[str, ...] = _f(("kmeans", "hdbscan"), "clusterers: kmeans, hdbscan, evoc", choices=CLUSTERERS.names)
    spaces: tuple[str, ...] = _f(
        ("raw", "umap"), "spaces to cluster in: raw (the embedding), umap", choices=("raw", "umap")
    )
    pairs: tuple[str, ...] = _f(
        (),
        "method/space pairs, e.g. [kmeans/raw, hdbscan/umap] as in the seed: a method"
        " named here runs only in the spaces paired with it, the others in every space"
        " (empty: every method x space)",
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
    evoc_n_clusters: int | None = _f(None, "EVoC: about this many clusters (None: EVoC picks them itself)", ge=2)
    evoc_noise_level: float = _f(0.5, "EVoC noise_level (0: fewer noise points, 1: more)", ge=0, le=1)
    kmeans_n_init: int = _f(10, "KMeans restarts", ge=1)
    min_cluster_size: int | None = _f(
        None, "HDBSCAN min_cluster_size (None: 2.5% of the corpus, the seed's 1000 of 40k)", ge=2
    )
    min_samples: int = _f(10, "HDBSCAN min_samples", ge=1)
    soft: bool = _f(True, "HDBSCAN labels = argmax of all_points_membership_vectors (as in the seed)")
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
        if not self.methods or not self.spaces:
            problems.append("cluster.methods and cluster.spaces must not be empty")
        for key, values in (("cluster.methods", self.methods), ("cluster.spaces", self.spaces)):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                problems.append(f"{key} lists {', '.join(twice)} twice")
        known = [f"{m}/{s}" for m in CLUSTERERS.names() for s in ("raw", "umap")]
        problems += [
            f"cluster.pairs: {pair!r} is not a method/space pair ({', '.join(known)})"
            for pair in self.pairs
            if pair not in known
        ]
        if self.methods and self.spaces and not self.runs():
            problems.append(
                f"cluster.pairs {list(self.pairs)} leave no clusterer of cluster.methods {list(self.methods)}"
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
        """Every (method, space) clustering to run, space by space: a method named in ``pairs``
        in the spaces paired with it, any other method in every space.

        >>> ClusterConfig(methods=("kmeans", "hdbscan", "evoc"), pairs=("kmeans/raw", "hdbscan/umap")).runs()
        [('kmeans', 'raw'), ('evoc', 'raw'), ('hdbscan', 'umap'), ('evoc', 'umap')]
        """
        named = self._paired()
        return [(m, s) for s in self.spaces for m in self.methods if m not in named or s in named[m]]

    def idle_methods(self) -> list[str]:
        """Methods that ``pairs`` keep out of every selected space (the run says so, and goes on)."""
        running = {m for m, _ in self.runs()}
        return [m for m in self.methods if m not in running]

    def space_runs(self, space: str) -> bool:
        """Whether any clustering runs in ``space`` (a UMAP space nobody clusters is not fitted)."""
        return any(s == space for _, s in self.runs())
