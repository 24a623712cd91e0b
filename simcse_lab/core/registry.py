"""Registries: the one place each kind of pluggable thing is named.

A training method, a clusterer and a score are each registered where they are defined, with a
decorator, and everything that lists them (the config schema's allowed values and sections, the
comparison table's columns, the bootstrap, the scaling report, ``simcse-lab config``) reads the
registry instead of keeping a list by hand.

A registry knows the package that holds its built-in entries, one module each
(``simcse_lab.training.methods``, ``simcse_lab.clustering.clusterers``,
``simcse_lab.evaluation.scores``, ``simcse_lab.evaluation.signals``), and imports every module in
it on first use, so adding a file there is all it takes. Entries from outside the package come from plugin modules: the
``simcse_lab.plugins`` entry-point group of installed distributions, and the comma-separated
module names in ``$SIMCSE_LAB_PLUGINS``. These modules must be cheap to import (heavy libraries
inside the functions), since listing the registry imports them all.

Examples
--------
>>> sorted(CLUSTERERS.names())[:3]
['evoc', 'hdbscan', 'kmeans']
>>> SCORES["v_measure"].meta.spread
True

Each registry says what an entry may carry besides its help: a typed record (`MethodInfo`,
`ClustererInfo`, `ScoreInfo`, `SignalInfo`) built from the keywords of ``register``, so a
misspelt keyword is an error where it is written, and every reader gets the same defaults.
"""

from __future__ import annotations

import difflib
import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Generic, TypeVar

__all__ = [
    "CLUSTERERS",
    "ClustererInfo",
    "METHODS",
    "PLUGIN_ENV",
    "PLUGIN_FAILURES",
    "SCORES",
    "SIGNALS",
    "Entry",
    "MethodInfo",
    "PluginError",
    "Registry",
    "ScoreInfo",
    "SignalInfo",
    "load_plugins",
]

T = TypeVar("T")
PLUGIN_ENV = "SIMCSE_LAB_PLUGINS"
_PLUGINS_LOADED: set[str] = set()
#: plugin modules a registry could not import, in the words of their `PluginError`
PLUGIN_FAILURES: list[str] = []


@dataclass(frozen=True)
class MethodInfo:
    """What a training method carries: its settings section (``cfg.<section>``), if it has one."""

    section: str | None = None
    config: type | None = None


@dataclass(frozen=True)
class ClustererInfo:
    """What a clusterer carries: its settings (the section ``cluster.<name>``), and whether it is
    density-based (its noise is meaningful: DBCV applies)."""

    config: type | None = None
    density: bool = False


@dataclass(frozen=True)
class ScoreInfo:
    """How the comparison uses a score (`simcse_lab.evaluation.scoring` says what each means)."""

    needs_labels: bool = True
    needs_space: bool = False
    needs_refit: bool = False
    density_only: bool = False
    higher_is_better: bool = True
    resample: bool = True
    spread: bool = False
    per_point: Callable[..., Any] | None = None


@dataclass(frozen=True)
class SignalInfo:
    """A verdict signal carries nothing besides its help."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered thing: its name, the object, a one-line help and its registry's typed
    record of what it carries (``meta``)."""

    name: str
    obj: T
    help: str
    order: int = 100
    meta: Any = None


@lru_cache(maxsize=1)
def _entry_point_plugins() -> list[str]:
    # scanning every installed distribution's metadata takes milliseconds: once per process, not on
    # every registry lookup (scoring looks the registry up for every clustering)
    try:
        from importlib.metadata import entry_points

        return [ep.value for ep in entry_points(group="simcse_lab.plugins")]
    except Exception:  # broken distribution metadata must not stop the workbench
        return []


class PluginError(ValueError):
    """A plugin module that cannot be imported (a user's setting, so one line, not a traceback)."""


def load_plugins() -> None:
    """Import the plugin modules (entry points ``simcse_lab.plugins`` and ``$SIMCSE_LAB_PLUGINS``)
    not imported yet; each registers what it defines. A module that cannot be imported is a
    `PluginError` naming where it was named, once: later lookups go on without it."""
    from_env = [n.strip() for n in os.environ.get(PLUGIN_ENV, "").split(",") if n.strip()]
    for name in from_env + _entry_point_plugins():
        if name in _PLUGINS_LOADED:
            continue
        _PLUGINS_LOADED.add(name)
        try:
            importlib.import_module(name)
        except ImportError as exc:
            where = f"${PLUGIN_ENV}" if name in from_env else "a simcse_lab.plugins entry point"
            raise PluginError(f"{where} names the plugin module {name!r}, which cannot be imported ({exc})") from None


class Registry(Generic[T]):
    """Named entries of one kind, filled by `register` in the modules that define them."""

    def __init__(self, kind: str, package: str, info: type = SignalInfo) -> None:
        self.kind = kind
        self.package = package
        self.info = info
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False

    def register(self, name: str, help: str, *, order: int = 100, **meta: Any) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name``. Registering a name twice is
        an error unless it is the same object again (a module imported twice)."""

        allowed = [f.name for f in fields(self.info)]
        unknown = sorted(set(meta) - set(allowed))
        if unknown:
            raise ValueError(
                f"{self.kind} {name!r} is registered with unknown keyword(s) {unknown};"
                f" allowed: {', '.join(allowed) or 'none'}"
            )
        info = self.info(**meta)

        def deco(obj: T) -> T:
            old = self._entries.get(name)
            if old is not None and getattr(old.obj, "__qualname__", old.obj) != getattr(obj, "__qualname__", obj):
                raise ValueError(f"{self.kind} {name!r} is registered twice ({old.obj!r} and {obj!r})")
            self._entries[name] = Entry(name, obj, help, order, info)
            return obj

        return deco

    def load(self) -> None:
        """Import every module of the built-in package, then the plugins (once)."""
        if not self._loaded:
            self._loaded = True
            pkg = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{info.name}")
        try:
            load_plugins()
        except PluginError as exc:  # the registry goes on without it; the command line reports it in one line,
            PLUGIN_FAILURES.append(str(exc))  # and an unknown name says it too

    def entries(self) -> list[Entry[T]]:
        """Every entry, by ``order`` then name."""
        self.load()
        return sorted(self._entries.values(), key=lambda e: (e.order, e.name))

    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entries())

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self.entries())

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._entries

    def __getitem__(self, name: str) -> Entry[T]:
        self.load()
        if name not in self._entries:
            close = difflib.get_close_matches(str(name), list(self._entries), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            failed = f"; not loaded: {'; '.join(PLUGIN_FAILURES)}" if PLUGIN_FAILURES else ""
            raise ValueError(f"unknown {self.kind} {name!r}{hint}; allowed: {', '.join(self.names())}{failed}")
        return self._entries[name]


METHODS: Registry[Callable[..., Any]] = Registry("training method", "simcse_lab.training.methods", MethodInfo)
CLUSTERERS: Registry[type] = Registry("clusterer", "simcse_lab.clustering.clusterers", ClustererInfo)
SCORES: Registry[Callable[..., float]] = Registry("score", "simcse_lab.evaluation.scores", ScoreInfo)
#: label-free signals read in a space the judged model cannot change (the verdict on training)
SIGNALS: Registry[Callable[..., Any]] = Registry("verdict signal", "simcse_lab.evaluation.signals", SignalInfo)
