"""The exercise mechanism, and proof that every check rejects the stub and catalogued wrong answers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from torch import nn

from d2lnets import checks
from d2lnets.tools.check import exercises_of
from d2lnets.tools.exercises import BEGIN, END, MARKDOWN_STUB, STUB, learner_notebook, strip_solutions, sync

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    return json.loads(Path(path).read_text())["cells"]


def _src(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


# --- the mechanism ---------------------------------------------------------------------------

def test_strip_solutions_keeps_indentation():
    source = f"def f(x):\n    {BEGIN}\n    return x + 1\n    {END}\n\nprint(f)"
    assert strip_solutions(source) == f"def f(x):\n    {STUB}\n\nprint(f)"


@pytest.mark.parametrize("bad", [f"{BEGIN}\nx = 1", f"x = 1\n{END}", f"{BEGIN}\n{BEGIN}\n{END}\n{END}"])
def test_unbalanced_markers_are_errors(bad):
    with pytest.raises(ValueError, match="SOLUTION"):
        strip_solutions(bad)


@pytest.mark.parametrize("marker", ["### begin solution", "#BEGIN SOLUTION", "  ##  Begin  Solution  "])
def test_markers_in_any_case_and_spacing_are_stripped(marker):
    end = marker.lower().replace("begin", "end")
    source = f"def f(x):\n{marker}\n    return x + 1\n{end}\n"
    assert "x + 1" not in strip_solutions(source) and STUB in strip_solutions(source)


def test_a_solution_in_a_markdown_cell_is_stripped_too():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "Why?\n\n<!-- BEGIN SOLUTION -->\nBecause the gradient vanishes.\n<!-- END SOLUTION -->")])
    learner = learner_notebook(nb)
    assert "gradient vanishes" not in learner.cells[0].source and MARKDOWN_STUB in learner.cells[0].source


def test_every_chapter_has_checked_exercises():
    assert CHAPTERS, "no chapters found"
    for path in CHAPTERS:
        cells = _cells(path)
        setup = [c for c in cells if "setup" in c["metadata"].get("tags", [])]
        assert setup and all(c["cell_type"] == "code" for c in setup), f"{path.name}: no set-up cell"
        for i, c in enumerate(cells):
            tags = c["metadata"].get("tags", [])
            if BEGIN in _src(c):
                assert "exercise" in tags, f"{path.name} cell {i} holds a solution but is not tagged 'exercise'"
                assert "check" in cells[i + 1]["metadata"].get("tags", []) and "check_" in _src(cells[i + 1]), (
                    f"{path.name}: the cell after a solution must call a check and be tagged 'check'")
            if "exercise" in tags:
                assert BEGIN in _src(c), f"{path.name} cell {i} is tagged 'exercise' but holds no solution"


def test_learner_copies_hold_no_solution_but_keep_the_reading_outputs(tmp_path):
    written = [m.path for m in sync(ROOT / "chapters", tmp_path)]
    assert [p.name for p in written] == [p.name for p in CHAPTERS]
    for chapter, copy in zip(CHAPTERS, written):
        original, learner = _cells(chapter), _cells(copy)
        assert len(original) == len(learner)
        text = json.dumps(learner)
        assert BEGIN not in text and END not in text
        for o, c in zip(original, learner):
            tags = set(o["metadata"].get("tags", []))
            if c["cell_type"] != "code":
                continue
            if tags & {"exercise", "check"}:
                assert c["outputs"] == [] and c["execution_count"] is None, f"{copy.name}: output kept"
            else:
                assert c["outputs"] == o["outputs"], f"{copy.name}: a reading output was dropped"
            src = _src(o)
            if BEGIN in src:
                solution = src.split(BEGIN)[1].split(END)[0]
                learner_lines = {line.strip() for line in _src(c).splitlines()}
                for line in solution.splitlines():
                    if len(line.strip()) > 3:  # skip lone brackets
                        assert line.strip() not in learner_lines, f"{copy.name} leaks {line.strip()!r}"
                assert STUB in _src(c)
        assert json.loads(copy.read_text())["metadata"]["d2lnets"]["chapter"] == chapter.stem
    # the chapters' reading outputs are there to be kept: each chapter has some
    assert all(any(c.get("outputs") for c in _cells(p)) for p in written)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_solutions_pass_and_learner_stubs_fail_their_checks(chapter):
    """Each exercise after the chapter's set-up cells, in one namespace, as `make check` runs them:
    the reference solution passes its checks; the learner's stub fails them as "not written yet"
    (the check's message, or the stub's own NotImplementedError, e.g. when a later check calls it)."""
    nb = nbformat.reads(chapter.read_text(), as_version=4)
    for notebook, solved in ((nb, True), (learner_notebook(nb), False)):
        setup, exercises = exercises_of(notebook)
        assert exercises, f"{chapter.name} has no tagged exercise"
        ns = {}
        for _, source in setup:
            exec(source, ns)
        for ex in exercises:
            try:
                for _, source in ex.cells:
                    exec(source, ns)
            except NotImplementedError:
                assert not solved, f"{chapter.name}, {ex.title}: the reference solution is not written"
                continue  # a top-level stub fails in its own cell
            if solved:
                for _, source in ex.checks:
                    exec(source, ns)  # the reference solution passes
                continue
            with pytest.raises((AssertionError, NotImplementedError)) as failure:
                for _, source in ex.checks:
                    exec(source, ns)
            e = failure.value
            assert (isinstance(e, NotImplementedError) or "not written yet" in str(e)
                    or isinstance(e.__cause__, NotImplementedError)), f"{chapter.name}, {ex.title}: {e}"


def test_learner_runs_nbval_on_an_unsolved_copy_and_it_fails(tmp_path):
    """`pytest --nbval-lax exercises/01_lenet.ipynb`, exactly as a learner runs it."""
    sync(ROOT / "chapters", tmp_path)
    env = {**os.environ, "D2LNETS_PROFILE": "smoke"}
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
                             "-p", "no:cacheprovider", str(tmp_path / "01_lenet.ipynb")],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "NotImplementedError" in result.stdout and "not written yet" in result.stdout
    assert " failed" in result.stdout.splitlines()[-1]


# --- chapter 1's checks against catalogued wrong answers ---------------------------------------

def _lenet(act=nn.ReLU, pool=nn.MaxPool2d, pad=2, pool_kw=None, hidden=(120, 84)):
    pool_kw = pool_kw or {"kernel_size": 2, "stride": 2}
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=pad), act(), pool(**pool_kw),
        nn.Conv2d(6, 16, kernel_size=5), act(), pool(**pool_kw),
        nn.Flatten(), nn.LazyLinear(hidden[0]), act(), nn.Linear(hidden[0], hidden[1]), act(),
        nn.Linear(hidden[1], 10))


def _stub():
    raise NotImplementedError


def test_modern_lenet_check_accepts_the_solution():
    net = _lenet()
    net(__import__("torch").zeros(1, 1, 28, 28))  # materialise the lazy layer
    checks.check_modern_lenet(net)


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (lambda: _lenet(act=nn.Sigmoid, pool=nn.AvgPool2d), "still the classic LeNet"),
    (lambda: _lenet(pool=nn.AvgPool2d), "replace nn.AvgPool2d"),
    (lambda: _lenet(pad=0), "layer 0 .* outputs shape"),
    (lambda: _lenet(pool_kw={"kernel_size": 2, "stride": 1}), "layer 2"),
    (lambda: _lenet(hidden=(84, 120)), "layer 7"),
    (lambda: nn.Sequential(*list(_lenet())[:-1]), "layers|layer"),
    (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), "layer"),
    (lambda: "not a network", "nn.Sequential"),
    (lambda: _lenet(pool_kw={"kernel_size": 3, "stride": 2, "padding": 1}), "layer 2 .* kernel_size=3"),
])
def test_modern_lenet_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_modern_lenet(wrong)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_no_check_cell_spells_out_its_answer(chapter):
    """A check cell (source and the output it prints when right) holds no line of the solution."""
    cells = _cells(chapter)
    for i, cell in enumerate(cells):
        if "check" not in cell["metadata"].get("tags", []):
            continue
        solution = next(_src(c) for c in reversed(cells[:i]) if BEGIN in _src(c)).split(BEGIN)[1].split(END)[0]
        shown = _src(cell) + "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
        for line in solution.splitlines():
            if len(line.strip()) > 8:
                assert line.strip() not in shown, f"{chapter.name} cell {i} shows the solution line {line.strip()!r}"
        printed = [line for line in _src(cell).splitlines() if line.startswith("print(")]
        for line in printed:
            assert not any(op in line for op in ("//", "+ shortcut", "relu(")), f"{chapter.name}: {line}"
