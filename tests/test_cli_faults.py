"""Bad input and faults, tried as a user would through the CLI: every case ends in a clear one-line
error (exit status 2) or a recovery, never a traceback from inside a library, never a silently
wrong result, and never a lost earlier result.

Each case runs against a folder that already holds a complete earlier run (the ``earlier``
fixture) and checks, besides the exit status and the message, that no file of that run changed.
Read-only folders and a full disk are real where the machine allows (``chattr +i`` and a small
tmpfs, as root, the way CI runs); elsewhere those cases skip and the simulated ones still run.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, one_line, snapshot

from simcse_lab.cli import main


def run_cli(capsys, *argv) -> tuple[int, str, list[str]]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, [ln for ln in captured.err.splitlines() if ln.strip()]


class Earlier:
    """A complete earlier run, and the arguments that made it."""

    def __init__(self, tmp_path: Path, csv: Path, capsys) -> None:
        self.tmp = tmp_path
        self.csv = csv
        self.data = tmp_path / "data"
        self.runs = tmp_path / "runs"
        self.args = [
            "--set",
            f"corpus.source={csv}",
            "--set",
            f"data_dir={self.data}",
            "--set",
            f"runs_dir={self.runs}",
            *FAST,
        ]
        code, _, err = run_cli(capsys, "compare", *self.args)
        assert code == 0, err
        (self.run_dir,) = [p for p in self.runs.iterdir() if not p.name.startswith(".")]
        assert (self.run_dir / "metrics.json").is_file()
        self.before = snapshot(self.runs)

    def unchanged(self) -> bool:
        return snapshot(self.runs) == self.before


@pytest.fixture
def earlier(tmp_path, tiny_csv, capsys) -> Earlier:
    return Earlier(tmp_path, tiny_csv, capsys)


@contextmanager
def read_only(path: Path):
    """``path`` as a folder nobody can create files in: chmod for a user, ``chattr +i`` for root."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("no way to make a folder read-only for root here (chattr +i failed)")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


@contextmanager
def small_disk(path: Path, size_kb: int):
    """A real, small filesystem at ``path`` (tmpfs, root only), to fill up."""
    path.mkdir(parents=True, exist_ok=True)
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)], capture_output=True
        ).returncode
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# --------------------------------------------------------------------------- bad input files


def _corpus_cases(tmp: Path, df: pd.DataFrame) -> list[tuple[str, list[str], str]]:
    folder = tmp / "a_folder"
    folder.mkdir()
    one_class = tmp / "one.csv"
    df.assign(Cat1="all").to_csv(one_class, index=False)
    empty_texts = tmp / "empty_texts.csv"
    df.assign(Text="  ").to_csv(empty_texts, index=False)
    return [
        ("missing file", ["--set", f"corpus.source={tmp / 'nope.csv'}"], "corpus file not found"),
        ("folder as corpus", ["--set", f"corpus.source={folder}"], "corpus path is a folder"),
        ("empty file", ["--set", f"corpus.source={write(tmp / 'empty.csv', '')}"], "could not read empty.csv"),
        (
            "header only",
            ["--set", f"corpus.source={write(tmp / 'header.csv', 'Text,Cat1' + chr(10))}"],
            "empty after cleaning",
        ),
        (
            "binary garbage",
            ["--set", f"corpus.source={write(tmp / 'bin.csv', bytes(range(256)) * 50)}"],
            "could not read bin.csv",
        ),
        (
            "corrupt parquet",
            ["--set", f"corpus.source={write(tmp / 'bad.parquet', b'PAR1 not really')}"],
            "could not read bad.parquet",
        ),
        (
            "broken jsonl",
            ["--set", f"corpus.source={write(tmp / 'bad.jsonl', '{not json' + chr(10))}"],
            "could not read bad.jsonl",
        ),
        ("unknown format", ["--set", f"corpus.source={write(tmp / 'x.xlsx', 'x')}"], "unknown corpus format .xlsx"),
        ("missing text column", ["--set", "corpus.text_column=body"], "has no text column 'body'"),
        ("missing label column", ["--set", "corpus.label_columns=[Dept]"], "no label column(s) ['Dept']"),
        ("main level one class", ["--set", f"corpus.source={one_class}"], "main label level 'Cat1' has 1 class"),
        ("all texts empty", ["--set", f"corpus.source={empty_texts}"], "empty after cleaning"),
        ("fewer samples than classes", ["--set", "corpus.n_samples=2"], "smaller than the 3 classes"),
    ]


