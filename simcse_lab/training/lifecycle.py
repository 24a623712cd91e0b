"""The training-run lifecycle shared by every trainer here (SimCSE and its relatives, MLM).

A run lives in a folder keyed by what determines its result (base model identity, texts,
settings, seed), so the same request finds the same folder::

    <run_dir>/model/          the result (a sentence-transformers or transformers folder)
    <run_dir>/train_config.yaml   what was asked for (base, corpus fingerprint, settings)
    <run_dir>/<log name>      the trainer's log history and a summary, written last
    <run_dir>/checkpoints/    resumable checkpoints

A run is *finished* when its model folder and log exist. It is reused only when the log's record
of the request equals the new request and every file of the model folder still has the sha256
recorded when it was written (`TrainingRun.reuse_problem`); otherwise it is trained again, with a
warning that says why. An unfinished run
resumes from its newest *valid* checkpoint: one whose trainer state, weights and optimizer
state are all readable. A damaged newer one is skipped with a warning naming it.

>>> import tempfile
>>> run = TrainingRun.keyed("simcse", {"base": "x", "seed": 1}, tempfile.mkdtemp())
>>> run.finished(), run.run_dir.name.startswith("simcse-")
(False, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..core.assets import atomic_write
from ..core.devices import cuda_available
from ..core.hashing import content_hash, sha256_file
from ..core.runtime import quiet
from .checkpoints import checkpoint_problem, last_checkpoint

logger = logging.getLogger(__name__)

__all__ = [
    "TrainResult",
    "TrainingRun",
    "barrier",
    "check_schedule",
    "check_weights_changed",
    "checkpoint_problem",
    "distributed",
    "gather_across_devices",
    "is_main_process",
    "last_checkpoint",
    "silence_printer",
    "trainer_arguments",
    "weights_digest",
]


@dataclass(frozen=True)
class TrainResult:
    """A finished training run: the model folder and the training log (a dict, as written)."""

    model_dir: Path
    log: dict[str, Any]

    @property
    def run_dir(self) -> Path:
        return self.model_dir.parent


@dataclass(frozen=True)
class TrainingRun:
    """One keyed training-run folder; see the module docstring for its layout."""

    run_dir: Path
    kind: str = "simcse"
    log_name: str = "training_log.json"
    marker: str = "modules.json"  # the file whose presence in model/ says the model was saved
    request_name: str = "train_config.yaml"
    key: dict[str, Any] | None = None  # what determines the result; its hash is recorded in the log

    @classmethod
    def keyed(cls, kind: str, key: dict[str, Any], models_dir: str | Path, **kwargs: Any) -> TrainingRun:
        """The folder ``<models_dir>/<kind>-<hash of key>``: same key, same folder."""
        return cls(Path(models_dir) / f"{kind}-{content_hash(key, length=16)}", kind, key=key, **kwargs)

    def at(self, folder: str | Path) -> TrainingRun:
        """The same request in another folder (``train --output``)."""
        return dataclasses.replace(self, run_dir=Path(folder))

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

    def reuse_problem(self) -> str | None:
        """Why the finished run here must not be reused for this request, or None: its log is
        unreadable, it was made for another request, or a file of its model folder is missing,
        new or changed since it was written."""
        try:
            log = json.loads(self.log_path.read_text())
        except (OSError, ValueError) as exc:
            return f"its log {self.log_path} is unreadable ({type(exc).__name__}: {exc})"
        if not isinstance(log, dict):
            return f"its log {self.log_path} holds {type(log).__name__}, not a training log"
        if self.key is not None and log.get("request") != content_hash(self.key):
            return (
                "it was trained for another request (base, texts, settings or seed)"
                if log.get("request")
                else "it records no request to check against (written by an older version)"
            )
        recorded = log.get("files")
        if not isinstance(recorded, dict):
            return "it records no file hashes to verify (written by an older version)"
        now = _file_hashes(self.model_dir)
        changed = sorted(set(recorded) ^ set(now)) or sorted(f for f in recorded if recorded[f] != now[f])
        if changed:
            return f"model/{changed[0]} is missing, new or changed since it was written"
        return None

    def check_output_folder(self) -> None:
        """Refuse, before any work, an ``--output`` that is a file or a folder of other things."""
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ValueError(f"output {self.run_dir} is a file; give a folder for the trained model")
        if self.run_dir.is_dir() and any(self.run_dir.iterdir()) and not (self.run_dir / self.request_name).is_file():
            raise ValueError(
                f"output {self.run_dir} holds other files and is not a training run folder; give a new or empty folder"
            )

    def reusable(self, *, own_folder: bool = False) -> bool:
        """Whether a finished run here answers this request (see `reuse_problem`). One that does
        not is trained again, with a warning saying why; in a folder the user named
        (``own_folder``), a run made for another request is refused instead of replaced."""
        if not self.finished():
            return False
        problem = self.reuse_problem()
        if problem is None:
            return True
        if own_folder and "changed since it was written" not in problem:
            raise ValueError(
                f"{self.run_dir} holds a model that cannot be reused: {problem}; give another output"
                " folder, or delete this one to train there again"
            )
        logger.warning("not reusing the %s model in %s: %s; training it again", self.kind, self.run_dir, problem)
        self.log_path.unlink(missing_ok=True)  # unfinished again until the new model is saved
        if "another request" in problem or "older version" in problem:
            import shutil

            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)  # its checkpoints are not this request's
        return False

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
            log["request"] = content_hash(self.key) if self.key is not None else None
            log["files"] = _file_hashes(self.model_dir)
            atomic_write(self.log_path, json.dumps(log, indent=2, default=str).encode())
        barrier()
        return TrainResult(self.model_dir, log)


def _file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path -> digest)."""
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


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
        "disable_tqdm": not show_progress or quiet(),
        # under torchrun without CUDA, accelerate starts CPU DDP (gloo) only when told it is on the CPU
        "use_cpu": device == "cpu" or (distributed()[1] > 1 and device is None and not cuda_available()),
        **kwargs,
    }


def silence_printer(trainer: Any) -> None:
    """Without progress bars the Trainer prints every log dict instead (its ``PrinterCallback``);
    they are in the training log already, so they are not printed."""
    if trainer.args.disable_tqdm:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)


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
        logger.warning(
            "%s: all %d optimizer steps fall inside the warm-up (%d steps); the peak learning rate is never reached",
            what,
            n_steps,
            warmup_steps,
        )


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
        raise ValueError(
            f"{what}: {n_steps} optimizer step(s) ran but no weight changed (learning rate 0 or no "
            "gradient); nothing was saved"
        )


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
