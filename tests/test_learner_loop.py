"""The learner's loop, through the Makefile as a learner runs it: copies never lost, checks in seconds.

Every test works on a copy of the course in a temporary folder (its Makefile and chapters, this
checkout's .venv), so the suite never writes into the checkout's own exercises/.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from d2lnets.tools import exercises, setup
from d2lnets.tools.check import exercises_of
from d2lnets.tools.exercises import STUB, learner_notebook

ROOT = Path(__file__).resolve().parent.parent
# every chapter's checked exercises (what make check counts), from the cell tags
N_EXERCISES = sum(len(exercises_of(nbformat.read(p, as_version=4))[1])
                  for p in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")))
N_CHAPTERS = len(list((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")))
# The environment the suite runs in, as the Makefile made it (`make test VENV=.venv313` runs these
# tests in .venv313); else the checkout's .venv.
VENV = Path(sys.prefix) if (Path(sys.prefix) / ".d2lnets-installed").exists() else ROOT / ".venv"
STAMP = VENV / ".d2lnets-installed"
ARTIFACTS = Path(os.environ.get("D2LNETS_ARTIFACTS", ROOT / "test-artifacts"))

needs_venv = pytest.mark.skipif(not STAMP.exists(), reason="the Makefile runs from the repository's .venv (make setup)")

COST_SOLUTION = """def layer_cost(layer, input_shape):
    bias = 0 if layer.bias is None else layer.bias.numel()
    if isinstance(layer, nn.Linear):
        return layer.in_features * layer.out_features + bias, layer.in_features * layer.out_features
    C, H, W = input_shape
    (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
    window = C // layer.groups * kh * kw
    outputs = layer.out_channels * ((H - kh + 2 * ph) // sh + 1) * ((W - kw + 2 * pw) // sw + 1)
    return layer.out_channels * window + bias, outputs * window
"""
COST_WRONG = ("def layer_cost(layer, input_shape):\n"   # the bias forgotten
              "    C, H, W = input_shape\n"
              "    k, = set(layer.kernel_size)\n"
              "    return layer.out_channels * C * k * k, layer.out_channels * H * W * C * k * k\n")
LENET_SOLUTION = """def modern_lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )
"""


@pytest.fixture
def course(tmp_path):
    """A copy of the course (Makefile, pyproject.toml, chapters) that uses this checkout's .venv."""
    folder = tmp_path / "course"
    folder.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copytree(ROOT / "chapters", folder / "chapters")
    return folder


def make(course, *args, timeout=300):
    """``make ARGS`` in ``course`` with this checkout's environment (never re-installed)."""
    cmd = ["make", "--no-print-directory", "-o", str(STAMP), f"VENV={VENV}", *args]
    return subprocess.run(cmd, cwd=course, capture_output=True, text=True, timeout=timeout)


def _cell_index(nb, predicate):
    return next(i for i, c in enumerate(nb.cells) if predicate(c))


def _edit(path, exercise_source, solution, add_cell=True):
    """Solve the exercise whose source starts with ``exercise_source`` in the learner copy at ``path``."""
    nb = nbformat.read(path, as_version=4)
    i = _cell_index(nb, lambda c: c.cell_type == "code" and c.source.startswith(exercise_source))
    assert STUB in nb.cells[i].source
    nb.cells[i].source = solution
    if add_cell:
        nb.cells.insert(i + 2, nbformat.v4.new_code_cell("# my own notes\nprint('hello')"))
    nbformat.write(nb, path)


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@needs_venv
def test_a_learners_work_survives_every_command(course):
    assert make(course, "exercises").returncode == 0
    copy = course / "exercises" / "01_lenet.ipynb"
    _edit(copy, "def modern_lenet", LENET_SOLUTION)
    (course / "runs").mkdir()
    (course / "runs" / "mine.pt").write_bytes(b"a learner's checkpoint")
    before = {"exercises": _snapshot(course / "exercises"), "runs": _snapshot(course / "runs")}
    # make lab's whole recipe, with JupyterLab asked only for its version so that it exits at once
    for args in (["exercises"], ["lab", "LAB_OPTS=--version"], ["clean"], ["check"], ["exercises"],
                 ["hint", "NB=01", "EX=1"], ["progress"]):
        result = make(course, *args)
        assert result.returncode == 0 or args == ["check"], (args, result.stdout, result.stderr)
    after = _snapshot(course / "exercises")
    record = json.loads(after.pop(Path(".progress.json")))   # the one file make check adds: its record
    assert after == before["exercises"] and list(record["solved"]) == ["01_lenet"]
    assert _snapshot(course / "runs") == before["runs"]
    out = make(course, "exercises").stdout
    assert "01_lenet.ipynb: your copy, up to date (left as it is)" in out


@needs_venv
def test_a_changed_chapter_is_written_beside_the_learners_copy(course):
    make(course, "exercises")
    mine = course / "exercises" / "02_alexnet.ipynb"
    _edit(mine, "def dropout_layer", "def dropout_layer(X, p, training=True):\n    return X  # work in progress\n")
    original = mine.read_bytes()

    def change_chapter(text):
        path = course / "chapters" / "02_alexnet.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells[0].source += f"\n\n{text}"
        nbformat.write(nb, path)

    change_chapter("A new paragraph.")
    result = make(course, "exercises")
    updated = course / "exercises" / "02_alexnet.updated.ipynb"
    assert result.returncode == 0 and updated.exists()
    assert "the chapter has changed since your copy was made" in result.stdout and str(updated.name) in result.stdout
    assert mine.read_bytes() == original
    # the learner starts working in the updated copy; the chapter changes again
    _edit(updated, "def lrn", "def lrn(X, size=5, alpha=1e-4, beta=0.75, k=2.0):\n    return X\n", add_cell=False)
    working = updated.read_bytes()
    assert "waiting in exercises/02_alexnet.updated.ipynb" in make(course, "exercises").stdout
    assert updated.read_bytes() == working
    change_chapter("Another paragraph.")
    result = make(course, "exercises")
    dated = sorted((course / "exercises").glob("02_alexnet.updated-*.ipynb"))
    assert len(dated) == 1 and dated[0].name in result.stdout, result.stdout
    assert mine.read_bytes() == original and updated.read_bytes() == working
    # a second run finds the dated copy current and writes nothing new
    assert "waiting in" in make(course, "exercises").stdout
    assert len(list((course / "exercises").glob("02_alexnet.updated*.ipynb"))) == 2
    # make check looks only at NN_name.ipynb
    listed = make(course, "check").stdout
    in_chapter_2 = len(exercises_of(nbformat.read(ROOT / "chapters" / "02_alexnet.ipynb", as_version=4))[1])
    assert listed.count("02_alexnet ") == in_chapter_2 + 1 and "updated" not in listed   # and its total


@needs_venv
def test_reset_moves_the_old_copy_to_a_backup_first(course):
    make(course, "exercises")
    mine = course / "exercises" / "01_lenet.ipynb"
    _edit(mine, "def layer_cost", COST_SOLUTION)
    original = mine.read_bytes()
    assert make(course, "reset").returncode != 0   # which chapter? never a guess
    result = make(course, "reset", "NB=01")
    assert result.returncode == 0, result.stderr
    backups = list((course / "exercises" / "backups").glob("01_lenet.*.ipynb"))
    assert len(backups) == 1 and backups[0].read_bytes() == original
    assert str(backups[0].relative_to(course)) in result.stdout
    fresh = nbformat.read(mine, as_version=4)
    reference = learner_notebook(nbformat.read(course / "chapters" / "01_lenet.ipynb", as_version=4), "01_lenet")
    assert [c.source for c in fresh.cells] == [c.source for c in reference.cells]
    # a second reset keeps both backups
    assert make(course, "reset", "NB=01_lenet").returncode == 0
    assert len(list((course / "exercises" / "backups").glob("01_lenet.*.ipynb"))) == 2


def test_the_chapters_are_never_their_own_destination(tmp_path):
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters")
    before = _snapshot(tmp_path / "chapters")
    for argv in (["chapters", "chapters"], ["chapters", "chapters/"], ["chapters", "./chapters"]):
        result = subprocess.run([sys.executable, "-m", "d2lnets", "exercises", *argv], cwd=tmp_path,
                                capture_output=True, text=True)
        assert result.returncode == 2 and "same folder" in result.stderr
    assert _snapshot(tmp_path / "chapters") == before


# --- make check ---------------------------------------------------------------------------------

def _check(*paths, cwd=ROOT):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "d2lnets", "check", *map(str, paths)], cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    return result, time.perf_counter() - start


