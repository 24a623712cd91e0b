"""simcse-lab: learn sentence embeddings without labels and judge them by how well they cluster real text.

The public API, imported lazily so that ``import simcse_lab`` stays light (no torch,
sentence-transformers, umap-learn or hdbscan until a function needs them):

- `load_config` (`simcse_lab.core.config`): a profile name or YAML file, plus dotted-key
  overrides, as one typed `ExperimentConfig`;
- `run` (`simcse_lab.experiment`): one comparison -> a `Result`;
- `compare`: several configs, each run saved to its run folder, their tables stacked;
- `resolve` (`simcse_lab.encoding.resolve`): a model spec (``minilm``,
  ``simcse(minilm)``, a folder, a hub id) -> an encoder with ``encode(texts)``;
- `Result` (`simcse_lab.reporting.results`): tables, projections, clusterings and
  the manifest of a run, with ``save(run_dir)``.

The package is laid out by pipeline stage: ``corpus`` -> ``encoding`` -> ``training`` ->
``clustering`` -> ``evaluation`` -> ``reporting``, on a small ``core`` (config schema, registries,
paths, hashing and atomic files, devices, engines), with ``experiment``, ``sweep`` and ``cli`` on top.

Examples
--------
>>> import simcse_lab
>>> cfg = simcse_lab.load_config("default", {"corpus.n_samples": 300})
>>> cfg.corpus.n_samples
300
"""

from importlib import import_module as _import_module
from importlib import metadata as _metadata
from typing import Any as _Any

try:
    __version__ = _metadata.version("simcse-lab")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

_API = {
    "compare": "simcse_lab.experiment",
    "run": "simcse_lab.experiment",
    "load_config": "simcse_lab.core.config",
    "resolve": "simcse_lab.encoding.resolve",
    "Result": "simcse_lab.reporting.results",
}

__all__ = ["Result", "__version__", "compare", "load_config", "resolve", "run"]


def __getattr__(name: str) -> _Any:
    if name in _API:
        value = getattr(_import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'simcse_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
