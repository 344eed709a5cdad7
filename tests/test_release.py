"""One version number, and release files PyPI accepts: `make dist` builds the sdist and the wheel,
whose metadata carries `d2lnets.__version__` (pyproject.toml reads it from there) and passes
`twine check`. The wheel carries the chapters, so that a fresh environment that installs it (not
the checkout) can set up, write a learner's copies and check them, in a folder outside any
checkout. Built from a copy of the course in a temporary folder, never in the checkout."""
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import nbformat
import pytest

import d2lnets
from d2lnets.core import paths
from d2lnets.tools import notebooks
from d2lnets.tools.exercises import STUB, chapter_notebooks, learner_notebook, strip_solutions

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = chapter_notebooks(ROOT / "chapters")
# What a release is built from (a clean clone has these; setup.py adds chapters/ to the wheel).
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "LICENSE-content.md")


def test_the_version_is_written_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "d2lnets.__version__"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    for tool in ("build", "twine"):
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"needs {tool} (the dev extra, which make test installs)")
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "d2lnets", source / "d2lnets", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "chapters", source / "chapters", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_the_wheel_and_the_sdist_carry_the_packages_version(dist):
    version = d2lnets.__version__
    wheel = next(dist.glob("d2lnets-*.whl"))
    sdist = next(dist.glob("d2lnets-*.tar.gz"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = Parser().parsestr(z.read(f"d2lnets-{version}.dist-info/METADATA").decode())
    assert metadata["Version"] == version, f"the wheel says {metadata['Version']}, d2lnets.__version__ {version}"
    assert metadata["License-Expression"] == "MIT AND CC-BY-SA-4.0"      # the code, and the chapters' text
    assert {f"d2lnets-{version}.dist-info/licenses/{n}" for n in ("LICENSE", "LICENSE-content.md")} <= set(names)
    assert sdist.name == f"d2lnets-{version}.tar.gz"
    with tarfile.open(sdist) as t:
        info = Parser().parsestr(t.extractfile(f"d2lnets-{version}/PKG-INFO").read().decode())
    assert info["Version"] == version


def test_the_wheel_carries_the_chapters_as_committed_and_the_sdist_builds_it_again(dist):
    wheel = next(dist.glob("d2lnets-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        packaged = {n: z.read(n) for n in z.namelist() if n.startswith("d2lnets/_chapters/")}
    assert packaged == {f"d2lnets/_chapters/{p.name}": p.read_bytes() for p in CHAPTERS}
    with tarfile.open(next(dist.glob("d2lnets-*.tar.gz"))) as t:     # one copy, chapters/, in the sdist
        names = t.getnames()
    assert {f"d2lnets-{d2lnets.__version__}/chapters/{p.name}" for p in CHAPTERS} <= set(names)
    assert not [n for n in names if "/d2lnets/_chapters/" in n]


def test_a_release_without_its_chapters_is_not_built(tmp_path):
    """setup.py stops the build, rather than make a wheel with nothing for `d2lnets exercises`."""
    for name in SOURCES:
        shutil.copy2(ROOT / name, tmp_path / name)
    done = subprocess.run([sys.executable, "setup.py", "--name"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and "no chapters/NN_name.ipynb" in done.stdout + done.stderr


# --- where the chapters are found: the checkout's, else the wheel's -------------------------------

def test_chapters_are_the_checkouts_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paths.chapters_dir() == ROOT / "chapters"        # this editable install runs from the checkout


def test_without_a_checkout_the_chapters_are_the_packaged_ones(tmp_path, monkeypatch):
    packaged = tmp_path / "site-packages" / "d2lnets" / "_chapters"
    packaged.mkdir(parents=True)
    monkeypatch.setattr(paths, "checkout", lambda: None)
    monkeypatch.setattr(paths, "PACKAGED_CHAPTERS", packaged)
    monkeypatch.chdir(tmp_path)
    assert paths.chapters_dir() == packaged
    course = tmp_path / "course"                              # a course's folder (or one below it) wins
    (course / "chapters").mkdir(parents=True)
    (course / "pyproject.toml").write_text("")
    (course / "exercises").mkdir()
    monkeypatch.chdir(course / "exercises")
    assert paths.chapters_dir() == course / "chapters"
    monkeypatch.chdir(tmp_path)
    packaged.rmdir()
    with pytest.raises(FileNotFoundError, match="found no chapters.*pip install d2lnets"):
        paths.chapters_dir()


def test_results_refuses_to_rerun_the_packaged_chapters(tmp_path, monkeypatch, capsys):
    packaged = tmp_path / "_chapters"
    packaged.mkdir()
    monkeypatch.setattr(paths, "checkout", lambda: None)
    monkeypatch.setattr(paths, "PACKAGED_CHAPTERS", packaged)
    monkeypatch.setattr(notebooks, "PACKAGED_CHAPTERS", packaged)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        notebooks.main([])
    assert stopped.value.code == 2 and "in a checkout of the course" in capsys.readouterr().err


# --- the wheel, installed: set up, write the copies, check them, outside any checkout -------------

@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """A fresh virtual environment with the wheel installed (--no-deps): torch and the rest come
    from this environment through a .pth file (not processed: so this one's editable d2lnets is not
    seen), after the fresh one's own site-packages."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    Path(site, "outer_environment.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    wheel = next(dist.glob("d2lnets-*.whl"))
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def _d2lnets(python: Path, *args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "d2lnets", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_a_fresh_environment_with_the_wheel_sets_up_writes_the_copies_and_checks_them(installed, tmp_path,
                                                                                      real_files):
    folder = tmp_path / "my course"
    folder.mkdir()
    env = {**os.environ, "D2LNETS_DATA": str(next(iter(real_files.values())).parent), "PYTHONPATH": "",
           "MPLBACKEND": "Agg"}
    where = subprocess.run([str(installed), "-c", "import d2lnets, d2lnets.core.paths as p; "
                            "print(d2lnets.__file__); print(p.checkout()); print(p.chapters_dir())"],
                           cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    module, checkout, chapters = where.stdout.split("\n")[:3]
    assert Path(module).is_relative_to(installed.parent.parent), f"d2lnets imported from {module}, not the wheel"
    assert checkout == "None" and Path(chapters) == Path(module).parent / "_chapters"

    done = _d2lnets(installed, "setup", "--no-install", cwd=folder, env=env)
    assert done.returncode == 0 and "set-up done" in done.stdout, done.stdout + done.stderr
    done = _d2lnets(installed, "exercises", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    copies = chapter_notebooks(folder / "exercises")
    assert [p.name for p in copies] == [p.name for p in CHAPTERS]
    for chapter, copy in zip(CHAPTERS, copies):
        assert f"wrote {Path('exercises') / copy.name}" in done.stdout
        expected = learner_notebook(nbformat.read(chapter, as_version=4), chapter.stem)
        assert nbformat.read(copy, as_version=4).metadata["d2lnets"] == expected.metadata["d2lnets"]

    lenet = folder / "exercises" / CHAPTERS[0].name
    done = _d2lnets(installed, "check", str(lenet.relative_to(folder)), cwd=folder, env=env)
    said = done.stdout + done.stderr
    assert done.returncode == 1 and "not written yet" in done.stdout and "0 of" in done.stdout, said
    assert ": error" not in done.stdout, done.stdout                     # the set-up cells ran
    # the learner solves the first exercise (with the chapter's own solution): now it is solved
    mine, solved = nbformat.read(lenet, as_version=4), nbformat.read(CHAPTERS[0], as_version=4)
    cell = next(c for c in mine.cells if c.cell_type == "code" and STUB in c.source)
    cell.source = next(c.source for c in solved.cells
                       if c.cell_type == "code" and strip_solutions(c.source) == cell.source)
    nbformat.write(mine, lenet)
    done = _d2lnets(installed, "check", str(lenet.relative_to(folder)), cwd=folder, env=env)
    first = next(line for line in done.stdout.splitlines() if line.startswith(CHAPTERS[0].stem))
    assert first.endswith(": solved"), done.stdout + done.stderr


def test_twine_check_passes(dist):
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

