"""Publishing a folder can never lose the earlier one: an atomic exchange, a recovery after a kill
between two renames where there is no exchange, and one writer per run folder at a time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simcse_lab.cli import main
from simcse_lab.core.publish import atomic_folder, folder_lock, recover_folder

PUBLISH_LOOP = """
import sys, pathlib
from simcse_lab.core.publish import atomic_folder
dest = pathlib.Path(sys.argv[1])
i = 0
while True:
    i += 1
    with atomic_folder(dest) as tmp:
        for j in range(30):
            (tmp / f"f{j}.txt").write_text(str(i))
"""

KILLED_BETWEEN_RENAMES = """
import os, sys, pathlib
from simcse_lab.core import publish
publish._exchange = lambda a, b: False          # an OS without an atomic exchange
real = os.replace
calls = []
def replace(a, b):
    calls.append(a)
    real(a, b)
    if ".old-" in str(b):
        os._exit(9)                              # killed between 'earlier moved aside' and 'new renamed in'
os.replace = replace
with publish.atomic_folder(pathlib.Path(sys.argv[1])) as tmp:
    (tmp / "a.txt").write_text("new")
"""


def _whole(dest: Path) -> bool:
    files = sorted(dest.iterdir())
    return len(files) == 30 and len({p.read_text() for p in files}) == 1


def test_kill_9_at_any_moment_never_loses_the_published_folder(tmp_path):
    dest = tmp_path / "run"
    with atomic_folder(dest) as tmp:
        for j in range(30):
            (tmp / f"f{j}.txt").write_text("0")
    for delay in (0.3, 0.45, 0.6, 0.8, 1.0):
        proc = subprocess.Popen([sys.executable, "-c", PUBLISH_LOOP, str(dest)])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert dest.is_dir() and _whole(dest)
    recover_folder(dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .partial-*, .old-* or lock left


def test_a_kill_between_two_renames_is_recovered_at_the_next_start(tmp_path):
    dest = tmp_path / "run"
    with atomic_folder(dest) as tmp:
        (tmp / "a.txt").write_text("earlier")
    proc = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_RENAMES, str(dest)])
    assert proc.returncode == 9 and not dest.exists()
    assert any(p.name.startswith(".run.old-") for p in tmp_path.iterdir())
    done = recover_folder(dest)
    assert (dest / "a.txt").read_text() == "earlier" and any("restored" in d for d in done)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_next_compare_restores_an_orphaned_run_folder(tmp_path, tiny_csv, capsys, caplog):
    from conftest import FAST, snapshot

    runs = tmp_path / "runs"
    args = [
        "compare",
        "--set",
        f"corpus.source={tiny_csv}",
        "--set",
        f"data_dir={tmp_path / 'data'}",
        "--set",
        f"runs_dir={runs}",
        *FAST,
    ]
    run_dir = runs / "mine"
    assert main([*args, "--run-dir", str(run_dir)]) == 0
    before = snapshot(run_dir)
    proc = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_RENAMES, str(run_dir)])
    assert proc.returncode == 9 and not run_dir.exists()
    capsys.readouterr()
    # a report on the folder (or any compare writing it) first puts the earlier run back
    assert main(["report", str(run_dir)]) == 0
    assert any("restored" in r.getMessage() for r in caplog.records)
    assert {k: v for k, v in snapshot(run_dir).items() if k != "report.html"} == {
        k: v for k, v in before.items() if k != "report.html"
    }
    assert sorted(p.name for p in runs.iterdir()) == ["mine"]


def test_a_second_writer_of_one_run_folder_is_refused_in_one_line(tmp_path, tiny_csv, capsys):
    from conftest import FAST, one_line

    run_dir = tmp_path / "shared-run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time, pathlib\nfrom simcse_lab.core.publish import folder_lock\n"
                f"with folder_lock(pathlib.Path({str(run_dir)!r})):\n"
                "    print('held', flush=True)\n    time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        code = main(
            [
                "compare",
                "--set",
                f"corpus.source={tiny_csv}",
                "--set",
                f"data_dir={tmp_path / 'data'}",
                *FAST,
                "--run-dir",
                str(run_dir),
            ]
        )
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        one_line(code, err, f"is being written by another process (pid {holder.pid})")
        assert not (tmp_path / "data" / "interim").exists()  # refused before computing anything
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(run_dir):  # the OS released the dead holder's lock
        pass


def test_sigterm_exits_130_even_when_it_lands_in_code_a_library_runs_through_pyrun_string(tmp_path):
    """CPython exits by SIGINT (-2) after a caught plain KeyboardInterrupt that was raised inside code run
    through PyRun_String (pybind11's exec does that); a SIGTERM must still end a run with 130."""
    (tmp_path / "probe.py").write_text(
        "import ctypes, os, signal, sys, threading\n"
        "from simcse_lab.cli import _sigterm_interrupts\n"
        "_sigterm_interrupts()\n"
        "threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()\n"
        "run = ctypes.pythonapi.PyRun_String\n"
        "run.restype = ctypes.py_object\n"
        "run.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.py_object, ctypes.py_object]\n"
        "try:\n"
        "    run(b'import time\\nwhile True: time.sleep(0.01)\\n', 257, {}, {})\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    proc = subprocess.run([sys.executable, "-m", "probe"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 130


def test_sigterm_ends_a_compare_like_ctrl_c(tmp_path, tiny_csv):
    """A scheduler's SIGTERM: exit 130 with the one-line notice, nothing half-written left."""
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simcse_lab.cli",
            "compare",
            "--set",
            f"corpus.source={tiny_csv}",
            "--set",
            f"data_dir={tmp_path / 'data'}",
            "--set",
            f"runs_dir={runs}",
            "--set",
            "models.encoders=[minilm]",
            "--set",
            "models.simcse_from=[]",
            "--set",
            "metrics.sts_splits=[]",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    time.sleep(8)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal")
    assert proc.returncode == 130, err[-800:]
    assert "interrupted" in err.splitlines()[-1]
    assert not runs.exists() or [p.name for p in runs.iterdir() if p.name.startswith(".")] == []


def test_sighup_ends_a_run_as_sigterm_does():
    import subprocess
    import sys

    code = (
        "import os, signal, time\n"
        "from simcse_lab.cli import _sigterm_interrupts\n"
        "_sigterm_interrupts()\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGHUP)\n"
        "    time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    print('ended like Ctrl-C')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ended like Ctrl-C", done.stderr[-500:]


def test_a_run_folder_given_as_a_link_is_written_through_and_a_dangling_one_is_refused(tmp_path):
    from simcse_lab.reporting.run_folder import check_run_folder

    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    assert check_run_folder(link) == target.resolve()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="is a link to .*nowhere, which does not exist"):
        check_run_folder(dangling)


def test_a_full_disk_is_said_with_the_folder_that_is_full(tmp_path):
    """A write to an open file that hits a full disk raises "No space left on device" naming no
    file; the user is told which folder (and where temporary files go) instead."""
    import errno

    from simcse_lab.core.errors import error_line
    from simcse_lab.core.publish import atomic_write

    def fill_up(fh):
        fh.write(b"x")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as got:
        atomic_write(tmp_path / "cache" / "a.npy", fill_up)
    assert error_line(got.value) == f"No space left on device: {tmp_path / 'cache'}"
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-written left
    unnamed = error_line(OSError(errno.ENOSPC, "No space left on device"))
    assert "TMPDIR" in unnamed and "data_dir" in unnamed
