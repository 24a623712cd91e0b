"""One typed, frozen configuration tree for every entry point.

The CLI flags (``--set section.key=value``), YAML files and notebook parameter cells are three
views of `ExperimentConfig`. Every field has a default and a one-line help string, the
tree round-trips through plain dicts, YAML and flat dotted keys, and `config_hash` gives a
stable identity that is saved with every run.

Examples
--------
>>> cfg = ExperimentConfig()
>>> cfg2 = with_overrides(cfg, {"corpus.n_samples": 500, "models.encoders": ["tfidf-lsa"]})
>>> cfg2.corpus.n_samples, cfg2.models.encoders
(500, ('tfidf-lsa',))
>>> from_flat(to_flat(cfg2)) == cfg2
True
>>> config_hash(cfg) == config_hash(ExperimentConfig())
True
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .hashing import content_hash
from .schema import (
    ClusterConfig,
    CorpusConfig,
    EncodeConfig,
    ExperimentConfig,
    MetricsConfig,
    ModelsConfig,
    PretrainConfig,
    ReduceConfig,
    TrainConfig,
    choices_of,
)
from .validation import did_you_mean, validate

__all__ = [
    "ClusterConfig",
    "CorpusConfig",
    "EncodeConfig",
    "ExperimentConfig",
    "MetricsConfig",
    "ModelsConfig",
    "PretrainConfig",
    "RENAMED_KEYS",
    "ReduceConfig",
    "TrainConfig",
    "choices_of",
    "config_hash",
    "from_dict",
    "from_flat",
    "list_profiles",
    "load_config",
    "parse_overrides",
    "to_dict",
    "to_flat",
    "to_yaml",
    "did_you_mean",
    "validate",
    "with_overrides",
]


# --------------------------------------------------------------------------- conversion

#: keys that have a new name: the old one is still read, with a FutureWarning that names the new
RENAMED_KEYS = {
    "cluster.methods": "cluster.clusterers",
    "cluster.kmeans_n_init": "cluster.kmeans.n_init",
    "cluster.min_cluster_size": "cluster.hdbscan.min_cluster_size",
    "cluster.min_samples": "cluster.hdbscan.min_samples",
    "cluster.soft": "cluster.hdbscan.soft",
    "cluster.evoc_n_clusters": "cluster.evoc.n_clusters",
    "cluster.evoc_noise_level": "cluster.evoc.noise_level",
}


def _renamed(old: str) -> str:
    new = RENAMED_KEYS[old]
    warnings.warn(f"config key '{old}' is now '{new}'; the old name is read for now", FutureWarning, stacklevel=4)
    return new


def _with_new_names(data: dict[str, Any]) -> dict[str, Any]:
    """A nested config dict with every old key of `RENAMED_KEYS` moved to its new place (a value
    under both names is an error: which one was meant is not clear)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for old, new in RENAMED_KEYS.items():
        section, key = old.split(".")
        if not isinstance(out.get(section), dict) or key not in out[section]:
            continue
        value = out[section].pop(key)
        _renamed(old)
        node, *parents, last = out, *new.split(".")
        for depth, part in enumerate(parents, 1):
            child = {} if node.get(part) is None else node[part]
            if not isinstance(child, dict):
                raise ValueError(f"config section '{'.'.join(parents[:depth])}' must be a mapping, got {child!r}")
            node[part] = node = dict(child)
        if last in node:
            raise ValueError(f"config keys '{old}' and '{new}' are both given; keep '{new}'")
        node[last] = value
    return out


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict (tuples become lists) suitable for YAML/JSON."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        first: ValueError | None = None
        for tp_ in inner:  # e.g. int | str (a number or "auto"): the first type that takes the value
            try:
                return _coerce(value, tp_, key)
            except ValueError as exc:
                first = first or exc
        raise first
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config key '{key}' must be a list, got {value!r}")
        return tuple(_coerce(v, args[0], key) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"config key '{key}' must be true or false, got {value!r}")
    if tp is int:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or int(value) != value
        ):
            raise ValueError(f"config key '{key}' must be an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"config key '{key}' must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"config key '{key}' must be a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError(f"config key '{key}' must be a string, got {value!r}")
        return str(value)
    return value


def from_dict(data: dict[str, Any] | None, cls: type = ExperimentConfig, *, _prefix: str = "") -> Any:
    """Build a config from a (partial) nested dict; unknown keys are an error naming the allowed ones."""
    data = _with_new_names(data or {}) if not _prefix else dict(data or {})
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        where = f"section '{_prefix.rstrip('.')}'" if _prefix else "the config"
        raise ValueError(f"unknown key(s) {unknown} in {where}; allowed: {names}")
    kwargs: dict[str, Any] = {}
    for name in names:
        if name not in data:
            continue
        tp = hints[name]
        value = data[name]
        key = _prefix + name
        if dataclasses.is_dataclass(tp):
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise ValueError(f"config section '{key}' must be a mapping, got {value!r}")
            kwargs[name] = from_dict(value, tp, _prefix=key + ".")
        else:
            kwargs[name] = _coerce(value, tp, key)
    return cls(**kwargs)


def to_flat(cfg: Any) -> dict[str, Any]:
    """Flat ``{"section.key": value}`` view (tuples become lists)."""
    out: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, prefix + k + ".")
            else:
                out[prefix + k] = v

    walk(to_dict(cfg), "")
    return out


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = nested
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"config key '{key}' conflicts with a non-section value")
        node[parts[-1]] = value
    return nested


