"""Colab: each chapter's first code cell installs the package there and does nothing elsewhere.

Nothing can be fetched here, so the tests replace both what the cell detects (the `google.colab`
module Colab's kernel imports) and what it runs (`subprocess.run`), and check the commands.
"""
import ast
import json
import subprocess
import sys
import types
from importlib.metadata import version
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from d2lnets.tools import colab

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _run_first_cell(monkeypatch, on_colab):
    calls = []

    def fake_run(args, **kwargs):
        calls.append((list(args), kwargs))
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(colab.FIRST_CELL, "<first cell>", "exec"), {"__name__": "__main__"})
    return calls


def test_the_first_cell_does_nothing_off_colab(monkeypatch):
    assert _run_first_cell(monkeypatch, on_colab=False) == []


def test_on_colab_it_installs_the_package_from_the_repository_and_keeps_colabs_torch(monkeypatch):
    calls = _run_first_cell(monkeypatch, on_colab=True)
    assert len(calls) == 2 and all(kwargs == {"check": True} for _, kwargs in calls)
    (package, package_kw), (book, _) = calls
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    assert package == pip + [f"d2lnets @ git+{colab.REPOSITORY}@{colab.BRANCH}",
                             f"torch=={version('torch')}", f"torchvision=={version('torchvision')}"]
    assert book == pip + ["--no-deps", colab.BOOK]
    # Every argument is a requirement pip accepts; torch and torchvision may only be what is installed.
    requirements = [Requirement(arg) for arg in package[len(pip):]]
    assert requirements[0].name == "d2lnets" and requirements[0].url == f"git+{colab.REPOSITORY}@{colab.BRANCH}"
    for r in requirements[1:]:
        assert r.specifier.contains(version(r.name), prereleases=True)
        assert len(r.specifier) == 1 and next(iter(r.specifier)).operator == "=="
    assert not {"-U", "--upgrade", "--force-reinstall"} & set(package + book)
    assert Requirement(colab.BOOK).name == "d2l"