def test_check_passes_the_reference_solutions(tmp_path):
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters")
    result, _ = _check(tmp_path / "chapters")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith(f"{N_EXERCISES} of {N_EXERCISES} exercises solved")
    totals = [line for line in lines[:-1] if line.endswith("solved in this chapter")]
    assert len(totals) == N_CHAPTERS and all(line.endswith(": solved") for line in lines[:-1] if line not in totals)
    assert not list((tmp_path / "chapters").glob(".progress*")), "checking the chapters keeps no record there"


def test_check_lists_unsolved_and_wrong_exercises_in_seconds(tmp_path):
    exercises.sync(ROOT / "chapters", tmp_path)
    result, seconds = _check(tmp_path)
    lines = result.stdout.splitlines()
    assert result.returncode == 1
    totals = [line for line in lines[:-1] if line.endswith("solved in this chapter")]
    assert len(lines) == N_EXERCISES + N_CHAPTERS + 1 and len(totals) == N_CHAPTERS, result.stdout
    assert all(line.endswith(": not written yet") for line in lines[:-1] if line not in totals), result.stdout
    assert lines[:3] == ["01_lenet  1. The modern LeNet, by hand: not written yet",
                         "01_lenet  2. A layer's cost: not written yet", "01_lenet  0 of 2 solved in this chapter"]
    assert "02_alexnet  3(b). PCA lighting: not written yet" in lines   # parts named as the chapter names them
    assert lines[-1].startswith(f"0 of {N_EXERCISES} exercises solved")
    assert seconds < 30
    assert not (tmp_path / ".progress.json").exists()   # nothing solved, nothing recorded
    # one solved, one wrong (a catalogued mistake): the check's own message
    _edit(tmp_path / "01_lenet.ipynb", "def modern_lenet", LENET_SOLUTION, add_cell=False)
    _edit(tmp_path / "01_lenet.ipynb", "def layer_cost", COST_WRONG, add_cell=False)
    result, _ = _check(tmp_path / "01_lenet.ipynb")
    lines = result.stdout.splitlines()
    assert lines[0] == "01_lenet  1. The modern LeNet, by hand: solved"
    assert lines[1].startswith("01_lenet  2. A layer's cost: wrong: layer_cost(Conv2d(1, 6, kernel_size=(5, 5), "
                               "stride=(1, 1), padding=(2, 2)), (1, 28, 28)) gives 150 parameters, expected 156")
    assert "the bias" in lines[1] and lines[1].endswith("— see d2l.hint('01', 2, 1)")
    assert lines[2] == "01_lenet  1 of 2 solved in this chapter"
    assert lines[3].startswith("1 of 2 exercises solved") and result.returncode == 1


