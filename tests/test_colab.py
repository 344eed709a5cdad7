"""Colab: each chapter's first code cell installs the release there and does nothing elsewhere; the
links made from the one repository address agree.

Here the tests replace both what the cell detects (the `google.colab` module Colab's kernel
imports) and what it runs (`subprocess.run`), and check the commands. `make test-release`
(.ci/colab_route.py) runs the cell for real, with pip and the built wheel, in a fresh Python 3.13.
"""
import ast
import json
import re
import subprocess
import sys
import types
from importlib.metadata import version
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

import d2lnets
from d2lnets.tools import colab
from d2lnets.tools.exercises import learner_notebook, source_hash, sync

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _run_first_cell(monkeypatch, on_colab, returncode=0):
    calls = []

    def fake_run(args, **kwargs):
        calls.append((list(args), kwargs))
        return subprocess.CompletedProcess(args, returncode, stdout="Looking in indexes: https://pypi.org/simple\n",
                                           stderr="ERROR: No matching distribution found for d2lnets==0.2.0\n")

    monkeypatch.setattr(subprocess, "run", fake_run)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(colab.FIRST_CELL, "<first cell>", "exec"), {"__name__": "__main__"})
    return calls


def test_the_first_cell_does_nothing_off_colab(monkeypatch):
    assert _run_first_cell(monkeypatch, on_colab=False) == []


def test_on_colab_it_installs_this_release_and_keeps_colabs_torch(monkeypatch, capsys):
    calls = _run_first_cell(monkeypatch, on_colab=True)
    assert len(calls) == 2 and all(kwargs == {"capture_output": True, "text": True} for _, kwargs in calls)
    (package, _), (book, _) = calls
    pip = [sys.executable, "-m", "pip", "install"]
    assert package == pip + [f"d2lnets=={d2lnets.__version__}",
                             f"torch=={version('torch')}", f"torchvision=={version('torchvision')}"]
    assert book == pip + ["--no-deps", colab.BOOK]
    # Every argument is an exact requirement pip accepts; torch and torchvision only what is installed.
    requirements = [Requirement(arg) for arg in package[len(pip):]]
    assert requirements[0].name == "d2lnets" and str(requirements[0].specifier) == f"=={d2lnets.__version__}"
    for r in requirements[1:]:
        assert r.specifier.contains(version(r.name), prereleases=True)
    for r in requirements + [Requirement(colab.BOOK)]:
        assert len(r.specifier) == 1 and next(iter(r.specifier)).operator == "==" and r.url is None
    assert not {"-U", "--upgrade", "--force-reinstall", "--quiet", "-q"} & set(package + book)
    assert Requirement(colab.BOOK).name == "d2l"
    assert f"installed d2lnets=={d2lnets.__version__} and {colab.BOOK}" in capsys.readouterr().out


