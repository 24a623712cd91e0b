"""The training-run lifecycle shared by every trainer here (SimCSE and its relatives, MLM).

A run lives in a folder keyed by what determines its result (base model identity, texts,
settings, seed), so the same request finds the same folder::

    <run_dir>/model/          the result (a sentence-transformers or transformers folder)
    <run_dir>/train_config.yaml   what was asked for (base, corpus fingerprint, settings)
    <run_dir>/<log name>      the trainer's log history and a summary, written last
    <run_dir>/checkpoints/    resumable checkpoints

A run is *finished* when its model folder and log exist; then it is reused. An unfinished run
resumes from its newest *valid* checkpoint: one whose trainer state, weights and optimizer
state are all readable. A damaged newer one is skipped with a warning naming it.

>>> import tempfile
>>> run = TrainingRun.keyed("simcse", {"base": "x", "seed": 1}, tempfile.mkdtemp())
>>> run.finished(), run.run_dir.name.startswith("simcse-")
(False, True)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..core.assets import atomic_write
from ..core.devices import cuda_available
from ..core.hashing import content_hash

logger = logging.getLogger(__name__)

__all__ = [
    "TrainResult", "TrainingRun", "barrier", "check_schedule", "check_weights_changed", "checkpoint_problem",
    "distributed", "gather_across_devices", "is_main_process", "last_checkpoint", "trainer_arguments", "weights_digest",
]


@dataclass(frozen=True)
class TrainResult:
    """A finished training run: the model folder and the training log (a dict, as written)."""

    model_dir: Path
    log: dict[str, Any]

    @property
    def run_dir(self) -> Path:
        return self.model_dir.parent


def _numbered(ckpt_dir: Path) -> list[Path]:
    found = [p for p in Path(ckpt_dir).glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]), reverse=True)


def checkpoint_problem(ckpt: Path) -> str | None:
    """Why a trainer checkpoint cannot be resumed from, or None if it looks whole: its trainer
    state must parse, its weights file must have a readable safetensors header (or be a whole
    zip for ``.bin``), and its optimizer state (when present) must be a whole zip archive."""
    try:
        json.loads((ckpt / "trainer_state.json").read_text())
    except (OSError, ValueError) as exc:
        return f"trainer_state.json unreadable ({type(exc).__name__})"
    weights = [p for p in ckpt.glob("*.safetensors")] + [p for p in ckpt.glob("*.bin")]
    if not weights:
        return "no weights file"
    for p in weights:
        try:
            if p.suffix == ".safetensors":
                with p.open("rb") as fh:
                    n = int.from_bytes(fh.read(8), "little")
                    json.loads(fh.read(n))
                    if p.stat().st_size < 8 + n:
                        raise ValueError("truncated")
            elif zipfile.ZipFile(p).testzip() is not None:
                raise ValueError("corrupt member")
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            return f"{p.name} unreadable ({type(exc).__name__})"
    for name in ("optimizer.pt", "scheduler.pt"):
        p = ckpt / name
        if p.exists():
            try:
                if zipfile.ZipFile(p).testzip() is not None:
                    raise ValueError("corrupt member")
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                return f"{name} unreadable ({type(exc).__name__})"
    return None


def last_checkpoint(ckpt_dir: Path) -> Path | None:
    """The newest ``checkpoint-N`` in ``ckpt_dir`` that can be resumed from (see
    `checkpoint_problem`), or None; newer damaged ones are skipped with a warning."""
    for ckpt in _numbered(ckpt_dir):
        problem = checkpoint_problem(ckpt)
        if problem is None:
            return ckpt
        logger.warning("skipping damaged checkpoint %s: %s", ckpt, problem)
    return None


@dataclass(frozen=True)
class TrainingRun:
    """One keyed training-run folder; see the module docstring for its layout."""

    run_dir: Path
    kind: str = "simcse"
    log_name: str = "training_log.json"
    marker: str = "modules.json"  # the file whose presence in model/ says the model was saved
    request_name: str = "train_config.yaml"

    @classmethod
    def keyed(cls, kind: str, key: dict[str, Any], models_dir: str | Path, **kwargs: Any) -> TrainingRun:
        """The folder ``<models_dir>/<kind>-<hash of key>``: same key, same folder."""
        return cls(Path(models_dir) / f"{kind}-{content_hash(key, length=16)}", kind, **kwargs)

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"

    @property
    def log_path(self) -> Path:
        return self.run_dir / self.log_name

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    def finished(self) -> bool:
        return (self.model_dir / self.marker).is_file() and self.log_path.is_file()

    def result(self) -> TrainResult:
        """The finished run's model folder and log."""
        return TrainResult(self.model_dir, json.loads(self.log_path.read_text()))

    def resume_checkpoint(self, resume: bool = True) -> Path | None:
        cp = last_checkpoint(self.checkpoint_dir) if resume else None
        if cp is not None:
            logger.info("resuming %s training from %s", self.kind, cp)
        return cp

    def write_request(self, record: dict[str, Any]) -> None:
        """What was asked for, next to the run (``request_name``); rank 0 writes under torchrun."""
        if is_main_process():
            atomic_write(self.run_dir / self.request_name, yaml.safe_dump(record, sort_keys=False).encode())

    def finish(self, log: dict[str, Any], save: Any = None) -> TrainResult:
        """``save()`` the model folder, then write the log last (atomically): from then on the run
        counts as finished. Under torchrun only rank 0 writes; every rank waits for it."""
        log = {**log, "world_size": distributed()[1]}
        if is_main_process():
            if save is not None:
                save()
            atomic_write(self.log_path, json.dumps(log, indent=2, default=str).encode())
        barrier()
        return TrainResult(self.model_dir, log)


