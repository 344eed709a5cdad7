"""`make` on a fresh machine explains itself: a Python older than 3.11, a Python without its `venv`
module (Debian's missing python3.X-venv) and a half-made `.venv` each get a message that says what
to do, or a rebuild, instead of pip's error or a broken environment trusted.

Every test runs the repository's Makefile in a temporary copy, with `VENV=` in a temporary folder
and stand-in interpreters (small shell scripts): the checkout's own `.venv` is never touched.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(sys.executable)       # a Python >= 3.11 with venv and ensurepip (the suite's own)
VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"

pytestmark = pytest.mark.skipif(shutil.which("make") is None or os.name == "nt",
                                 reason="the make route is for Linux and macOS")


@pytest.fixture
def course(tmp_path):
    """A copy of what the Makefile's set-up rules read."""
    folder = tmp_path / "course"
    folder.mkdir()
    for name in ("Makefile", "pyproject.toml", "setup.py"):
        shutil.copy2(ROOT / name, folder / name)
    return folder


def stand_in(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def make(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV")}
    return subprocess.run(["make", "--no-print-directory", "-C", str(course), *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_an_old_python_stops_at_once_and_says_how_to_choose_another(course, tmp_path):
    old = stand_in(tmp_path, "python3", "echo 3.10")      # what Ubuntu 22.04's python3 would report
    venv = tmp_path / "venv"
    done = make(course, "venv", f"PYTHON={old}", f"VENV={venv}")
    assert done.returncode != 0
    assert "is Python 3.10, and the course needs Python 3.11 or newer" in done.stderr
    assert "make PYTHON=python3.12" in done.stderr
    assert not venv.exists()
    # and the same for the whole set-up, before pip is ever called
    done = make(course, "setup", f"PYTHON={old}", f"VENV={venv}")
    assert done.returncode != 0 and "make PYTHON=python3.12" in done.stderr and "pip" not in done.stdout


def test_a_python_that_cannot_be_run_is_named(course, tmp_path):
    done = make(course, "venv", "PYTHON=python3.no-such-version", f"VENV={tmp_path / 'venv'}")
    assert done.returncode != 0
    assert "cannot run 'python3.no-such-version'" in done.stderr and "make PYTHON=python3.12" in done.stderr


def test_a_python_without_venv_names_the_package_to_install(course, tmp_path):
    """Debian's python3 without python3-venv: no ensurepip."""
    fake = tmp_path / "no-ensurepip" / "ensurepip"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ensurepip')\n")
    python = stand_in(tmp_path, "python3", f'PYTHONPATH="{fake.parent}" exec "{REAL}" "$@"')
    venv = tmp_path / "venv"
    done = make(course, "venv", f"PYTHON={python}", f"VENV={venv}")
    assert done.returncode != 0
    assert f"sudo apt-get install python{VERSION}-venv" in done.stderr
    assert not venv.exists()


def test_a_venv_that_fails_half_way_is_not_left_behind(course, tmp_path):
    """`python -m venv` that writes the environment, then fails to put pip in it (as Debian's does)."""
    python = stand_in(tmp_path, "python3",
                      f'if [ "$1 $2" = "-m venv" ]; then "{REAL}" -m venv --without-pip "$3"; '
                      f'echo "Error: ensurepip is not available" >&2; exit 1; fi\nexec "{REAL}" "$@"')
    venv = tmp_path / "venv"
    done = make(course, "venv", f"PYTHON={python}", f"VENV={venv}")
    assert done.returncode != 0
    assert f"sudo apt-get install python{VERSION}-venv" in done.stderr
    assert not venv.exists(), "a half-made environment was left for the next run to trust"


@pytest.mark.parametrize("damage", ["no pip", "no python", "python does not run"])
def test_a_half_made_venv_is_rebuilt_not_trusted(course, tmp_path, damage):
    venv = tmp_path / "venv"
    subprocess.run([str(REAL), "-m", "venv", "--without-pip", str(venv)], check=True)
    if damage == "no python":
        for p in (venv / "bin").glob("python*"):
            p.unlink()
    elif damage == "python does not run":
        (venv / "bin" / "python").unlink()
        stand_in(venv / "bin", "python", "exit 1")
    (venv / ".d2lnets-installed").touch()        # even with a stamp newer than everything
    before = make(course, "-q", str(venv / ".d2lnets-installed"), f"VENV={venv}")
    assert before.returncode == 1, "make trusted the stamp of a broken environment"

    done = make(course, "venv", f"PYTHON={REAL}", f"VENV={venv}")
    assert done.returncode == 0, done.stderr
    assert f"make: {venv} is incomplete" in done.stderr
    assert subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--version"],
                          capture_output=True).returncode == 0


def test_a_working_venv_and_its_stamp_are_kept(course, tmp_path):
    venv = tmp_path / "venv"
    assert make(course, "venv", f"PYTHON={REAL}", f"VENV={venv}").returncode == 0
    marker = venv / "kept"
    marker.touch()
    stamp = venv / ".d2lnets-installed"
    stamp.touch()
    # up to date: nothing to install again, and the environment is not made again
    assert make(course, "-q", str(stamp), f"VENV={venv}").returncode == 0
    done = make(course, "venv", "PYTHON=python3.no-such-version", f"VENV={venv}")
    assert done.returncode == 0 and marker.exists()
    # a newer pyproject.toml still means "install again" (the stamp logic as before)
    os.utime(course / "pyproject.toml", (stamp.stat().st_mtime + 10,) * 2)
    plan = make(course, "-n", "setup", f"VENV={venv}")
    assert "pip install" in plan.stdout and "-m venv" not in plan.stdout


def test_a_folder_that_is_not_a_venv_is_never_deleted(course, tmp_path):
    folder = tmp_path / "not-a-venv"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    done = make(course, "venv", f"PYTHON={REAL}", f"VENV={folder}")
    assert done.returncode != 0 and "is not a virtual environment" in done.stderr
    assert (folder / "notes.txt").read_text() == "mine"
