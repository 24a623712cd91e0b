"""The one accelerator probe: is there a CUDA GPU for torch, and for RAPIDS cuML?

Both answer without importing torch (seconds) or CuPy on a machine with no NVIDIA driver.

>>> isinstance(cuda_available(), bool)
True
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["cuda_available", "cuml_available"]

_DRIVER = Path("/proc/driver/nvidia/version")


def _no_driver() -> bool:
    return not _DRIVER.exists()


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (False without an NVIDIA driver, before torch is imported)."""
    if "torch" not in sys.modules and _no_driver():
        return False
    import torch

    return bool(torch.cuda.is_available())


@lru_cache(maxsize=1)
def cuml_available() -> bool:
    """Whether RAPIDS cuML imports and CuPy sees a CUDA GPU."""
    if "cupy" not in sys.modules and _no_driver():
        return False
    try:
        import cuml  # noqa: F401
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - missing packages or no CUDA driver: no GPU backend
        return False
