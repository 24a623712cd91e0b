"""Checking a config against the rules its fields declare, with every problem listed at once."""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from typing import Any

from .fields import allowed_values
from .schema import ExperimentConfig, TrainConfig  # noqa: F401 - TrainConfig: the doctest

__all__ = ["did_you_mean", "validate"]


def did_you_mean(value: Any, allowed: typing.Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest allowed value, or ``""``."""
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_BOUNDS = {
    "ge": (">=", lambda v, b: v >= b),
    "gt": (">", lambda v, b: v > b),
    "le": ("<=", lambda v, b: v <= b),
    "lt": ("<", lambda v, b: v < b),
}


def _field_problems(section: Any, prefix: str) -> list[str]:
    problems: list[str] = []
    for f in dataclasses.fields(section):
        value, key, rules = getattr(section, f.name), prefix + f.name, f.metadata
        if dataclasses.is_dataclass(value):
            problems += _field_problems(value, key + ".")
            continue
        if value is None:
            continue
        if "choices" in rules:
            allowed = allowed_values(rules["choices"])
            for item in value if isinstance(value, tuple) else (value,):
                if item in allowed:
                    continue
                hint = did_you_mean(item, allowed)
                if isinstance(value, tuple):
                    problems.append(f"{key}: unknown value {item!r} (allowed: {', '.join(allowed)}){hint}")
                else:
                    problems.append(f"{key} must be one of {list(allowed)}, got {item!r}{hint}")
        if "pattern" in rules:
            for item in value if isinstance(value, tuple) else (value,):
                if not isinstance(item, str) or not re.fullmatch(rules["pattern"][0], item):
                    problems.append(f"{key} must be {rules['pattern'][1]}, got {item!r}")
        bounds = [(_BOUNDS[k], rules[k]) for k in ("ge", "gt", "le", "lt") if k in rules]
        if bounds and isinstance(value, str):  # a word a numeric field allows ("auto"): its section checks it
            bounds = []
        if any(not ok(value, b) for (_, ok), b in bounds):
            problems.append(f"{key} must be {' and '.join(f'{op} {b}' for (op, _), b in bounds)}, got {value}")
    if hasattr(section, "cross_checks"):
        problems += section.cross_checks()
    return problems


def validate(section: Any) -> None:
    """Check a config, or one of its sections, against the allowed values and bounds declared in
    `simcse_lab.core.schema`; raise one ``ValueError`` that lists every problem at once.

    >>> validate(ExperimentConfig())
    >>> validate(TrainConfig(epochs=0, loss="mrnl"))
    Traceback (most recent call last):
    ...
    ValueError: train.epochs must be > 0, got 0;
    train.loss must be one of ['mnrl', 'cached-mnrl'], got 'mrnl' (did you mean 'mnrl'?)
    """
    prefix = "" if isinstance(section, ExperimentConfig) else _section_name(type(section)) + "."
    problems = _field_problems(section, prefix)
    if problems:
        raise ValueError("; ".join(problems))


def _section_name(cls: type) -> str:
    for f in dataclasses.fields(ExperimentConfig):
        if typing.get_type_hints(ExperimentConfig)[f.name] is cls:
            return f.name
    raise TypeError(f"{cls.__name__} is not a section of ExperimentConfig")
