"""Every exercise has two or three hints, named as the chapters name the exercise, none of them
holding a line of a reference solution; d2l.hint and `make hint` show them; every hint a check's
message names exists."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import d2lnets as d2l
from d2lnets.checks import hints
from d2lnets.tools.check import exercises_of
from d2lnets.tools.exercises import BEGIN, END

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def _chapter_exercises():
    """(chapter, number, title, the check its check cell calls) of every exercise of every chapter."""
    found = []
    for path in CHAPTERS:
        for ex in exercises_of(nbformat.read(path, as_version=4))[1]:
            called = re.findall(r"\b(check_\w+)\(", "".join(source for _, source in ex.checks))
            found.append((path.stem, ex.number, ex.title.split(". ", 1)[1], called[0] if called else None))
    return found


def test_the_hints_follow_the_chapters():
    """Same exercises, numbers and titles as `make check` names them, and the check each cell calls."""
    assert [(e.chapter, e.number, e.title, e.check) for e in hints.EXERCISES] == _chapter_exercises()


@pytest.mark.parametrize("e", hints.EXERCISES, ids=lambda e: f"{e.chapter}-{e.number}")
def test_two_or_three_hints_each_a_sentence_or_more(e):
    assert 2 <= len(e.hints) <= 3
    assert all(len(h) > 60 for h in e.hints) and len(set(e.hints)) == len(e.hints)


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _solution_lines() -> list[str]:
    lines = []
    for path in CHAPTERS:
        for cell in nbformat.read(path, as_version=4).cells:
            if BEGIN in cell.source:
                for block in cell.source.split(BEGIN)[1:]:
                    lines += [_normalise(line.split("#")[0]) for line in block.split(END)[0].splitlines()]
    return [line for line in lines if len(line) > 12]


def _leaks(texts) -> list[tuple[str, str]]:
    solution = _solution_lines()
    return [(line, text) for text in texts for line in solution if line in _normalise(text)]


def test_no_hint_holds_a_line_of_a_solution():
    assert _solution_lines(), "no reference solutions found"
    assert not _leaks(h for e in hints.EXERCISES for h in e.hints)


def test_the_scan_finds_a_solution_line_in_a_hint():
    """The scan above is no formality: a hint that spells out a line of an answer is caught."""
    leaked = "Write it like this: return X / (k + alpha / size * sums) ** beta"
    assert _leaks([leaked]) and not _leaks(["Divide alpha by size, and raise the bracket to the power beta."])


def test_hint_prints_the_next_hint_not_shown_yet(capsys, monkeypatch):
    monkeypatch.setattr(hints, "_shown", {})
    for n in (1, 2, 3):
        d2l.hint("02", 1)
        out = capsys.readouterr().out
        assert out.startswith(f"Hint {n} of 3 for 02_alexnet exercise 1, Local response normalisation:")
    d2l.hint("02_alexnet", 1)   # by the chapter's file name too; all shown now
    assert "That was the last of the 3 hints" in capsys.readouterr().out
    d2l.hint("02", 1, 2)
    assert capsys.readouterr().out.startswith("Hint 2 of 3")
    d2l.hint("02", "3b")
    assert capsys.readouterr().out.startswith("Hint 1 of 3 for 02_alexnet exercise 3b, PCA lighting:")
    d2l.hint(4, 3)
    assert "04_resnet exercise 3, Batch normalisation from scratch" in capsys.readouterr().out
    d2l.hint("exercises/02_alexnet.ipynb", "3(a)")   # a path, and a part as make check prints it
    assert "02_alexnet exercise 3a, The colours' principal components" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (("02", 3), r"exercise 3 of chapter 02 has parts: ask d2l.hint\('02', '3a'\) and d2l.hint\('02', '3b'\)"),
    (("09", 1), "chapter 09 has no exercises with hints; the chapters are 01, 02"),
    (("02", 7), "chapter 02_alexnet has no exercise 7; its exercises are 1, 2, 3a, 3b"),
    (("02", 1, 4), "has hints 1 to 3, not 4"),
    (("02", 1, 1.0), "has hints 1 to 3, not 1.0"),
    (("lenet", 1), "name one as '02', 2 or '02_alexnet'"),
    (("01", None), "name one by its number"),
])
def test_hint_says_what_it_needs(args, message):
    with pytest.raises(ValueError, match=message):
        d2l.hint(*args)


def test_every_hint_a_check_names_exists():
    """Every see("check_x", n) in the checks names an exercise that has a hint n."""
    folder = ROOT / "d2lnets" / "checks"
    calls = []
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "see":
                calls.append(tuple(a.value for a in node.args if isinstance(a, ast.Constant)))
    assert len(calls) > 80
    for call in calls:
        if len(call) == 2:
            check, n = call
            e = next(e for e in hints.EXERCISES if e.check == check)
            assert 1 <= n <= len(e.hints), call


def test_named_reads_what_see_writes():
    assert hints.named("wrong" + hints.see("check_batch_norm", 2)) == ("04", "3", 2)
    assert hints.named("wrong" + hints.see("check_pca_lighting", 3)) == ("02", "3b", 3)
    assert hints.named("no hint here") is None


def _hint_cli(*args):
    return subprocess.run([sys.executable, "-m", "d2lnets", "hint", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_make_hint_at_the_shell():
    result = _hint_cli("02", "3b", "2")
    assert result.returncode == 0 and result.stdout.startswith("Hint 2 of 3 for 02_alexnet exercise 3b, PCA lighting")
    assert "the next one: make hint NB=02 EX=3b N=3" in result.stdout
    result = _hint_cli("04_resnet", "9")
    assert result.returncode == 2 and "has no exercise '9'; its exercises are 1, 2, 3" in result.stderr
