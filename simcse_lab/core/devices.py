"""The one accelerator probe: is there a CUDA GPU for torch, and for RAPIDS cuML?

Both answer without importing torch (seconds) or CuPy on a machine with no NVIDIA driver.

>>> isinstance(cuda_available(), bool)
True
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

__all__ = ["DEVICE_PATTERN", "cuda_available", "cuml_available", "device_problems"]

_DRIVER = Path("/proc/driver/nvidia/version")
# the torch devices a setting may name, and how an error says so (a config field's ``pattern``)
DEVICE_PATTERN = (r"cpu|mps|cuda(:\d+)?", "cpu, cuda, cuda:N or mps")


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
    except Exception:  # missing packages or no CUDA driver: no GPU backend
        return False


def device_problems(key: str, devices: list[str] | tuple[str, ...]) -> list[str]:
    """A CUDA device asked for on a machine without one (or a cuda:N beyond the GPUs there),
    found before any model loads.

    >>> device_problems("encode.device", ["cpu"])
    []
    """
    wanted = [d for d in devices if isinstance(d, str) and d.startswith("cuda")]
    if not wanted:
        return []
    if not cuda_available():
        return [f"{key}: {wanted[0]} asked for, but torch sees no CUDA GPU on this machine; use cpu"]
    import torch

    n = torch.cuda.device_count()
    beyond = [d for d in wanted if ":" in d and int(d.split(":")[1]) >= n]
    return (
        [f"{key}: {beyond[0]} asked for, but this machine has {n} CUDA GPU(s) (cuda:0..cuda:{n - 1})"] if beyond else []
    )