def test_bad_corpus_files(earlier, tiny_df, capsys):
    cases = _corpus_cases(earlier.tmp, tiny_df)
    assert len(cases) == 13  # an unlabelled file is no longer an error: it is scored without labels
    for name, extra, msg in cases:
        code, _, err = run_cli(capsys, "compare", *earlier.args, *extra)
        one_line(code, err, msg)
        assert earlier.unchanged(), name


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "extra,msg",
    [
        (["--set", "bogus.key=1"], "unknown config key 'bogus.key'"),
        (["--set", "corpus.n_sample=5"], "did you mean 'corpus.n_samples'"),
        (["--set", "corpus.n_samples=abc"], "must be an integer"),
        (["--set", "corpus.n_samples=1"], "corpus.n_samples"),
        (["--set", "train.learning_rate=2"], "train.learning_rate"),
        (["--set", "cluster.clusterers=[dbscan]"], "dbscan"),
        (["--set", "corpus.n_samples"], "must look like section.key=value"),
        (["--set", "models.encoders=[a"], "not valid YAML"),
        (["--set", "name=../../x"], "name must be a plain folder name"),
        (["--set", "corpus.source=https://example.org/reviews.csv"], "is a URL; download the file first"),
    ],
)
def test_bad_config_values(earlier, capsys, extra, msg):
    code, _, err = run_cli(capsys, "compare", *earlier.args, *extra)
    one_line(code, err, msg)
    assert earlier.unchanged()


def test_bad_config_files(earlier, capsys):
    tmp = earlier.tmp
    cases = [
        ("no-such-profile", "unknown profile"),
        (tmp / "missing.yaml", "config file not found"),
        (write(tmp / "broken.yaml", "corpus: [unclosed\n"), "invalid YAML"),
        (write(tmp / "list.yaml", "- a\n- b\n"), "top level must be a mapping"),
    ]
    for source, msg in cases:
        code, _, err = run_cli(capsys, "compare", source, *earlier.args)
        one_line(code, err, msg)
    assert earlier.unchanged()


# --------------------------------------------------------------------------- models


