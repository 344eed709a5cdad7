"""The chapter runner's pieces: result records, RESULTS.md, scrubbing machine paths."""
import json
import sys

import d2lnets as d2l
from d2lnets import notebooks


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
    text = f"warning in {sys.prefix}/lib/x.py and {notebooks.ROOT}/chapters/01.ipynb"
    assert notebooks.scrub(text) == "warning in <venv>/lib/x.py and <repo>/chapters/01.ipynb"