def from_flat(flat: dict[str, Any]) -> ExperimentConfig:
    """Inverse of `to_flat`; missing keys take their defaults."""
    return from_dict(_unflatten(flat))


def with_overrides(cfg: ExperimentConfig, overrides: dict[str, Any]) -> ExperimentConfig:
    """A new config with dotted-key overrides applied (the original is left untouched)."""
    if not overrides:
        return cfg
    renamed = {_renamed(k) if k in RENAMED_KEYS else k: v for k, v in overrides.items()}
    if len(renamed) < len(overrides):
        both = [k for k in overrides if k in RENAMED_KEYS and RENAMED_KEYS[k] in overrides]
        raise ValueError(f"config keys '{both[0]}' and '{RENAMED_KEYS[both[0]]}' are both given; keep the second")
    overrides = renamed
    known = to_flat(ExperimentConfig())
    for key in overrides:
        if key not in known:
            same_name = [k for k in known if k.split(".")[-1] == key.split(".")[-1]]
            hint = f" (did you mean {same_name}?)" if same_name else did_you_mean(key, known)
            raise ValueError(f"unknown config key '{key}'{hint}; see `simcse-lab config --keys`")
    flat = to_flat(cfg)
    flat.update(overrides)
    return from_flat(flat)


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's booleans: only true/false. YAML 1.1 also reads an
    unquoted yes/no/on/off (a class named ``No``, a country code ``NO``) as a boolean."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _yaml12_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | str:
    """YAML 1.2's integers: ``017`` is 17 (YAML 1.1 read it as octal 15), ``0x1f`` hex; what 1.1
    alone calls an integer (``1:20``, ``0b11``) stays the text it is."""
    text = loader.construct_scalar(node).replace("_", "")
    digits = text.lstrip("+-").lower()
    sign = -1 if text.startswith("-") else 1
    try:
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        return int(text, 10)
    except ValueError:
        return loader.construct_scalar(node)


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _yaml12_int)


def read_yaml(text: str) -> Any:
    """YAML as a config means it (YAML 1.2 booleans and integers).

    >>> read_yaml("[No, yes, true, off, 017, 0x1f, 1:20]")
    ['No', 'yes', True, 'off', 17, 31, '1:20']
    """
    return yaml.load(text, Loader=_Yaml12Loader)  # a SafeLoader subclass


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Parse ``["a.b=1", "c.d=[x, y]"]``; values are read as YAML scalars or lists."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like section.key=value")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = read_yaml(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ValueError(f"override {item!r}: value is not valid YAML ({exc})") from None
    return out


def to_yaml(cfg: ExperimentConfig) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def config_hash(cfg: Any, n: int = 12) -> str:
    """Stable short hash of the config's content (key order and tuple/list form do not matter)."""
    return content_hash(to_dict(cfg), length=n)


def as_config(value: Any, *, where: str) -> ExperimentConfig:
    """``value`` as a config: a config as it is, a profile name or YAML path loaded; anything else
    is a TypeError that says what ``where`` takes (a dict of overrides goes through `load_config`).

    >>> as_config({"seed": 1}, where="run")
    Traceback (most recent call last):
    TypeError: run takes a config (load_config(...)), a profile name or a YAML path, got dict;
    for overrides use load_config('default', {...})
    """
    if isinstance(value, ExperimentConfig):
        return value
    if isinstance(value, (str, Path)):
        return load_config(value)
    hint = "; for overrides use load_config('default', {...})" if isinstance(value, dict) else ""
    raise TypeError(
        f"{where} takes a config (load_config(...)), a profile name or a YAML path, got {type(value).__name__}{hint}"
    )


def list_profiles() -> list[str]:
    """Names of the profiles shipped with the package (``simcse_lab/profiles/*.yaml``)."""
    root = resources.files("simcse_lab") / "profiles"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_config(source: str | Path | None = None, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Load a profile name or YAML path (None: defaults) and apply dotted-key overrides."""
    if source is None:
        data: dict[str, Any] = {}
    else:
        path = Path(source)
        if path.suffix in {".yaml", ".yml"} or path.exists():
            if not path.is_file():
                raise FileNotFoundError(f"config file not found: {path}")
            text = path.read_text()
        elif str(source) in list_profiles():
            text = (resources.files("simcse_lab") / "profiles" / f"{source}.yaml").read_text()
        else:
            raise ValueError(f"unknown profile {str(source)!r}; profiles: {list_profiles()}, or give a YAML path")
        try:
            data = read_yaml(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"config {source}: invalid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError(f"config {source}: top level must be a mapping")
    return with_overrides(from_dict(data), overrides or {})