def test_bad_models(earlier, tiny_checkpoint, capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a hub nobody answers, whatever this machine reaches
    tmp = earlier.tmp
    neither = tmp / "not_a_model"
    neither.mkdir()
    write(neither / "notes.txt", "hello")
    damaged = tmp / "damaged"
    shutil.copytree(tiny_checkpoint, damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    cases = [
        (["compare", "--set", "models.encoders=[minilmx]"], "did you mean 'minilm'"),
        (["compare", "--set", f"models.encoders=[{tmp / 'nope' / 'model'}]"], "model folder not found"),
        (["compare", "--set", f"models.encoders=[{neither}]"], "has neither modules.json"),
        (["compare", "--set", f"models.encoders=[{damaged}]"], "is damaged or incomplete (SafetensorError"),
        (["train", "--model", "tfidf-lsa"], "'tfidf-lsa' is not a trainable model"),
        (["train", "--model", str(tiny_checkpoint), "--method", "simcsx"], "unknown training method 'simcsx'"),
        # offline, a hub id not in the local cache: one line at once, not a minute of retries
        (
            ["compare", "--set", "models.encoders=[sentence-transformers/no-such-model]"],
            "is not in the local Hugging Face cache and the hub",
        ),
        (["compare", "--set", "encode.device=gpu"], "encode.device must be cpu, cuda, cuda:N or mps, got 'gpu'"),
    ]
    for argv, msg in cases:
        code, _, err = run_cli(capsys, argv[0], *earlier.args, *argv[1:])  # the case's --set comes last and wins
        one_line(code, err, msg)
        assert earlier.unchanged(), argv


# --------------------------------------------------------------------------- run folders and caches


def test_runs_dir_that_is_a_file_fails_before_any_compute(earlier, capsys):
    blocker = write(earlier.tmp / "runs_file", "x")
    data = earlier.tmp / "fresh-data"
    code, _, err = run_cli(
        capsys, "compare", *earlier.args, "--set", f"runs_dir={blocker / 'sub'}", "--set", f"data_dir={data}"
    )
    one_line(code, err, "is a file, not a folder")
    assert not (data / "interim" / "embeddings").exists()  # nothing was encoded first
    assert earlier.unchanged()


def test_read_only_runs_dir_fails_before_any_compute(earlier, capsys):
    data = earlier.tmp / "fresh-data"
    with read_only(earlier.tmp / "ro-runs") as ro:
        code, _, err = run_cli(capsys, "compare", *earlier.args, "--set", f"runs_dir={ro}", "--set", f"data_dir={data}")
    one_line(code, err, "is not writable")
    assert not (data / "interim" / "embeddings").exists()
    assert earlier.unchanged()


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_read_only_embedding_cache_warns_once_and_goes_on(earlier, capsys, caplog):
    from simcse_lab.core import cache

    cache._WARNED.clear()
    data = earlier.tmp / "ro-data"
    emb = data / "interim" / "embeddings"
    with read_only(emb):
        code, out, err = run_cli(
            capsys, "compare", *earlier.args, "--set", f"data_dir={data}", "--set", f"runs_dir={earlier.tmp / 'runs2'}"
        )
    assert code == 0, err
    warnings = [ln for ln in warnings_of(caplog) if "cannot be written" in ln]
    assert len(warnings) == 1 and str(emb) in warnings[0]
    assert "tfidf-lsa" in out and not list(emb.iterdir())


def test_full_disk_during_save_keeps_the_earlier_run(earlier, capsys, monkeypatch):
    """Simulated: the disk fills up after the first files of the new run folder are written."""
    from simcse_lab.reporting.results import Result

    real = Result._write

    def fill_up(self, run_dir, **_):
        (run_dir / "config.yaml").write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Result, "_write", fill_up)
    code, _, err = run_cli(capsys, "compare", *earlier.args, "--set", "metrics.n_bootstrap=6")
    one_line(code, err, "No space left on device while writing the run folder")
    monkeypatch.setattr(Result, "_write", real)
    assert earlier.unchanged()
    assert not [p for p in earlier.runs.iterdir() if p.name.startswith(".")]  # no half-written folder left


def test_real_full_disk_keeps_the_earlier_run(tmp_path, tiny_csv, capsys):
    with small_disk(tmp_path / "disk", 400) as disk:
        base = [
            "--set",
            f"corpus.source={tiny_csv}",
            "--set",
            f"data_dir={tmp_path / 'data'}",
            "--set",
            f"runs_dir={disk}",
            *FAST,
        ]
        code, _, err = run_cli(capsys, "compare", *base, "--run-dir", disk / "run")
        assert code == 0, err
        before = snapshot(disk / "run")
        used = sum(p.stat().st_size for p in (disk / "run").rglob("*") if p.is_file())
        st = os.statvfs(disk)
        filler = disk / "filler"
        filler.write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - used // 2))  # room for half a new run
        code, _, err = run_cli(capsys, "compare", *base, "--run-dir", disk / "run", "--set", "metrics.n_bootstrap=6")
        one_line(code, err, "No space left on device")
        assert snapshot(disk / "run") == before
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "run"]


def test_interrupt_during_save_keeps_the_earlier_run(earlier, capsys, monkeypatch):
    from simcse_lab.reporting.results import Result

    def interrupted(self, run_dir, **_):
        (run_dir / "results.csv").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Result, "_write", interrupted)
    code, _, err = run_cli(capsys, "compare", *earlier.args, "--set", "metrics.n_bootstrap=6")
    assert code == 130 and len(err) == 1 and "interrupted" in err[0]
    assert earlier.unchanged()