def trainer_arguments(
    run: TrainingRun, *, seed: int, device: str | None, show_progress: bool, logging_steps: int, **kwargs: Any
) -> dict[str, Any]:
    """The ``TrainingArguments`` every trainer here shares (checkpoints in the run folder, seeds,
    logging, no reporting, CPU when asked); ``kwargs`` add or override."""
    return {
        "output_dir": str(run.checkpoint_dir),
        "save_strategy": "steps",
        "save_total_limit": 2,
        "logging_steps": logging_steps,
        "logging_first_step": True,
        "seed": seed,
        "data_seed": seed,
        "report_to": "none",
        "disable_tqdm": not show_progress,
        # under torchrun without CUDA, accelerate starts CPU DDP (gloo) only when told it is on the CPU
        "use_cpu": device == "cpu" or (distributed()[1] > 1 and device is None and not cuda_available()),
        **kwargs,
    }


def check_schedule(n_steps: int, warmup: float, *, what: str) -> None:
    """Refuse a schedule whose every optimizer step falls at learning rate 0, and warn when it
    ends inside the warm-up. ``warmup`` is a fraction of the steps (below 1) or a step count, as
    transformers reads ``warmup_steps``; the linear warm-up's first step has learning rate 0.

    >>> check_schedule(1, 0.1, what="train")
    Traceback (most recent call last):
    ValueError: train: the schedule has 1 optimizer step, inside the warm-up at learning rate 0, ...
    >>> check_schedule(1, 0.0, what="train")
    """
    warmup_steps = int(warmup) if warmup >= 1 else math.ceil(n_steps * warmup)
    if warmup_steps and n_steps < 2:
        raise ValueError(
            f"{what}: the schedule has {n_steps} optimizer step, inside the warm-up at learning rate 0, so the "
            "model would not change; give more texts or epochs, a smaller batch, or warmup_ratio=0"
        )
    if warmup_steps >= n_steps:
        logger.warning("%s: all %d optimizer steps fall inside the warm-up (%d steps); the peak learning rate is "
                       "never reached", what, n_steps, warmup_steps)


def weights_digest(model: Any) -> str:
    """sha256 of every parameter's bytes, in name order: equal digests, equal weights."""
    import torch

    h = hashlib.sha256()
    for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def check_weights_changed(before: str, model: Any, *, what: str, n_steps: int) -> None:
    """Raise when training left every weight as it was (nothing is saved then)."""
    if weights_digest(model) == before:
        raise ValueError(f"{what}: {n_steps} optimizer step(s) ran but no weight changed (learning rate 0 or no "
                         "gradient); nothing was saved")


def distributed() -> tuple[int, int]:
    """``(rank, world size)`` of this process: torchrun sets ``RANK`` and ``WORLD_SIZE``; one
    plain process is ``(0, 1)``."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this process writes run folders (rank 0; always true without torchrun)."""
    return distributed()[0] == 0


def barrier() -> None:
    """Wait for every rank, when a process group is up (the Trainer starts it under torchrun)."""
    if distributed()[1] > 1:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()


def gather_across_devices() -> bool:
    """Under torchrun with more than one process, in-batch negatives span every rank's batch
    (sentence-transformers' ``gather_across_devices``)."""
    return distributed()[1] > 1
