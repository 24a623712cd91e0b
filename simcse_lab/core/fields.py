"""How a config field is declared: its default, one-line help and the rules it is checked against.

Every section of the config (in `simcse_lab.core.schema`, or beside the training method it
belongs to) declares its fields with `setting` and is nested with `section`. Allowed
values sit next to the field they constrain; ``choices`` may be a callable that returns them, so
that a registry (`simcse_lab.core.registry`) is their one owner.

This module imports nothing of the package, so a training method's module (which is imported while
the schema is being assembled) can declare its section with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

__all__ = ["AUTO", "RULES", "allowed_values", "choices_of", "k_problems", "section", "setting"]

AUTO = "auto"

RULES = ("choices", "ge", "gt", "le", "lt", "pattern")


def setting(default: Any, help: str, **rules: Any) -> Any:  # "help" reads best at call sites
    """A field with its help and optional rules: ``choices`` (a tuple, or a callable returning
        one; for a tuple field: of each item), ``ge``/``gt``/``le``/``lt`` bounds, ``pattern`` (a regex
    the whole string must match, and how to say it in an error). None always passes
        (optional fields)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("config defaults must be immutable")
    unknown = set(rules) - set(RULES)
    if unknown:
        raise TypeError(f"unknown field rule(s) {sorted(unknown)}")
    return field(default=default, metadata={"help": help, **rules})


def section(cls: type) -> Any:
    """A nested section, its help the first line of the section's docstring."""
    return field(default_factory=cls, metadata={"help": (cls.__doc__ or "").strip().splitlines()[0]})


def allowed_values(choices: tuple[str, ...] | Callable[[], tuple[str, ...]]) -> tuple[str, ...]:
    """The allowed values of a ``choices`` rule (calling it when it is a registry's lookup)."""
    return tuple(choices() if callable(choices) else choices)


def choices_of(cls: type, name: str) -> tuple[str, ...]:
    """The allowed values declared for field ``name`` of section ``cls``."""
    return allowed_values(cls.__dataclass_fields__[name].metadata["choices"])


def k_problems(key: str, value: Any) -> list[str]:
    """A number of clusters must be an integer >= 2, ``auto`` (chosen without labels) or None.

    >>> k_problems("cluster.n_clusters", "atuo")
    ["cluster.n_clusters must be an integer >= 2, 'auto' or null, got 'atuo'"]
    """
    if value is None or value == AUTO or (isinstance(value, int) and not isinstance(value, bool)):
        return []  # an integer's bound is the field's own rule (ge=2)
    return [f"{key} must be an integer >= 2, 'auto' or null, got {value!r}"]