def test_when_pip_fails_the_cell_shows_its_output_and_stops(monkeypatch, capsys):
    with pytest.raises(RuntimeError, match=f"pip could not install d2lnets=={re.escape(d2lnets.__version__)} "):
        _run_first_cell(monkeypatch, on_colab=True, returncode=1)
    shown = capsys.readouterr().out
    assert "ERROR: No matching distribution found for d2lnets==0.2.0" in shown     # pip's reason
    assert "Looking in indexes" in shown                                           # and the rest it said


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
        "subprocess.run = lambda args, **kw: calls.append(args) or subprocess.CompletedProcess(args, 0)\n"
        "importlib.metadata.version = lambda name: '2.99.0+cu999'\n"
        f"exec(compile({colab.FIRST_CELL!r}, '<first cell>', 'exec'), {{}})\n"
        "print(json.dumps(calls))\n")
    done = subprocess.run([sys.executable, "-I", "-S", str(probe)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = json.loads(done.stdout.splitlines()[-1])
    assert [c[4:] for c in calls] == [[f"d2lnets=={d2lnets.__version__}",
                                      "torch==2.99.0+cu999", "torchvision==2.99.0+cu999"],
                                     ["--no-deps", colab.BOOK]]


def test_the_cell_is_left_out_of_a_learner_copys_chapter_version(tmp_path):
    """A new release rewrites the cell in every chapter, and nothing else: no copy becomes "changed"."""
    chapter = nbformat.read(CHAPTERS[0], as_version=4)
    released = nbformat.from_dict(json.loads(json.dumps(chapter)))
    cell = next(c for c in released.cells if colab.is_first_cell(c))
    cell.source = cell.source.replace(f"d2lnets=={d2lnets.__version__}", "d2lnets==9.9.9")
    assert cell.source != colab.FIRST_CELL
    assert source_hash(released) == source_hash(chapter)
    edited = nbformat.from_dict(json.loads(json.dumps(chapter)))
    next(c for c in edited.cells if c.cell_type == "markdown").source += " One more sentence."
    assert source_hash(edited) != source_hash(chapter), "the hash must still see a change to the chapter"
    # through the learner's loop: the copy made from the older release is up to date with the new one
    older, newer, copies = tmp_path / "older", tmp_path / "newer", tmp_path / "exercises"
    for folder, nb in ((older, chapter), (newer, released)):
        folder.mkdir()
        nbformat.write(nb, folder / CHAPTERS[0].name)
    sync(older, copies)
    messages = sync(newer, copies)
    assert [m.status for m in messages] == ["up to date"] and sorted(p.name for p in copies.iterdir()) == [
        CHAPTERS[0].name]
    assert learner_notebook(released).metadata["d2lnets"]["source_hash"] == source_hash(chapter)


# --- one address, every link made from it ---------------------------------------------------------

def test_the_repository_is_named_in_one_place():
    assert colab.REPOSITORY.startswith("https://github.com/") and not colab.REPOSITORY.endswith((".git", "/"))
    assert len(colab.REPOSITORY.split("/")) == 5
    assert colab.REPOSITORY not in colab.FIRST_CELL                 # the cell installs from PyPI, by version
    slug = colab.REPOSITORY[len("https://github.com/"):]
    # Colab opens the chapter at the release's tag: the chapter whose first cell installs that release
    assert colab.TAG == f"v{d2lnets.__version__}"
    assert colab.colab_url("chapters/01_lenet.ipynb") == (
        f"https://colab.research.google.com/github/{slug}/blob/{colab.TAG}/chapters/01_lenet.ipynb")
    owner, name = slug.split("/")
    assert colab.website() == f"https://{owner}.github.io/{name}/"
    assert colab.project_urls() == {"Source": colab.REPOSITORY, "Documentation": colab.website(),
                                    "Changelog": f"{colab.REPOSITORY}/blob/{colab.BRANCH}/CHANGELOG.md"}


def test_the_readme_opens_every_chapter_in_colab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert CHAPTERS
    for chapter in CHAPTERS:
        assert colab.colab_url(chapter) in readme, f"README: no 'Open in Colab' link for {chapter.name}"
    # the rows `python -m d2lnets.tools.colab --readme-links` prints, as they are in the README
    for row in colab.readme_links(ROOT / "chapters"):
        assert row in readme.splitlines(), row


def wrong_links(text: str) -> list[str]:
    """The links in ``text`` to the repository, Colab or the website that are not made from
    REPOSITORY as :mod:`d2lnets.tools.colab` makes them, or that name a page the site lacks."""
    wrong = []
    for url in re.findall(r"https?://[^\s)>\]\"'`]+", text):
        if "colab.research.google.com" in url:
            ok = any(url == colab.colab_url(p) for p in CHAPTERS)
        elif "github.io" in url:
            page = url.removeprefix(colab.website()).split("#")[0]
            ok = url.startswith(colab.website()) and (page == "" or (
                page.endswith(".html") and any((ROOT / page.removesuffix(".html")).with_suffix(s).is_file()
                                               for s in (".md", ".ipynb"))))
        elif "github.com" in url:
            ok = url == colab.REPOSITORY or url.startswith((colab.REPOSITORY + "/", colab.REPOSITORY + ".git"))
        else:
            continue
        if not ok:
            wrong.append(url)
    return wrong


def test_every_link_in_the_readme_is_made_from_the_repository_address():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert colab.website() in readme, "the README links to the website"
    assert not wrong_links(readme), wrong_links(readme)


def test_the_link_check_catches_links_that_disagree():
    slug = colab.REPOSITORY.removeprefix("https://github.com/")
    good = [colab.colab_url(CHAPTERS[0]), colab.website(), colab.website() + "docs/package.html#models",
            f"{colab.REPOSITORY}/blob/main/LICENSE", f"git clone {colab.REPOSITORY}.git"]
    assert wrong_links(" ".join(good)) == []
    bad = [f"https://colab.research.google.com/github/{slug}/blob/main/chapters/01_lenet.ipynb",   # not the tag
           "https://someone.github.io/d2lnets/docs/package.html",                                   # another site
           colab.website() + "docs/nowhere.html",                                                   # no such page
           "https://github.com/someone/d2lnets"]                                                    # another repo
    assert wrong_links(" ".join(bad)) == bad


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_starts_with_the_colab_cell(chapter):
    """`python -m d2lnets.tools.colab --write-first-cells chapters` makes this true."""
    nb = nbformat.read(chapter, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{chapter.name} has no code cell"
    assert code[0].source == colab.FIRST_CELL, (
        f"{chapter.name}: the first code cell is not d2lnets.tools.colab.FIRST_CELL (a new version, a new "
        "repository?): run `python -m d2lnets.tools.colab --write-first-cells chapters`")
    assert not code[0].outputs
    assert sum(colab.is_first_cell(c) for c in nb.cells) == 1


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
    ours = [c for c in after.cells if colab.is_first_cell(c)]
    assert len(ours) == 1 and ours[0] is after.cells[1]
    assert ours[0].source == colab.FIRST_CELL and ours[0].outputs == [] and ours[0].id == colab.CELL_ID
    assert _dicts(after.cells[:1] + after.cells[2:]) == _dicts(cells)


def test_the_writer_keeps_a_real_chapter_byte_for_byte_but_for_the_cell(tmp_path):
    chapter = CHAPTERS[0]
    copy = tmp_path / chapter.name
    copy.write_bytes(chapter.read_bytes())
    before = nbformat.read(copy, as_version=4)
    others = [c for c in before.cells if not colab.is_first_cell(c)]
    colab.main(["--write-first-cells", str(tmp_path)])
    after = nbformat.read(copy, as_version=4)
    assert _dicts([c for c in after.cells if not colab.is_first_cell(c)]) == _dicts(others)
    # nbformat writes the chapters exactly as they are committed, so a rewrite is a no-op
    assert copy.read_text(encoding="utf-8") == nbformat.writes(after) + "\n"
    assert colab.write_first_cells(tmp_path) == []
