"""What every lesson (``notebooks/NN_*.ipynb``) does first, in one call.

A lesson's parameters cell holds flat, commented literals (papermill's ``parameters`` tag); its
first code cell is::

    from simcse_lab.lessons import start_lesson

    cfg = start_lesson(globals())

which shows the package's INFO log in the notebook, refuses a parameter papermill injected that is
neither one of the lesson's nor a config key (a misspelt ``-p corpus_n_sample 20`` would otherwise
run on the default), makes bad input fail as one line instead of a traceback
(`simcse_lab.core.errors.one_line_errors`), builds the config from the parameters (``config`` names
the base profile or YAML file; every parameter that is a config key, ``corpus_n_samples`` or
``corpus.n_samples``, overrides it, see `simcse_lab.core.params.from_params`) and prints it.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["start_lesson"]


def _assigned(source: str) -> list[str]:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _papermill_parameters(history: Any) -> tuple[list[str], list[str]]:
    """The names papermill injected (its ``# Parameters`` cell) and those the lesson's parameters
    cell declares (the cell before it), read from IPython's input history ``In``; empty lists
    when the notebook was not run by papermill with parameters."""
    if not isinstance(history, list):
        return [], []
    for i in range(len(history) - 1, 0, -1):
        if isinstance(history[i], str) and history[i].lstrip().startswith("# Parameters"):
            return _assigned(history[i]), _assigned(history[i - 1])
    return [], []


def start_lesson(params: dict[str, Any], *, show: bool = True) -> Any:
    """The lesson's `ExperimentConfig`, from its parameters."""
    from .core.config import to_yaml
    from .core.errors import one_line_errors
    from .core.params import check_param_names, from_params

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    one_line_errors()
    injected, declared = _papermill_parameters(params.get("In"))
    if injected:
        check_param_names(injected, declared, where="lesson")
    cfg = from_params(dict(params), base=params.get("config"))
    if show:
        print(to_yaml(cfg))
    return cfg
