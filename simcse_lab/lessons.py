"""What every lesson (``notebooks/NN_*.ipynb``) does first, in one call.

A lesson's parameters cell holds flat, commented literals (papermill's ``parameters`` tag); its
first code cell is::

    from simcse_lab.lessons import start_lesson

    cfg = start_lesson(globals())

which shows the package's INFO log in the notebook, makes bad input fail as one line instead of a
traceback (`simcse_lab.core.errors.one_line_errors`), builds the config from the
parameters (``config`` names the base profile or YAML file; every parameter that is a config key,
``corpus_n_samples`` or ``corpus.n_samples``, overrides it, see
`simcse_lab.core.params.from_params`) and prints it.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["start_lesson"]


def start_lesson(params: dict[str, Any], *, show: bool = True) -> Any:
    """The lesson's `ExperimentConfig`, from its parameters."""
    from .core.config import to_yaml
    from .core.errors import one_line_errors
    from .core.params import from_params

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    one_line_errors()
    cfg = from_params(dict(params), base=params.get("config"))
    if show:
        print(to_yaml(cfg))
    return cfg
