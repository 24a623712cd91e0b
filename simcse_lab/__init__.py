"""simcse-lab: learn sentence embeddings with SimCSE and judge them by how well they cluster real text.

Importing the package is cheap and has no side effects; the heavy libraries (torch,
sentence-transformers, umap-learn, hdbscan) load inside the functions that need them.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("simcse-lab")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
