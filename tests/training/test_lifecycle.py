"""The training-run lifecycle shared by SimCSE and MLM training: keyed folders, the finished
check, and resuming from the newest checkpoint that can be read."""

import json
import logging
import zipfile

from simcse_lab.training.lifecycle import (
    TrainingRun,
    checkpoint_problem,
    last_checkpoint,
)


def _checkpoint(folder, step, *, optimizer_ok=True, weights_ok=True):
    ckpt = folder / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    blob = len(header).to_bytes(8, "little") + header + b"\0\0\0\0"
    (ckpt / "model.safetensors").write_bytes(blob if weights_ok else blob[:12])
    with zipfile.ZipFile(ckpt / "optimizer.pt", "w") as zf:
        zf.writestr("archive/data.pkl", b"x" * 1000)
    if not optimizer_ok:
        data = (ckpt / "optimizer.pt").read_bytes()
        (ckpt / "optimizer.pt").write_bytes(data[: len(data) // 2])
    return ckpt


def test_resume_skips_damaged_newer_checkpoints(tmp_path, caplog):
    good = _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 4, optimizer_ok=False)
    _checkpoint(tmp_path, 6, weights_ok=False)
    assert checkpoint_problem(good) is None
    with caplog.at_level(logging.WARNING, logger="simcse_lab.training.lifecycle"):
        assert last_checkpoint(tmp_path) == good
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "checkpoint-6" in warned and "model.safetensors" in warned
    assert "checkpoint-4" in warned and "optimizer.pt" in warned


def test_no_checkpoint_or_all_damaged(tmp_path):
    assert last_checkpoint(tmp_path) is None
    (tmp_path / "checkpoint-3").mkdir()  # no trainer state at all
    assert last_checkpoint(tmp_path) is None


def test_keyed_folder_and_finish(tmp_path):
    a = TrainingRun.keyed("simcse", {"base": "m", "seed": 1}, tmp_path)
    assert a == TrainingRun.keyed("simcse", {"seed": 1, "base": "m"}, tmp_path)  # key order does not matter
    assert a != TrainingRun.keyed("simcse", {"base": "m", "seed": 2}, tmp_path)
    assert not a.finished()
    a.model_dir.mkdir(parents=True)
    (a.model_dir / "modules.json").write_text("[]")
    assert not a.finished()  # the log is written last: no log, not finished
    result = a.finish({"global_step": 3})
    assert a.finished() and a.result() == result and result.log["global_step"] == 3
