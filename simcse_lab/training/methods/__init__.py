"""The training methods, one module each: the model spec ``name(base)`` trains ``base`` with it.

A method's module holds its config section (a frozen dataclass, the ``<name>`` section of the
config) and its training function, registered together with
``@METHODS.register(name, help, section=..., config=...)`` (`simcse_lab.core.registry.METHODS`).
The registry imports every module here on first use, and the config schema picks up the
sections, so a new method is one new file. Modules here are imported while the schema is
assembled: they import the package's heavier modules inside their functions.
"""

from ._common import pseudo_labels
from .neighbours import draw_neighbour_positives, mine_neighbours
from .tsdae import delete_words

__all__ = ["delete_words", "draw_neighbour_positives", "mine_neighbours", "pseudo_labels"]
