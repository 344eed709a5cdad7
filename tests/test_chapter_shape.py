"""The chapters show the lesson and keep the machinery out of sight (issue 24, item 2).

"Visible code" is the non-blank lines of the code cells a learner reads: every code cell except
those tagged ``verify`` (the checks that keep a chapter honest, collapsed in JupyterLab and left
out of the website), ``exercise`` and ``check`` (the exercises keep their calls) and the Colab
set-up cell. In visible code there is no ``assert``, no profile branch (the recipes hold what a
profile changes) and no comment about where a figure was measured (that lives beside the recipe,
in ``d2lnets/course/recipes.py``); no teaching cell is over 30 lines. Every ``verify`` cell is
collapsed (``metadata.jupyter.source_hidden``) and tagged ``remove-input`` for the website.
"""
from __future__ import annotations

import glob
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(glob.glob(str(ROOT / "chapters" / "*.ipynb")))
HIDDEN_TAGS = {"verify", "exercise", "check"}
MAX_CELL_LINES = 30
MAX_VISIBLE = {"02_alexnet": 250}   # the bound for chapter 2; every chapter stays under it
MAX_VISIBLE_DEFAULT = 250
PROFILE_BRANCH = re.compile(r"\bP\.choose\(|\.is_smoke\b|\bprofile\(\)\.name\b|\bP\.name\s*[=!]=|"
                            r"D2LNETS_PROFILE|\bif\s+P\.")
PROVENANCE = re.compile(r"#.*\b(?:measured|H100|H200|A100|V100|sweep|seed spread|this machine|on a GPU)\b",
                        re.IGNORECASE)


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def visible_code_cells(nb):
    """The code cells a learner reads: (index, cell)."""
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not _tags(c) & HIDDEN_TAGS
            and c.get("id") != "colab-setup"]


def visible_lines(cell) -> list[str]:
    return [line for line in cell.source.splitlines() if line.strip()]


def shape(path) -> dict:
    nb = nbformat.read(path, as_version=4)
    cells = visible_code_cells(nb)
    asserts = [(i, line.strip()) for i, c in enumerate(nb.cells) if c.cell_type == "code"
               and not _tags(c) & {"verify", "check"} for line in c.source.splitlines()
               if re.match(r"\s*assert\b", line)]
    return {
        "visible": sum(len(visible_lines(c)) for _, c in cells),
        "asserts": asserts,
        "long": [(i, len(visible_lines(c))) for i, c in cells if len(visible_lines(c)) > MAX_CELL_LINES],
        "branches": [(i, line.strip()) for i, c in cells for line in c.source.splitlines()
                     if PROFILE_BRANCH.search(line)],
        "provenance": [(i, line.strip()) for i, c in cells for line in c.source.splitlines()
                       if PROVENANCE.search(line)],
        "verify_unhidden": [i for i, c in enumerate(nb.cells) if "verify" in _tags(c) and not (
            c.get("metadata", {}).get("jupyter", {}).get("source_hidden") and "remove-input" in _tags(c))],
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: Path(p).stem)
def test_the_lesson_in_front_and_the_machinery_out_of_sight(path):
    name = Path(path).stem
    s = shape(path)
    print(f"{name}: {s['visible']} lines of visible code, {len(s['asserts'])} asserts outside verify and check cells")
    assert s["visible"] <= MAX_VISIBLE.get(name, MAX_VISIBLE_DEFAULT), s["visible"]
    assert not s["asserts"], f"asserts a learner reads (move them to a cell tagged verify): {s['asserts']}"
    assert not s["long"], f"teaching cells over {MAX_CELL_LINES} lines: {s['long']}"
    assert not s["branches"], f"profile branches in visible code (the recipe holds them): {s['branches']}"
    assert not s["provenance"], f"where a figure was measured, in visible code (put it beside the recipe): " \
                                f"{s['provenance']}"
    assert not s["verify_unhidden"], f"verify cells not collapsed or not tagged remove-input: {s['verify_unhidden']}"


def test_the_shape_check_counts_what_it_should():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1\n\nassert x == 1", metadata={"tags": []}),
        nbformat.v4.new_code_cell("assert x", metadata={"tags": ["verify", "remove-input"],
                                                         "jupyter": {"source_hidden": True}}),
        nbformat.v4.new_code_cell("epochs = P.choose(smoke=1, cpu=2, full=3)  # measured on an H200"),
        nbformat.v4.new_code_cell("\n".join(f"y{i} = {i}" for i in range(31))),
        nbformat.v4.new_code_cell("assert y", metadata={"tags": ["verify"]}),
    ])
    path = ROOT / "tests" / "_shape_probe.ipynb"
    nbformat.write(nb, path)
    try:
        s = shape(path)
    finally:
        path.unlink()
    assert s["visible"] == 2 + 1 + 31
    assert s["asserts"] == [(0, "assert x == 1")]
    assert s["long"] == [(3, 31)] and len(s["branches"]) == 1 and len(s["provenance"]) == 1
    assert s["verify_unhidden"] == [4]
