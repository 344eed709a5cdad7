"""The record of a learner's progress (d2lnets.tools.progress): kept beside the checked copies, never in the
chapters or in git, never in the way of a check; shown by `make progress`. Temporary folders only."""
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from d2lnets.tools import exercises, progress
from d2lnets.tools.check import progress_main
from d2lnets.tools.exercises import STUB

ROOT = Path(__file__).resolve().parent.parent
LENET = """def modern_lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
"""


@pytest.fixture
def copies(tmp_path):
    """A learner's exercises/ with chapter 1 only (quick to check), its first exercise solved."""
    folder = tmp_path / "exercises"
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    shutil.copy(ROOT / "chapters" / "01_lenet.ipynb", chapters)
    exercises.sync(chapters, folder)
    path = folder / "01_lenet.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("def modern_lenet"))
    assert STUB in cell.source
    cell.source = LENET
    nbformat.write(nb, path)
    return folder


def _check(*args):
    return subprocess.run([sys.executable, "-m", "d2lnets", "check", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def _record(folder):
    return json.loads((folder / progress.RECORD).read_text())["solved"]


def test_check_records_when_an_exercise_was_first_solved(copies):
    assert _check(copies).returncode == 1   # one of two solved
    first = _record(copies)
    assert list(first) == ["01_lenet"] and list(first["01_lenet"]) == ["1"]
    assert first["01_lenet"]["1"]["title"] == "1. The modern LeNet, by hand"
    dt.datetime.fromisoformat(first["01_lenet"]["1"]["first_solved"])
    assert _check(copies).returncode == 1
    assert _record(copies) == first, "a second check keeps the first date"


def test_an_unreadable_record_is_reported_kept_aside_and_started_again(copies):
    (copies / progress.RECORD).write_text("{ this is not json")
    result = _check(copies)
    assert result.returncode == 1 and "01_lenet  1. The modern LeNet, by hand: solved" in result.stdout
    assert "could not be read" in result.stderr and ".progress.json.bad" in result.stderr
    assert (copies / ".progress.json.bad").read_text() == "{ this is not json"
    assert list(_record(copies)["01_lenet"]) == ["1"]


def test_a_record_that_cannot_be_written_never_stops_the_check(copies, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise OSError("read-only file system")

    monkeypatch.setattr(progress.os, "replace", fail)
    progress.record(copies, "01_lenet", [("1", "1. The modern LeNet, by hand")])
    err = capsys.readouterr().err
    assert "could not be recorded" in err and "read-only file system" in err and "checked all the same" in err
    assert not (copies / progress.RECORD).exists()


def test_checking_the_chapters_keeps_no_record(tmp_path):
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters", ignore=shutil.ignore_patterns("0[2-7]_*"))
    assert _check(tmp_path / "chapters").returncode == 0
    assert sorted(p.name for p in (tmp_path / "chapters").iterdir()) == ["01_lenet.ipynb"]


def test_the_record_stays_out_of_git():
    """It lives in exercises/, which git ignores."""
    assert "exercises/" in (ROOT / ".gitignore").read_text().splitlines()


def test_progress_shows_what_is_solved_and_since_when(copies, capsys):
    _check(copies)
    assert progress_main([str(copies)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "01_lenet  1 of 2 solved"
    assert out[2].startswith("  1. The modern LeNet, by hand") and "first solved 20" in out[2]
    assert out[3].startswith("  2. A layer's cost") and out[3].endswith("not yet")
    assert out[-1].startswith("1 of 2 exercises solved so far")


def test_progress_without_copies_says_what_to_do(tmp_path, capsys):
    assert progress_main([str(tmp_path / "exercises")]) == 2
    assert "make exercises" in capsys.readouterr().err


def test_progress_says_a_broken_copy_and_shows_the_others(copies, capsys):
    _check(copies)
    (copies / "02_alexnet.ipynb").write_text('{"cells": [')  # cut short, as by a crash while saving
    assert progress_main([str(copies)]) == 0
    out = capsys.readouterr().out
    assert "02_alexnet.ipynb cannot be read" in out and "01_lenet  1 of 2 solved" in out