def test_run_dir_that_is_not_a_run_folder_is_refused(earlier, capsys):
    """Saving replaces the run folder whole, so a folder of the user's own is never taken."""
    mine = earlier.tmp / "my_documents"
    mine.mkdir()
    write(mine / "thesis.tex", "precious")
    data = earlier.tmp / "fresh-data"
    code, _, err = run_cli(capsys, "compare", *earlier.args, "--set", f"data_dir={data}", "--run-dir", mine)
    one_line(code, err, "holds other files and is not a simcse-lab run folder")
    assert (mine / "thesis.tex").read_text() == "precious" and not (data / "interim" / "embeddings").exists()
    code, _, err = run_cli(capsys, "compare", *earlier.args, "--run-dir", mine / "thesis.tex")
    one_line(code, err, "is a file; give a folder path")
    assert (mine / "thesis.tex").read_text() == "precious"
    assert earlier.unchanged()


def test_edited_input_gets_a_new_folder(earlier, tiny_df, capsys):
    tiny_df.iloc[:45].to_csv(earlier.csv, index=False)  # the same path, fewer rows
    code, _, err = run_cli(capsys, "compare", *earlier.args)
    assert code == 0, err
    runs = sorted(p for p in earlier.runs.iterdir() if not p.name.startswith("."))
    assert len(runs) == 2
    assert {k: v for k, v in snapshot(earlier.runs).items() if k in earlier.before} == earlier.before
    new = next(p for p in runs if p != earlier.run_dir)
    assert json.loads((new / "manifest.json").read_text())["corpus"]["n_texts"] == 45


def test_rerun_replaces_its_own_folder_whole(earlier, capsys):
    code, _, err = run_cli(capsys, "compare", *earlier.args)
    assert code == 0, err
    assert sorted(p.name for p in earlier.runs.iterdir()) == [earlier.run_dir.name]
    after = snapshot(earlier.runs)
    assert set(after) == set(earlier.before)
    # the same config and corpus give the same numbers
    assert after[f"{earlier.run_dir.name}/results.csv"] == earlier.before[f"{earlier.run_dir.name}/results.csv"]


def test_explicit_run_dir_with_another_corpus_says_so(earlier, tiny_df, capsys, caplog):
    tiny_df.iloc[:45].to_csv(earlier.csv, index=False)
    code, _, err = run_cli(capsys, "compare", *earlier.args, "--run-dir", earlier.run_dir)
    assert code == 0
    assert any("replacing the complete run" in ln and str(earlier.run_dir) in ln for ln in warnings_of(caplog))


def test_two_saves_at_once_leave_one_whole_run(earlier):
    """Two writers publishing the same folder at the same moment: the folder ends whole."""
    from simcse_lab.core.assets import atomic_folder

    target = earlier.tmp / "contested"
    errors = []

    def publish(tag: str) -> None:
        try:
            for _ in range(20):
                with atomic_folder(target) as tmp:
                    for i in range(20):
                        (tmp / f"f{i}.txt").write_text(tag)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    contents = {p.read_text() for p in target.iterdir()}
    assert len(list(target.iterdir())) == 20 and len(contents) == 1  # one writer's folder, whole
    assert [p.name for p in earlier.tmp.iterdir() if p.name.startswith(".contested")] == []


def test_two_identical_processes_at_once_agree(earlier):
    """Two identical compare processes on a cold cache: both finish, the results agree."""
    args = [a if not a.startswith("data_dir=") else f"data_dir={earlier.tmp / 'cold'}" for a in earlier.args]
    args = [a if not a.startswith("runs_dir=") else f"runs_dir={earlier.tmp / 'both'}" for a in args]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "simcse_lab.cli", "compare", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    (run_dir,) = [p for p in (earlier.tmp / "both").iterdir()]
    assert (run_dir / "metrics.json").is_file()
    table = pd.read_csv(run_dir / "results.csv")
    assert table.equals(pd.read_csv(earlier.run_dir / "results.csv"))


# --------------------------------------------------------------------------- report


