"""The exercise mechanism, and proof that every check rejects the stub and catalogued wrong answers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from torch import nn

from d2lnets import checks
from d2lnets.exercises import BEGIN, END, STUB, learner_notebook, make_learner_copies, strip_solutions

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


def test_every_chapter_has_checked_exercises():
    assert CHAPTERS, "no chapters found"
    for path in CHAPTERS:
        cells = [c for c in _cells(path) if c["cell_type"] == "code"]
        solution_cells = [i for i, c in enumerate(cells) if BEGIN in _src(c)]
        assert solution_cells, f"{path.name} has no coding exercise"
        for i in solution_cells:
            assert "check_" in _src(cells[i + 1]), f"{path.name}: the cell after a solution must call a check"


def test_learner_copies_hold_no_solution_and_no_output(tmp_path):
    written = make_learner_copies(ROOT / "chapters", tmp_path)
    assert [p.name for p in written] == [p.name for p in CHAPTERS]
    for chapter, copy in zip(CHAPTERS, written):
        original, learner = _cells(chapter), _cells(copy)
        assert len(original) == len(learner)
        text = json.dumps(learner)
        assert BEGIN not in text and END not in text
        for cell in learner:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
        for o, c in zip(original, learner):
            src = _src(o)
            if BEGIN in src:
                solution = src.split(BEGIN)[1].split(END)[0]
                learner_lines = {line.strip() for line in _src(c).splitlines()}
                for line in solution.splitlines():
                    if len(line.strip()) > 3:  # skip lone brackets
                        assert line.strip() not in learner_lines, f"{copy.name} leaks {line.strip()!r}"
                assert STUB in _src(c)


def _exercise_pairs(notebook):
    """(exercise cell, check cell) sources of a notebook."""
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    return [(_src(c), _src(cells[i + 1])) for i, c in enumerate(cells) if BEGIN in _src(c) or STUB in _src(c)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_solutions_pass_and_learner_stubs_fail_their_checks(chapter):
    nb = json.loads(chapter.read_text())
    setup = "import torch\nfrom torch import nn\nimport d2lnets as d2l\n"
    for solution, check in _exercise_pairs(nb):
        ns = {}
        exec(setup + solution, ns)
        exec(check, ns)  # the reference solution passes
    for stub, check in _exercise_pairs(learner_notebook(nb)):
        ns = {}
        try:
            exec(setup + stub, ns)
        except NotImplementedError:
            continue  # a top-level stub fails in its own cell
        with pytest.raises(AssertionError, match="not written yet"):
            exec(check, ns)


def test_learner_runs_nbval_on_an_unsolved_copy_and_it_fails(tmp_path):
    """`pytest --nbval-lax exercises/01_lenet.ipynb`, exactly as a learner runs it."""
    make_learner_copies(ROOT / "chapters", tmp_path)
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
])
def test_modern_lenet_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        checks.check_modern_lenet(wrong)


def test_conv_output_size_check():
    checks.check_conv_output_size(lambda W, F, P, S: (W - F + 2 * P) // S + 1)
    wrong = {
        "not written yet": lambda W, F, P, S: _stub(),
        "Padding adds P pixels on each side": lambda W, F, P, S: (W - F + P) // S + 1,  # one side only
        "floor division": lambda W, F, P, S: (W - F + 2 * P) / S + 1,  # no floor
        "expected 54": lambda W, F, P, S: -(-(W - F + 2 * P) // S) + 1,  # ceiling
        "expected": lambda W, F, P, S: (W - F + 2 * P) // S,  # forgot the +1
    }
    for message, fn in wrong.items():
        with pytest.raises(AssertionError, match=message):
            checks.check_conv_output_size(fn)
