"""The chapter runner's pieces: result records, RESULTS.md, scrubbing machine paths."""
import json
import os
import sys

import pytest

import d2lnets as d2l
from d2lnets.tools import notebooks


def _history():
    return d2l.History(train_loss=[0.5, 0.3], train_acc=[0.8, 0.9], test_acc=[0.85, 0.91],
                       examples_per_sec=[100.0, 110.0], seconds=[10.0, 11.0], device="cpu", settings="fp32")


def test_record_result_appends_a_json_line(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv("D2LNETS_RESULTS", str(path))
    monkeypatch.setenv("D2LNETS_PROFILE", "cpu")
    record = d2l.record_result("09_test", "TestNet", 32, _history(), note="a note")
    assert json.loads(path.read_text()) == record
    assert record["test_acc"] == 0.91 and record["epochs"] == 2 and record["train_seconds"] == 21.0
    assert record["profile"] == "cpu"


def test_write_results_table(tmp_path):
    rows = [{"chapter": "09_test", "model": "TestNet", "input_size": 32, "epochs": 2, "test_acc": 0.91,
             "train_seconds": 21.0, "examples_per_sec": 105.0, "device": "cpu", "settings": "fp32", "note": "n"}]
    out = tmp_path / "RESULTS.md"
    notebooks.write_results(rows, {"09_test": 60.0}, "cpu", out)
    text = out.read_text()
    assert "| 09_test | TestNet | 32 px | 2 | 0.910 | 21 s | 60 s | 105 | fp32 on cpu |" in text
    assert "- 09_test: n" in text


def test_scrub_removes_machine_paths():
    text = f"warning in {sys.prefix}/lib/x.py and {notebooks.repo_root()}/chapters/01.ipynb"
    assert notebooks.scrub(text) == "warning in <venv>/lib/x.py and <repo>/chapters/01.ipynb"


# --- chapters whose data may be absent (the appendix): skipped with a note -----------------------------

def test_missing_data_uses_the_loaders_search(tmp_path, monkeypatch, isolated_search):
    from d2lnets.data import store

    monkeypatch.setattr(store, "SYSTEM_DATA_DIR", tmp_path / "no-system-copies")
    why = notebooks.missing_data("07_alexnet_colour", "cpu")
    assert why.startswith("CIFAR-10 (cifar-10-python.tar.gz) was not found in ")
    assert str(isolated_search / "cifar-10") in why and "committed outputs" in why
    assert notebooks.missing_data("07_alexnet_colour", "smoke") is None      # smoke: a generated stand-in
    assert notebooks.missing_data("02_alexnet", "cpu") is None               # needs nothing listed
    # where the loaders would find it ($D2LNETS_DATA, data/cifar-10/), it is no longer missing
    (isolated_search / "cifar-10").mkdir(parents=True)
    (isolated_search / "cifar-10" / "cifar-10-python.tar.gz").write_bytes(b"any bytes: found, not verified")
    assert notebooks.missing_data("07_alexnet_colour", "cpu") is None
    assert "Flowers-102" in notebooks.missing_data("07_alexnet_colour", "full")
    monkeypatch.setenv("D2LNETS_DATA", str(tmp_path / "empty"))   # a folder the caller named must hold it
    assert "CIFAR-10" in notebooks.missing_data("07_alexnet_colour", "cpu")


def test_make_results_skips_a_chapter_without_its_data(tmp_path, monkeypatch, capsys, isolated_search):
    from d2lnets.data import store

    monkeypatch.setattr(store, "SYSTEM_DATA_DIR", tmp_path / "no-system-copies")
    monkeypatch.setattr(notebooks, "repo_root", lambda: tmp_path)      # .results.jsonl goes here
    monkeypatch.setenv("D2LNETS_PROFILE", "cpu")          # as run_notebook sets it

    def run_notebook(path, profile):
        if path.stem == "07_alexnet_colour":
            raise AssertionError("a chapter without its data must not run")
        d2l.record_result(path.stem, "TestNet", 28, _history())
        return 12.0

    monkeypatch.setattr(notebooks, "run_notebook", run_notebook)
    chapter = tmp_path / "07_alexnet_colour.ipynb"
    chapter.write_text("committed smoke outputs")
    results = tmp_path / "RESULTS.md"
    notebooks.main(["--profile", "cpu", "--results", str(results), str(tmp_path / "01_lenet.ipynb"), str(chapter)])
    out = capsys.readouterr().out
    assert "07_alexnet_colour.ipynb: skipped in the cpu profile: CIFAR-10" in out
    assert "Get the data in either of two ways" in out            # the loader's own message, printed
    assert chapter.read_text() == "committed smoke outputs"       # its outputs are kept
    text = results.read_text()
    assert "| 01_lenet | TestNet | 28 px |" in text and "| 07_alexnet_colour |" not in text
    assert "Skipped in the `cpu` profile, for want of their data on this machine:" in text
    assert "- 07_alexnet_colour: skipped: CIFAR-10 (cifar-10-python.tar.gz) was not found in " in text
    # with the data present the chapter runs, and its skip leaves RESULTS.md
    (isolated_search / "cifar-10").mkdir(parents=True)
    (isolated_search / "cifar-10" / "cifar-10-python.tar.gz").write_bytes(b"present")
    monkeypatch.setattr(notebooks, "run_notebook", lambda path, profile: 30.0)
    notebooks.main(["--profile", "cpu", "--results", str(results), str(chapter)])
    assert "skipped" not in results.read_text() and "07_alexnet_colour.ipynb: 30 s" in capsys.readouterr().out


def test_the_appendix_without_its_data_stops_in_its_first_data_cell(tmp_path, monkeypatch):
    """cpu profile, $D2LNETS_DATA an empty folder (so nothing is downloaded): the first cell that
    reads data raises the loader's DataNotFoundError, and no cell before it fails."""
    import nbformat
    from nbclient import NotebookClient

    path = notebooks.repo_root() / "chapters" / "07_alexnet_colour.ipynb"
    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("D2LNETS_PROFILE", "cpu")
    monkeypatch.setenv("D2LNETS_DATA", str(tmp_path))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    failed = None
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            client.execute_cell(cell, i)
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if errors:
                failed = (i, cell.source, errors[0])
                break
    assert failed is not None, "the chapter ran without its data"
    i, source, error = failed
    assert "load_cifar10_tensors" in source and all(
        "load_" not in c.source for c in nb.cells[:i] if c.cell_type == "code"), f"cell {i} is not the first data cell"
    assert error.ename == "DataNotFoundError", (error.ename, error.evalue)
    assert error.evalue.startswith(f"CIFAR-10 was not found in $D2LNETS_DATA ({tmp_path})")
    assert "cifar-10-python.tar.gz" in error.evalue


# --- the GPU check's section of RESULTS.md, and chapters run without Jupyter -------------------------

def test_make_results_keeps_the_gpu_section(tmp_path):
    rows = [{"chapter": "09_test", "model": "TestNet", "input_size": 32, "epochs": 2, "test_acc": 0.91,
             "train_seconds": 21.0, "examples_per_sec": 105.0, "device": "cpu", "settings": "fp32"}]
    out = tmp_path / "RESULTS.md"
    notebooks.write_results(rows, {}, "cpu", out)
    notebooks.write_gpu_section(out, "## GPU\n\nOn a card: 0.930.\n")
    notebooks.write_results(rows, {}, "cpu", out)  # make results again: the section stays
    text = out.read_text()
    assert text.startswith("# Results") and text.count("## GPU") == 1 and text.endswith("On a card: 0.930.\n")
    notebooks.write_gpu_section(out, "## GPU\n\nAgain: 0.931.\n")  # the GPU check again: replaced, not added
    text = out.read_text()
    assert "0.930" not in text and text.endswith("Again: 0.931.\n") and "| 09_test | TestNet |" in text
    assert notebooks.gpu_section(out) == "## GPU\n\nAgain: 0.931.\n"


def test_a_gpu_section_is_named_so(tmp_path):
    with pytest.raises(ValueError, match="starts with the line '## GPU'"):
        notebooks.write_gpu_section(tmp_path / "RESULTS.md", "# GPU\n")
    notebooks.write_gpu_section(tmp_path / "RESULTS.md", "## GPU\n\nx\n")  # no RESULTS.md yet
    assert (tmp_path / "RESULTS.md").read_text() == "# Results\n\n## GPU\n\nx\n"


def test_run_cells_runs_a_notebooks_code_in_order_without_jupyter(tmp_path, monkeypatch, capsys):
    nb = {"cells": [{"cell_type": "markdown", "source": ["# title"]},
                    {"cell_type": "code",
                     "source": ["import os\n", "x = 2\n", "print('in', os.path.basename(os.getcwd()))"]},
                    {"cell_type": "code", "source": "import d2lnets as d2l\nprint(x * 21, d2l.profile().name)"},
                    {"cell_type": "code", "source": ["assert x == 3, 'wrong'"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    folder = tmp_path / "chapters"
    folder.mkdir()
    path = folder / "09_test.ipynb"
    path.write_text(json.dumps(nb))
    monkeypatch.delenv("D2LNETS_PROFILE", raising=False)
    here = os.getcwd()
    with pytest.raises(AssertionError, match="wrong") as failed:
        notebooks.run_cells(path, "smoke")
    assert any(str(t.path) == "09_test.ipynb, cell 3" for t in failed.traceback)
    assert capsys.readouterr().out == "in chapters\n42 smoke\n" and os.getcwd() == here
    nb["cells"].pop()
    path.write_text(json.dumps(nb))
    assert notebooks.run_cells(path, "smoke") >= 0


# --- the closing chapter is stale when a chapter it loads is re-run alone ------------------------------

def test_the_closing_chapter_loads_the_models_of_the_chapters_before_it():
    assert notebooks.closing_chapters() == {
        "06_comparison": ("01_lenet", "02_alexnet", "03_vgg", "04_resnet", "05_densenet")}


def test_re_running_a_chapter_alone_marks_the_closing_chapter_stale_until_it_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(notebooks, "repo_root", lambda: tmp_path)      # .results.jsonl goes here
    monkeypatch.setenv("D2LNETS_PROFILE", "cpu")
    monkeypatch.setenv("D2LNETS_RESULTS", "")   # main() sets it: put back afterwards

    def run_notebook(path, profile):
        if path.stem != "06_comparison":
            d2l.record_result(path.stem, "TestNet", 28, _history())
        return 12.0

    monkeypatch.setattr(notebooks, "run_notebook", run_notebook)
    results = tmp_path / "RESULTS.md"
    chapters = [tmp_path / f"{c}.ipynb" for c in ("01_lenet", "02_alexnet", "03_vgg", "04_resnet", "05_densenet",
                                                  "06_comparison")]
    notebooks.main(["--profile", "cpu", "--results", str(results), *map(str, chapters)])   # make results: in order
    text = results.read_text()
    assert "stale" not in text
    assert "| 06_comparison | (no main run: it compares the chapters' networks) | | | | | 12 s | | |" in text
    notebooks.main(["--profile", "cpu", "--results", str(results), str(chapters[1])])        # chapter 2 alone
    text = results.read_text()
    assert "**06_comparison is stale**: 02_alexnet ran again after it" in text
    assert "d2lnets results chapters/06_comparison.ipynb" in text
    notebooks.main(["--profile", "cpu", "--results", str(results), str(chapters[3]), str(chapters[0])])
    assert "**06_comparison is stale**: 01_lenet, 02_alexnet, 04_resnet ran again after it" in results.read_text()
    notebooks.main(["--profile", "cpu", "--results", str(results), str(chapters[5])])        # the closing chapter
    assert "stale" not in results.read_text()
    # a chapter it does not load (the appendix) leaves it as it is
    notebooks.main(["--profile", "cpu", "--results", str(results), str(tmp_path / "03_other.ipynb")])
    assert "stale" not in results.read_text()


def test_stale_chapters_reads_the_order_of_the_records():
    records = [{"chapter": "01_lenet"}, {"chapter": "06_comparison"}, {"chapter": "02_alexnet"}]
    assert notebooks.stale_chapters(records) == {"06_comparison": ["02_alexnet"]}
    assert notebooks.stale_chapters(records[:2]) == {}
    assert notebooks.stale_chapters([{"chapter": "02_alexnet"}]) == {}     # never ran: nothing to be stale