def test_report_on_bad_folders(earlier, capsys):
    tmp = earlier.tmp
    foreign = tmp / "foreign"
    foreign.mkdir()
    pd.DataFrame({"name": ["a"], "score": [0.5]}).to_csv(foreign / "results.csv", index=False)
    garbage = tmp / "garbage"
    garbage.mkdir()
    write(garbage / "results.csv", b"\x00\xff\xfe" * 100)
    empty = tmp / "empty"
    empty.mkdir()
    cases = [
        (tmp / "nope", "run folder not found"),
        (empty, "is not a run folder (no results.csv)"),
        (foreign, "was not written by simcse-lab compare: it lacks the column(s) ['model', 'clusterer'"),
        (garbage, "cannot be read as a table"),
    ]
    for folder, msg in cases:
        code, _, err = run_cli(capsys, "report", folder)
        one_line(code, err, msg)
    assert earlier.unchanged()


# --------------------------------------------------------------------------- encode --out


def test_encode_out_paths(earlier, capsys):
    tmp = earlier.tmp
    folder = tmp / "outdir"
    folder.mkdir()
    code, _, err = run_cli(capsys, "encode", "--model", "tfidf-lsa", "--out", folder, *earlier.args)
    one_line(code, err, "is a folder; give a file path")
    code, _, err = run_cli(
        capsys, "encode", "--model", "tfidf-lsa", "--out", write(tmp / "f", "x") / "emb.npy", *earlier.args
    )
    one_line(code, err, "is a file, not a folder")
    with read_only(tmp / "ro-out") as ro:
        code, _, err = run_cli(capsys, "encode", "--model", "tfidf-lsa", "--out", ro / "emb.npy", *earlier.args)
    one_line(code, err, "is not writable")
    # a missing suffix: the file written is the file printed
    code, out, err = run_cli(capsys, "encode", "--model", "tfidf-lsa", "--out", tmp / "emb", *earlier.args)
    assert code == 0, err
    assert out.strip().endswith(f"written to {tmp / 'emb.npy'}")
    assert np.load(tmp / "emb.npy").shape[0] == 60 and not (tmp / "emb").exists()
    assert earlier.unchanged()


# --------------------------------------------------------------------------- corpora that are fine


def test_n_samples_above_the_corpus_says_so(earlier, capsys, caplog):
    code, _, err = run_cli(
        capsys, "compare", *earlier.args, "--set", "corpus.n_samples=5000", "--set", f"runs_dir={earlier.tmp / 'other'}"
    )
    assert code == 0
    assert any("n_samples=5000 but only 60 texts" in ln for ln in warnings_of(caplog))


def test_kaggle_file_with_one_valued_finer_levels_is_scored_on_the_rest(earlier, tiny_df, capsys, caplog):
    kaggle = earlier.tmp / "train_40k.csv"
    tiny_df.assign(Cat2="unknown", Cat3="unknown").to_csv(kaggle, index=False)
    code, _, err = run_cli(
        capsys,
        "compare",
        *earlier.args,
        "--set",
        f"corpus.source={kaggle}",
        "--set",
        f"runs_dir={earlier.tmp / 'kaggle'}",
    )
    assert code == 0, err
    assert any("['Cat2', 'Cat3'] have 1 class after cleaning and are not scored" in ln for ln in warnings_of(caplog))
    (run_dir,) = list((earlier.tmp / "kaggle").iterdir())
    assert set(pd.read_csv(run_dir / "results.csv")["level"]) == {"Cat1"}
    assert json.loads((run_dir / "manifest.json").read_text())["corpus"]["cleaning"]["label_levels_skipped"] == 2


# --------------------------------------------------------------------------- training


TINY_TRAIN = [
    "--set",
    "train.max_seq_length=16",
    "--set",
    "encode.max_seq_length=16",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.learning_rate=1e-3",
]


@pytest.mark.slow
def test_one_step_training_takes_its_step_at_the_peak_learning_rate(earlier, tiny_checkpoint, capsys, caplog):
    """Fewer texts than one batch: the one optimizer step is not spent inside a linear warm-up at
    learning rate 0 (which changed nothing, so it was refused); it is taken without warm-up."""
    import logging

    caplog.set_level(logging.INFO, logger="simcse_lab.training.trainer")
    code, out, err = run_cli(
        capsys, "train", "--model", tiny_checkpoint, *earlier.args, *TINY_TRAIN, "--set", "train.batch_size=64"
    )
    assert code == 0, err
    assert any("one optimizer step, taken at the peak learning rate" in r.getMessage() for r in caplog.records)
    (log,) = (earlier.data / "interim" / "models").glob("simcse-*/training_log.json")
    assert json.loads(log.read_text())["global_step"] == 1


