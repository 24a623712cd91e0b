"""The config as notebook parameters: flat names (``corpus_n_samples``), and the documentation of
every key for ``simcse-lab config --keys`` and the lessons' parameter cells.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .config import RENAMED_KEYS, _hints, load_config, to_flat
from .schema import ExperimentConfig
from .validation import validate

__all__ = ["SECTIONS", "check_param_names", "describe", "from_params", "key_of_param", "param_name"]


SECTIONS = tuple(name for name, tp in _hints(ExperimentConfig).items() if dataclasses.is_dataclass(tp))


def param_name(key: str) -> str:
    """Notebook parameter name of a dotted key: ``corpus.n_samples`` -> ``corpus_n_samples``,
    ``cluster.hdbscan.min_samples`` -> ``cluster_hdbscan_min_samples``."""
    return key.replace(".", "_")


def _keys() -> list[str]:
    # every dotted key a parameter may name: the old names still read, then the schema's (which win
    # where both give one parameter name: cluster_kmeans_n_init is cluster.kmeans.n_init)
    return [*RENAMED_KEYS, *to_flat(ExperimentConfig())]


def key_of_param(name: str) -> str | None:
    """Dotted key of a notebook parameter name, or None if it is not a config key."""
    keys = _keys()
    if name in keys:
        return name
    return {param_name(k): k for k in keys}.get(name)


def check_param_names(names: list[str] | Any, declared: list[str] | Any, *, where: str) -> None:
    """Refuse parameter names that are neither ``declared`` (a notebook's own parameters) nor
    config keys (``corpus_n_samples``, ``corpus.n_samples``, or a whole section), with the
    nearest allowed name: a misspelt parameter must not run silently on the default.

    >>> check_param_names(["corpus_n_samples", "baseline"], ["baseline"], where="lesson")
    >>> check_param_names(["corpus_n_sampels"], [], where="lesson")
    Traceback (most recent call last):
    ValueError: lesson: unknown parameter 'corpus_n_sampels' (did you mean 'corpus_n_samples'?); ...
    """
    import difflib

    flat = _keys()
    allowed = {*declared, *flat, *map(param_name, flat), *SECTIONS}
    unknown = [n for n in names if n not in allowed]
    if not unknown:
        return
    name = unknown[0]
    near = difflib.get_close_matches(name, [*declared, *map(param_name, flat)], n=1, cutoff=0.6)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    more = f" and {len(unknown) - 1} more ({', '.join(map(repr, unknown[1:]))})" if len(unknown) > 1 else ""
    raise ValueError(
        f"{where}: unknown parameter {name!r}{hint}{more}; its own parameters and config keys (e.g."
        " corpus_n_samples, see `simcse-lab config --keys`) are accepted"
    )


def from_params(params: dict[str, Any], *, base: str | Path | None = None) -> ExperimentConfig:
    """Build a config from notebook/papermill parameters.

    ``params`` may hold flat names (``corpus_n_samples``), dotted keys (``corpus.n_samples``) or
    whole sections as dicts (``corpus={"n_samples": 500}``, which is what ``papermill -f`` injects
    for a YAML file written like a config file). Values of ``None`` keep the base's value; other
    names are ignored, so a notebook may pass its whole namespace. ``base`` is a profile name or
    YAML path (None: the defaults).

    >>> cfg = from_params({"corpus_n_samples": 200, "train": {"epochs": 0.5}, "unrelated": 1}, base="default")
    >>> cfg.corpus.n_samples, cfg.train.epochs, cfg.models.simcse_from
    (200, 0.5, ('minilm',))
    """
    overrides: dict[str, Any] = {}
    for name, value in params.items():
        if name in SECTIONS and isinstance(value, dict):
            overrides.update({k: v for k, v in _flat_section(name, value).items() if v is not None})
            continue
        key = key_of_param(name)
        if key is not None and value is not None:
            overrides[key] = value
    cfg = load_config(base, overrides)
    validate(cfg)  # a bad parameter fails in the notebook's config cell, naming the key
    return cfg


def _flat_section(prefix: str, value: dict[str, Any]) -> dict[str, Any]:
    # a section as papermill injects it, sub-sections included: {"kmeans": {"n_init": 3}} -> cluster.kmeans.n_init
    out: dict[str, Any] = {}
    for k, v in value.items():
        key = f"{prefix}.{k}"
        out.update(_flat_section(key, v) if isinstance(v, dict) and key not in _keys() else {key: v})
    return out


def describe(cls: type = ExperimentConfig, prefix: str = "") -> list[tuple[str, Any, str]]:
    """``(dotted key, default, help)`` for every leaf field, for CLI and notebook documentation."""
    rows: list[tuple[str, Any, str]] = []
    hints = _hints(cls)
    default = cls()
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            rows.extend(describe(hints[f.name], prefix + f.name + "."))
        else:
            value = getattr(default, f.name)
            rows.append((prefix + f.name, list(value) if isinstance(value, tuple) else value, f.metadata["help"]))
    return rows
