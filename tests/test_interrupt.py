"""Ctrl-C in the course's commands: one line of ours saying what was interrupted and what was kept,
no traceback, exit status 130, and nothing lost.

Each command runs in a subprocess of its own session; once it is busy (it has written a file to say
so), SIGINT goes to its whole process group, as a terminal's Ctrl-C does.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import d2lnets
from d2lnets.tools import interrupt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a process group is POSIX")


def interrupted(command: list[str], busy: Path, cwd: Path, env: dict | None = None, timeout: float = 120):
    """Run ``command``; once ``busy`` exists, Ctrl-C it. Returns (exit status, stdout, stderr)."""
    # SIGINT as a terminal leaves it: a suite started in the background of a script (`cmd &`) inherits it
    # ignored, and Python started with it ignored never raises KeyboardInterrupt
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})}, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + timeout
    while not busy.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"the command never got busy (exit {process.returncode}):\n{out}\n{err}")
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err


def ours(err: str) -> list[str]:
    """The lines of stderr that are not the kernel's start-up notice."""
    return [line for line in err.splitlines() if line.strip() and "[IPKernelApp]" not in line]


def test_one_line_gives_the_general_line_for_any_interrupt(capsys):
    @interrupt.one_line("d2lnets x")
    def main(argv=None):
        raise KeyboardInterrupt

    assert main([]) == 130
    assert capsys.readouterr().err.strip() == "d2lnets x: interrupted; files already written are kept whole"


def test_interrupting_a_chapter_run_leaves_the_notebook_and_says_so(tmp_path):
    # the package copied out of the checkout, so that the run's records go to tmp_path, not the checkout
    shutil.copytree(Path(d2lnets.__file__).parent, tmp_path / "pkg" / "d2lnets",
                    ignore=shutil.ignore_patterns("__pycache__"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("open('busy', 'w').close()"),
                nbformat.v4.new_code_cell("import time\ntime.sleep(120)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    before = (tmp_path / "01_x.ipynb").read_bytes()
    code, out, err = interrupted([sys.executable, "-m", "d2lnets.notebooks", "01_x.ipynb", "--profile", "smoke",
                                  "--results", "RESULTS.md"], tmp_path / "busy", tmp_path,
                                 {"PYTHONPATH": str(tmp_path / "pkg"), "PYTHONWARNINGS": "ignore"})
    assert code == 130, err
    assert ours(err) == ["d2lnets results: interrupted while running 01_x.ipynb: the notebook was left as it was; "
                         "RESULTS.md keeps its last version"], err
    assert (tmp_path / "01_x.ipynb").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_x.ipynb", "busy", "pkg"]  # no temporary file


def test_interrupting_training_names_the_checkpoint_and_how_to_go_on(tmp_path):
    checkpoint = tmp_path / "lenet.pt"
    args = ["--model", "lenet", "--epochs", "200", "--num-train", "256", "--num-test", "64", "--batch-size", "64",
            "--checkpoint", str(checkpoint)]
    code, out, err = interrupted([sys.executable, "-m", "d2lnets", "train", *args], checkpoint, tmp_path,
                                 {"D2LNETS_RUNS": str(tmp_path), "D2LNETS_RUN_LOG": str(tmp_path / "runs.jsonl"),
                                  "D2LNETS_PROFILE": "smoke", "PYTHONWARNINGS": "ignore"})
    assert code == 130, err
    (line,) = ours(err)
    assert line.startswith("d2lnets train: interrupted in epoch ") and "of 200 (after batch " in line, line
    assert f"the checkpoint {checkpoint} (written at " in line
    assert f"is kept: go on with d2lnets train {' '.join(args)} --resume. No run record was written" in line
    assert not (tmp_path / "runs.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.pt"]  # whole, and no temporary file
    assert d2lnets.train.checkpoint.read_checkpoint(checkpoint)["meta"]["epoch"] >= 1


def test_interrupting_the_check_says_the_copies_are_untouched(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import time\nopen('busy', 'w').close()\ntime.sleep(120)",
                                          metadata={"tags": ["setup"]}),
                nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["exercise"]}),
                nbformat.v4.new_code_cell("assert x == 1", metadata={"tags": ["check"]})]
    (tmp_path / "exercises").mkdir()
    nbformat.write(nb, tmp_path / "exercises" / "01_x.ipynb")
    before = (tmp_path / "exercises" / "01_x.ipynb").read_bytes()
    code, out, err = interrupted([sys.executable, "-m", "d2lnets", "check"], tmp_path / "busy", tmp_path,
                                 {"PYTHONWARNINGS": "ignore"})
    assert code == 130, err
    assert ours(err) == ["d2lnets check: interrupted while checking exercises/01_x.ipynb: the check only reads "
                         "your copies, so they are as you left them"], err
    assert (tmp_path / "exercises" / "01_x.ipynb").read_bytes() == before