def test_check_reports_errors_and_missing_copies(tmp_path):
    exercises.sync(ROOT / "chapters", tmp_path)
    _edit(tmp_path / "03_vgg.ipynb", "def receptive_field", "def receptive_field(layers):\n    return layers[0] +\n",
          add_cell=False)
    result, _ = _check(tmp_path / "03_vgg.ipynb")
    assert "1. Receptive field: error: your exercise cell raised SyntaxError" in result.stdout
    result, _ = _check(tmp_path / "nowhere", cwd=tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr
    result, _ = _check(cwd=tmp_path)   # default exercises/ is missing here
    assert result.returncode == 2 and "make exercises" in result.stderr


def test_check_finds_the_copies_from_the_folder_it_runs_in_or_above_and_nowhere_else(tmp_path):
    from d2lnets.tools.check import default_folder

    (tmp_path / "course" / "exercises").mkdir(parents=True)
    (tmp_path / "course" / "chapters").mkdir()
    assert default_folder(tmp_path / "course") == Path("exercises")
    assert default_folder(tmp_path / "course" / "chapters") == tmp_path / "course" / "exercises"
    assert default_folder(tmp_path / "course" / "exercises") == tmp_path / "course" / "exercises"
    # elsewhere: not the checkout's exercises/, even when the package comes from a checkout that has one
    assert default_folder(tmp_path) == Path("exercises")


# --- set-up -------------------------------------------------------------------------------------

def _no_network(target):
    raise OSError("no network")


def test_setup_without_data_stops_with_one_message(isolated_search, monkeypatch, capsys):
    monkeypatch.setattr(setup, "_apt_install", lambda say: False)
    monkeypatch.setattr(setup.data.fashion_mnist, "_download", _no_network)
    monkeypatch.setattr(setup.sys, "prefix", str(isolated_search.parent / "env"))
    assert setup.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("Fashion-MNIST was not found") == 1
    assert "apt-get install dataset-fashion-mnist" in err and "D2LNETS_DATA" in err and "no network" in err


def test_setup_installs_the_debian_package_as_root_when_nothing_else_works(isolated_search, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(setup.data.fashion_mnist, "_download", _no_network)
    monkeypatch.setattr(setup.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(setup.os, "geteuid", lambda: 0)
    monkeypatch.setattr(setup.subprocess, "run", lambda cmd, **kw: calls.append(cmd) or
                        subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package"))
    with pytest.raises(setup.data.DataNotFoundError):
        setup.ensure_data()
    assert [c[-1] for c in calls] == ["dataset-fashion-mnist", "update", "dataset-fashion-mnist"]
    assert "installing Debian's dataset-fashion-mnist package" in capsys.readouterr().out
    monkeypatch.setattr(setup.os, "geteuid", lambda: 1000)   # not root: never tries
    calls.clear()
    with pytest.raises(setup.data.DataNotFoundError):
        setup.ensure_data()
    assert calls == []


def test_lab_settings_go_to_the_environment_and_keep_other_settings(tmp_path):
    path = setup.lab_overrides_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}')
    assert setup.write_lab_settings(tmp_path) == path
    import json

    settings = json.loads(path.read_text())
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


@needs_venv
def test_make_test_stops_early_with_one_message_without_data(course, tmp_path):
    """Data hidden (an empty search path, no Debian copy, no download, not root): make stops before pytest."""
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "D2LNETS_DATA": str(empty)}
    code = ("import sys, d2lnets.data as d, d2lnets.setup as s; from pathlib import Path; "
            f"d.DEBIAN_DIR = Path({str(empty)!r}); d._default_data_dir = lambda: Path({str(empty)!r}); "
            "d._download = lambda t: (_ for _ in ()).throw(OSError('no network')); "
            "s._apt_install = lambda say: False; sys.exit(s.main([]))")
    (course / "Makefile").write_text((course / "Makefile").read_text().replace(
        "$(BIN)/python -m d2lnets.setup", f"$(BIN)/python -c \"{code}\""))
    start = time.perf_counter()
    result = subprocess.run(["make", "--no-print-directory", "-o", str(STAMP), f"VENV={VENV}", "test"],
                            cwd=course, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0 and time.perf_counter() - start < 60
    assert result.stderr.count("Fashion-MNIST was not found") == 1
    assert "collected" not in result.stdout and "passed" not in result.stdout


# --- a real browser -----------------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(course):
    """`make lab` in the course copy (loopback, a free port, a token); yields (base URL, token)."""
    port, token = _free_port(), "d2lnets-test"
    opts = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={token}"
    env = {**os.environ, "D2LNETS_PROFILE": "smoke"}
    lab = ["make", "--no-print-directory", "-o", str(STAMP), f"VENV={VENV}", "lab", f"LAB_OPTS={opts}"]
    proc = subprocess.Popen(lab,
                            cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited early:\n{proc.stdout.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/contents/exercises?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not answer within 120 s")
                time.sleep(0.5)
        yield base, token
    finally:   # make, JupyterLab and its kernels share the process group: end them all
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            if sig == signal.SIGTERM:
                time.sleep(2)   # JupyterLab shuts its kernels down after make has gone


@needs_venv
def test_make_lab_opens_on_the_learners_copies(lab, course):
    base, token = lab
    import json

    with urllib.request.urlopen(f"{base}/api/contents/exercises?token={token}", timeout=10) as response:
        names = {item["name"] for item in json.load(response)["content"]}
    assert "01_lenet.ipynb" in names
    with urllib.request.urlopen(f"{base}/api/contents/chapters?token={token}", timeout=10) as response:
        assert response.status == 200   # the solved chapters, one folder away
    with urllib.request.urlopen(f"{base}/?token={token}", timeout=10) as response:
        assert response.url.endswith("/lab/tree/exercises") or "/lab/tree/exercises" in response.url


@needs_venv
def test_a_learner_solves_and_checks_an_exercise_in_jupyterlab(lab, chromium):
    """Skipped without Chromium, failed instead in CI (conftest.py's ``chromium``)."""
    import playwright.sync_api as playwright
    base, token = lab
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    nb = nbformat.read(ROOT / "chapters" / "01_lenet.ipynb", as_version=4)
    tagged = {tag: [i for i, c in enumerate(nb.cells) if tag in c.metadata.get("tags", [])]
              for tag in ("setup", "exercise", "check")}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab/tree/exercises/01_lenet.ipynb?token={token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=120_000)
        page.wait_for_function(f"document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length == {len(nb.cells)}",
                               timeout=60_000)
        cells = page.locator(".jp-NotebookPanel .jp-Cell")

        def run(i, text=None):
            cell = cells.nth(i)
            cell.scroll_into_view_if_needed()
            cell.locator(".jp-InputArea-editor").click()
            if text is not None:   # paste, as the editor would auto-indent typed lines
                page.keyboard.press("Control+a")
                page.keyboard.insert_text(text)
            page.keyboard.press("Shift+Enter")

        def output(i):
            area = cells.nth(i).locator(".jp-OutputArea")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                text = area.inner_text()
                if text.strip():
                    return text
                time.sleep(0.25)
            return ""

        run(tagged["setup"][0])
        assert "profile 'smoke'" in output(tagged["setup"][0])
        run(tagged["exercise"][0], LENET_SOLUTION)
        run(tagged["check"][0])
        assert "correct: the modern LeNet" in output(tagged["check"][0])
        run(tagged["exercise"][1])   # the unsolved stub as written
        run(tagged["check"][1])
        assert "layer_cost is not written yet" in output(tagged["check"][1])
        assert page.get_by_text("notified about official Jupyter news").count() == 0   # the course's settings
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        cells.nth(tagged["check"][0]).scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-exercise.png"))
        browser.close()