def test_unchanged_weights_are_caught():
    import torch

    from simcse_lab.training.lifecycle import check_weights_changed, weights_digest

    model = torch.nn.Linear(3, 2)
    before = weights_digest(model)
    with pytest.raises(ValueError, match="no weight changed"):
        check_weights_changed(before, model, what="simcse", n_steps=1)
    with torch.no_grad():
        model.weight[0, 0] += 1e-6
    check_weights_changed(before, model, what="simcse", n_steps=1)


@pytest.mark.slow
def test_truncated_optimizer_state_resumes_from_the_checkpoint_before(earlier, tiny_checkpoint, capsys, caplog):
    args = ["train", "--model", tiny_checkpoint, *earlier.args, *TINY_TRAIN, "--set", "train.checkpoint_steps=2"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    (run,) = list((earlier.data / "interim" / "models").glob("simcse-*"))
    ckpts = sorted(run.glob("checkpoints/checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert len(ckpts) == 2
    # an interruption after the newest checkpoint was half-written: no log, a truncated optimizer.pt
    (run / "training_log.json").unlink()
    opt = ckpts[-1] / "optimizer.pt"
    opt.write_bytes(opt.read_bytes()[:50])
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert any("skipping damaged checkpoint" in ln and ckpts[-1].name in ln for ln in warnings_of(caplog))
    assert json.loads((run / "training_log.json").read_text())["resumed_from"] == ckpts[0].name


@pytest.mark.slow
def test_a_cached_model_whose_files_changed_is_trained_again(earlier, tiny_checkpoint, capsys, caplog):
    """A damaged weights file or a deleted tokenizer.json is caught against the hashes recorded when
    the model was written, and the model is trained again (the same request gives the same model),
    never loaded half (a 5-token tokenizer: every word [UNK], V-measure 0)."""
    args = ["train", "--model", tiny_checkpoint, *earlier.args, *TINY_TRAIN]
    assert run_cli(capsys, *args)[0] == 0
    (model,) = list((earlier.data / "interim" / "models").glob("simcse-*/model"))

    def weights_and_tokenizer():  # the model card (README.md) records the session's training log
        return {k: v for k, v in snapshot(model).items() if k != "README.md"}

    intact = weights_and_tokenizer()
    for damage, says in [
        ("model.safetensors", "model/model.safetensors is missing, new or changed"),
        ("tokenizer.json", "model/tokenizer.json is missing, new or changed"),
        ("../training_log.json", "training_log.json is unreadable (JSONDecodeError"),
    ]:
        target = model / damage
        if damage == "tokenizer.json":
            target.unlink()
        else:
            target.write_bytes(target.read_bytes()[:100])
        caplog.clear()
        code, _, err = run_cli(
            capsys,
            "encode",
            "--model",
            f"simcse({tiny_checkpoint})",
            "--out",
            earlier.tmp / "e.npy",
            *earlier.args,
            *TINY_TRAIN,
        )
        assert code == 0, err
        assert any(says in ln and "training it again" in ln for ln in warnings_of(caplog)), damage
        assert weights_and_tokenizer() == intact


@pytest.mark.slow
def test_train_output_is_reused_only_for_the_same_request(earlier, tiny_checkpoint, tiny_df, capsys):
    out_dir = earlier.tmp / "my-model"
    args = ["train", "--model", tiny_checkpoint, *earlier.args, *TINY_TRAIN, "--output", out_dir]
    assert run_cli(capsys, *args)[0] == 0
    before = snapshot(out_dir)
    assert run_cli(capsys, *args)[0] == 0 and snapshot(out_dir) == before  # the same request: reused
    other = earlier.tmp / "other.csv"
    tiny_df.iloc[:50].to_csv(other, index=False)
    for change in (
        ["--set", f"corpus.source={other}"],
        ["--set", "train.epochs=2"],
        ["--set", "train.learning_rate=5e-4"],
    ):
        code, _, err = run_cli(capsys, *args, *change)
        one_line(code, err, "holds a model that cannot be reused: it was trained for another request")
        assert snapshot(out_dir) == before
    a_file = write(earlier.tmp / "a_file", "x")
    code, _, err = run_cli(capsys, "train", "--model", tiny_checkpoint, *earlier.args, *TINY_TRAIN, "--output", a_file)
    one_line(code, err, "is a file; give a folder for the trained model")
    mine = earlier.tmp / "mine"
    write(mine.mkdir() or mine / "notes.txt", "precious")
    code, _, err = run_cli(capsys, "train", "--model", tiny_checkpoint, *earlier.args, *TINY_TRAIN, "--output", mine)
    one_line(code, err, "holds other files and is not a training run folder")


# --------------------------------------------------------------------------- sweeps, debug, bugs


def test_bad_sweep_files(earlier, capsys):
    tmp = earlier.tmp
    for path, msg in [(tmp / "none.yaml", "none.yaml"), (write(tmp / "s.yaml", "grid: [unclosed\n"), "s.yaml")]:
        code, _, err = run_cli(capsys, "sweep", path)
        one_line(code, err, msg)
    a_file = write(tmp / "taken", "x")
    sweep = write(tmp / "f.yaml", f"output_dir: {a_file}\ngrid:\n  seed: [1]\n")
    code, _, err = run_cli(capsys, "sweep", sweep)
    one_line(code, err, "sweep output_dir")
    assert "is a file" in err[0]


def test_debug_shows_the_traceback(earlier, capsys):
    code = main(["compare", *earlier.args, "--set", "corpus.source=/no/such.csv", "--debug"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("simcse-lab: error: corpus file not found")


def test_internal_bugs_keep_their_traceback(earlier, monkeypatch):
    import simcse_lab.experiment as experiment

    def bug(cfg):
        raise TypeError("a bug in simcse-lab")

    monkeypatch.setattr(experiment, "run", bug)
    with pytest.raises(TypeError, match="a bug in simcse-lab"):
        main(["compare", *earlier.args])
    assert earlier.unchanged()


@pytest.mark.slow
def test_notebook_with_a_bad_parameter_fails_in_one_line(tmp_path, tiny_csv):
    import papermill as pm

    root = Path(__file__).resolve().parents[1]
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(
            str(root / "notebooks" / "01_corpus.ipynb"),
            str(tmp_path / "out.ipynb"),
            cwd=str(root / "notebooks"),
            kernel_name="python3",
            progress_bar=False,
            parameters={"corpus_source": str(tiny_csv), "corpus_n_samples": 1, "data_dir": str(tmp_path / "d")},
        )
    (line,) = info.value.traceback
    assert line.startswith("simcse-lab: error:") and "corpus.n_samples" in line and ">= 2" in line, line
    assert info.value.exec_count == 3  # the config cell, before any data is read


def test_papermill_parameter_that_is_no_parameter_fails_in_one_line(tmp_path, tiny_csv):
    """``papermill ... -p corpus_n_sample 20`` must not run on the default as if it were given."""
    import papermill as pm

    root = Path(__file__).resolve().parents[1]
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(
            str(root / "notebooks" / "01_corpus.ipynb"),
            str(tmp_path / "out.ipynb"),
            cwd=str(root / "notebooks"),
            kernel_name="python3",
            progress_bar=False,
            parameters={"corpus_source": str(tiny_csv), "corpus_n_sample": 20, "data_dir": str(tmp_path / "d")},
        )
    (line,) = info.value.traceback
    assert "unknown parameter 'corpus_n_sample' (did you mean 'corpus_n_samples'?)" in line, line
    assert info.value.exec_count == 3


@pytest.mark.slow
def test_selftrain_with_more_clusters_than_texts_can_pair_names_the_setting(earlier, tiny_checkpoint, capsys):
    code, _, err = run_cli(
        capsys,
        "train",
        "--model",
        tiny_checkpoint,
        "--method",
        "selftrain",
        *earlier.args,
        *TINY_TRAIN,
        "--set",
        "corpus.n_samples=30",
        "--set",
        "selftrain.n_clusters=29",
        "--set",
        "selftrain.loss=mnrl",
    )
    # 29 clusters of 2 cannot come out of 30 texts: refused before any pseudo-label is made
    one_line(code, err, "selftrain.n_clusters=29 (its setting) is too many clusters for 30 training texts")
    assert "lower selftrain.n_clusters" in err[0]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["simcse", "tsdae"])
def test_quiet_means_quiet(earlier, tiny_checkpoint, method):
    """-q: no progress bar (ours, the trainer's, the model card's), no trainer log dicts, no library
    warnings (TSDAE's decoder load report among them); only the result on stdout."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "simcse_lab.cli",
            "train",
            "--model",
            str(tiny_checkpoint),
            "--method",
            method,
            *earlier.args,
            *TINY_TRAIN,
            "--set",
            "encode.show_progress=true",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert proc.stderr.strip() == "", proc.stderr[-1000:]
    assert "{'loss'" not in proc.stdout and "train_runtime" not in proc.stdout and "%|" not in proc.stdout


def test_headings_say_what_ran(earlier, capsys):
    """No bootstrap, one seed: the heading says there is no interval, and no ± is printed."""
    code, out, err = run_cli(capsys, "compare", *earlier.args, "--set", "metrics.n_bootstrap=0")
    assert code == 0, err
    heading = next(ln for ln in out.splitlines() if ln.startswith("V-measure against"))
    assert "one seed, no interval: metrics.n_bootstrap is 0" in heading and "bootstrap interval" not in heading
    assert "±" not in out.split("Per model")[0]


def test_a_label_level_with_very_many_classes_is_warned_about_before_kmeans(earlier, capsys, caplog):
    many = earlier.tmp / "many.csv"
    pd.DataFrame(
        {
            "Text": [f"order {i} of item {i // 2} in colour {i % 7}" for i in range(300)],
            "Cat1": [f"sku-{i // 2}" for i in range(300)],
        }
    ).to_csv(many, index=False)
    code, _, err = run_cli(
        capsys, "compare", *earlier.args, "--set", f"corpus.source={many}", "--set", "metrics.n_bootstrap=0"
    )
    assert code == 0, err
    assert any(
        "KMeans will make one cluster per class of 'Cat1': k=150 for 300 texts" in ln for ln in warnings_of(caplog)
    )


def test_the_reports_v_measure_table_has_one_header_row(earlier):
    page = (earlier.run_dir / "report.html").read_text()
    table = page.split("<h2>V-measure against")[1].split("</table>")[0]
    head = table.split("<thead>")[1].split("</thead>")[0]
    assert head.count("<tr") == 1 and "<th>model</th>" in head


def test_a_cache_record_edited_or_garbled_is_a_miss_named_by_its_file(tmp_path, caplog):
    import json

    from simcse_lab.core.cache import ArrayCache
    from simcse_lab.evaluation.clustering_cache import CachedClustering, load_clustering, save_clustering

    cache = ArrayCache(tmp_path)
    labels = np.array([0, 0, 1, 1, 2], dtype=np.int64)
    entry = CachedClustering(
        labels={"kmeans": labels}, probabilities={"kmeans": None}, scored={"kmeans": [["L", {"v_measure": 0.5}]]}
    )
    save_clustering(cache, "k1", entry)
    back = load_clustering(cache, "k1", 5)
    assert back is not None and back.scored["kmeans"][0][1]["v_measure"] == 0.5
    record = json.loads((tmp_path / "k1.json").read_text())
    record["scored"]["kmeans"][0][1]["v_measure"] = 0.99  # a score edited by hand
    (tmp_path / "k1.json").write_text(json.dumps(record))
    assert load_clustering(cache, "k1", 5) is None and "k1.json was changed" in caplog.text
    (tmp_path / "k1.json").write_text("{not json")
    assert cache.load("k1") is None and "cache record k1.json is unreadable" in caplog.text