def test_the_first_cell_runs_before_d2lnets_can_be_imported(tmp_path):
    """In a Python with no site-packages (so no d2lnets, no torch), on a pretend Colab."""
    tree = ast.parse(colab.FIRST_CELL)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"sys", "importlib", "subprocess"}, imported
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib.util, importlib.metadata, json, subprocess, sys, types\n"
        "assert importlib.util.find_spec('d2lnets') is None, 'd2lnets is importable here'\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
        "calls = []\n"
        "subprocess.run = lambda args, **kw: calls.append(args)\n"
        "importlib.metadata.version = lambda name: '2.99.0+cu999'\n"
        f"exec(compile({colab.FIRST_CELL!r}, '<first cell>', 'exec'), {{}})\n"
        "print(json.dumps(calls))\n")
    done = subprocess.run([sys.executable, "-I", "-S", str(probe)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = json.loads(done.stdout)
    assert [c[5:] for c in calls] == [[f"d2lnets @ git+{colab.REPOSITORY}@{colab.BRANCH}",
                                      "torch==2.99.0+cu999", "torchvision==2.99.0+cu999"],
                                     ["--no-deps", colab.BOOK]]


def test_the_repository_is_named_in_one_place():
    assert colab.REPOSITORY.startswith("https://github.com/") and not colab.REPOSITORY.endswith((".git", "/"))
    assert len(colab.REPOSITORY.split("/")) == 5
    assert colab.FIRST_CELL.count(colab.REPOSITORY) == 1
    assert colab.colab_url("chapters/01_lenet.ipynb") == (
        f"https://colab.research.google.com/github/{colab.REPOSITORY[len('https://github.com/'):]}"
        f"/blob/{colab.BRANCH}/chapters/01_lenet.ipynb")


def test_the_readme_opens_every_chapter_in_colab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert CHAPTERS
    for chapter in CHAPTERS:
        assert colab.colab_url(chapter) in readme, f"README: no 'Open in Colab' link for {chapter.name}"
    # the rows `python -m d2lnets.colab --readme-links` prints, as they are in the README
    for row in colab.readme_links(ROOT / "chapters"):
        assert row in readme.splitlines(), row


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_starts_with_the_colab_cell(chapter):
    """`python -m d2lnets.colab --write-first-cells chapters` makes this true."""
    nb = nbformat.read(chapter, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{chapter.name} has no code cell"
    assert code[0].source == colab.FIRST_CELL, (
        f"{chapter.name}: the first code cell is not d2lnets.colab.FIRST_CELL; "
        "run `python -m d2lnets.colab --write-first-cells chapters`")
    assert not code[0].outputs
    assert sum(colab._is_first_cell(c) for c in nb.cells) == 1


# --- the writer -------------------------------------------------------------------------------

def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = cells
    nbformat.write(nb, path)
    return path


def _cells():
    code = nbformat.v4.new_code_cell("import d2lnets as d2l\nprint(1)", id="c01", execution_count=3)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    code.metadata["tags"] = ["setup"]
    return [nbformat.v4.new_markdown_cell("# 1. A chapter", id="c00"), code,
            nbformat.v4.new_markdown_cell("## More", id="c02"), nbformat.v4.new_code_cell("x = 2", id="c03")]


def _dicts(cells):
    return [json.loads(json.dumps(c)) for c in cells]


def test_the_writer_inserts_the_cell_before_the_first_code_cell_and_touches_nothing_else(tmp_path):
    path = _notebook(tmp_path / "01_test.ipynb", _cells())
    before = nbformat.read(path, as_version=4)
    assert colab.write_first_cell(path) is True
    after = nbformat.read(path, as_version=4)
    assert after.cells[1].source == colab.FIRST_CELL and after.cells[1].id == colab.CELL_ID
    assert after.cells[1].outputs == [] and after.cells[1].execution_count is None
    assert _dicts(after.cells[:1] + after.cells[2:]) == _dicts(before.cells)
    assert after.metadata == before.metadata
    nbformat.validate(after)
    text = path.read_bytes()
    assert colab.write_first_cell(path) is False and path.read_bytes() == text, "a second run changes nothing"


def test_the_writer_updates_an_older_cell_in_place_and_moves_it_first(tmp_path):
    cells = _cells()
    old = nbformat.v4.new_code_cell(colab._FIRST_LINE + "\n# an older version\n", id=colab.CELL_ID)
    old.outputs = [nbformat.v4.new_output("stream", name="stdout", text="installed\n")]
    duplicate = nbformat.v4.new_code_cell(colab.FIRST_CELL, id="dup")
    path = _notebook(tmp_path / "02_test.ipynb", cells[:3] + [old] + cells[3:] + [duplicate])
    assert colab.write_first_cell(path) is True
    after = nbformat.read(path, as_version=4)
    ours = [c for c in after.cells if colab._is_first_cell(c)]
    assert len(ours) == 1 and ours[0] is after.cells[1]
    assert ours[0].source == colab.FIRST_CELL and ours[0].outputs == [] and ours[0].id == colab.CELL_ID
    assert _dicts(after.cells[:1] + after.cells[2:]) == _dicts(cells)


def test_the_writer_keeps_a_real_chapter_byte_for_byte_but_for_the_cell(tmp_path):
    chapter = CHAPTERS[0]
    copy = tmp_path / chapter.name
    copy.write_bytes(chapter.read_bytes())
    before = nbformat.read(copy, as_version=4)
    others = [c for c in before.cells if not colab._is_first_cell(c)]
    colab.main(["--write-first-cells", str(tmp_path)])
    after = nbformat.read(copy, as_version=4)
    assert _dicts([c for c in after.cells if not colab._is_first_cell(c)]) == _dicts(others)
    # nbformat writes the chapters exactly as they are committed, so a rewrite is a no-op
    assert copy.read_text(encoding="utf-8") == nbformat.writes(after) + "\n"
    assert colab.write_first_cells(tmp_path) == []
