"""d2lnets.records: one schema for training runs, chapters' results and reported values."""
import json

import numpy as np
import pytest
import torch

import d2lnets as d2l
from d2lnets.tools import notebooks
from d2lnets.train import records


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _train():
    d2l.set_seed(0)
    batches = [(torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))) for _ in range(2)]
    return d2l.train_ch5(d2l.models.lenet(variant="modern"), batches, batches[:1], 1, lr=0.1, device="cpu",
                         verbose=False)


@pytest.fixture
def logs(tmp_path, monkeypatch):
    run_log, results = tmp_path / "runs.jsonl", tmp_path / "results.jsonl"
    monkeypatch.setenv("D2LNETS_RUN_LOG", str(run_log))
    monkeypatch.setenv("D2LNETS_RESULTS", str(results))
    monkeypatch.setenv("D2LNETS_PROFILE", "smoke")
    monkeypatch.setattr(records, "RUNS", [])
    monkeypatch.setattr(records, "REPORTS", {})
    return run_log, results


def test_one_record_per_run_in_the_run_log_and_results_in_the_results(logs):
    run_log, results = logs
    h = _train()
    assert len(_lines(run_log)) == 1 and not results.exists()
    _train()
    runs = _lines(run_log)
    assert len(runs) == 2 and runs == records.RUNS
    result = d2l.record_result("09_test", "LeNet", 28, h, note="n")
    assert _lines(results) == [result] and len(_lines(run_log)) == 2   # a result is not another run
    for record in runs + [result]:
        assert list(record) == list(records.KIND_FIELDS[record["kind"]]) and record["schema"] == records.SCHEMA
    assert set(records.KIND_FIELDS["run"]) < set(records.KIND_FIELDS["result"]) <= set(records.FIELDS)
    run = runs[0]
    assert run["kind"] == "run" and run["device"] == "cpu" and run["profile"] == "smoke"
    assert run["test_acc"] == round(h.final["test_acc"], 4) and run["epochs"] == 1
    assert result["kind"] == "result" and result["chapter"] == "09_test" and result["model"] == "LeNet"
    # the same fields, from the same History
    same = ("device", "settings", "epochs", "train_loss", "train_acc", "test_acc", "profile")
    assert {k: result[k] for k in same} == {k: run[k] for k in same}


def test_without_the_variables_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv("D2LNETS_RUN_LOG", raising=False)
    monkeypatch.delenv("D2LNETS_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(records, "RUNS", [])
    _train()
    assert len(records.RUNS) == 1 and list(tmp_path.iterdir()) == []


def test_a_bad_profile_does_not_lose_the_run(logs, monkeypatch):
    run_log, _ = logs
    monkeypatch.setenv("D2LNETS_PROFILE", "fast")
    _train()
    assert _lines(run_log)[0]["profile"] == "fast"


def test_report_prints_one_line_and_records_it(logs, capsys):
    _, results = logs
    _train()
    r = d2l.report("relu_speedup", 3.4, [2.9, 3.8, 3.5])
    assert capsys.readouterr().out == "result: relu_speedup = 3.4 (min 2.9, max 3.8 over 3 seeds)\n"
    assert r["kind"] == "report" and r["value"] == 3.4 and r["spread"] == [2.9, 3.8] and r["values"] == [2.9, 3.8, 3.5]
    assert r["device"] == "cpu" and r["profile"] == "smoke" and list(r) == list(records.KIND_FIELDS["report"])
    assert records.REPORTS["relu_speedup"] == r and _lines(results) == [r]

    d2l.report("lrn_gain", 0.0123, (0.01, 0.015), unit="%")
    d2l.report("train_time", np.float32(12.5), unit="s")
    d2l.report("params", 61706)
    d2l.report("best", "resnet18")
    d2l.report("acc", torch.tensor(0.91234), torch.tensor([0.9, 0.92]))
    assert capsys.readouterr().out.splitlines() == [
        "result: lrn_gain = 0.0123% (min 0.01, max 0.015)",
        "result: train_time = 12.5 s",
        "result: params = 61,706",
        "result: best = resnet18",
        "result: acc = 0.912 (min 0.9, max 0.92 over 2 seeds)",
    ]
    assert len(_lines(results)) == 6
    json.dumps(records.REPORTS)  # plain types


@pytest.mark.parametrize("args, kwargs, error, match", [
    (("two words", 1), {}, ValueError, "without spaces"),
    (("x", None), {}, TypeError, "needs a value"),
    (("x", 1, (1, 2, 3)), {}, ValueError, r"\(min, max\)"),
    (("x", 1, (3, 2)), {}, ValueError, "min 3 > max 2"),
    (("x", 1, []), {}, ValueError, "empty list"),
    (("x", 1, "wide"), {}, TypeError, "spread must be"),
    (("x", 1), {"unit": 3}, TypeError, "unit must be"),
])
def test_report_rejects_what_it_cannot_record(logs, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        d2l.report(*args, **kwargs)


def test_make_results_lists_the_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(notebooks, "repo_root", lambda: tmp_path)
    monkeypatch.setenv("D2LNETS_RESULTS", "")
    monkeypatch.setenv("D2LNETS_PROFILE", "cpu")
    h = d2l.History(train_loss=[0.5], train_acc=[0.8], test_acc=[0.85], examples_per_sec=[100.0], seconds=[10.0])

    def runs(path, profile):
        d2l.record_result("01_x", "LeNet", 28, h)
        d2l.report("relu_speedup", 3.4, (2.9, 3.8))
        return 30.0

    monkeypatch.setattr(notebooks, "run_notebook", runs)
    out = tmp_path / "RESULTS.md"
    notebooks.main([str(tmp_path / "01_x.ipynb"), "--profile", "cpu", "--results", str(out)])
    text = out.read_text()
    assert "| 01_x | LeNet | 28 px | 1 | 0.850 | 10 s | 30 s | 100 | fp32 on cpu |" in text
    assert "- 01_x: `relu_speedup = 3.4 (min 2.9, max 3.8)`" in text


# --- a comparison's verdict, from the per-seed paired differences -------------------------------------

@pytest.mark.parametrize("paired, ratio, expected", [
    ([-0.011, -0.013, -0.008], False, "worse for every seed"),        # one sign, far from zero
    ([0.005, 0.019, 0.013], False, "better for every seed"),
    ([0.004, 0.026, -0.002], False, "no consistent difference"),      # the signs differ
    ([0.001, 0.030, 0.002], False, "no consistent difference"),       # one sign, but the mean is within 2 SE
    ([0.02], False, "no consistent difference"),                       # one seed is no evidence
    ([0.57, 0.68, 0.87], True, "slower for every seed"),              # ratios, judged on a log scale
    ([1.00, 1.50, 1.24], True, "no consistent difference"),           # a ratio of exactly 1 is no direction
])
def test_the_verdict_needs_one_sign_and_two_standard_errors(paired, ratio, expected):
    words = ("faster", "slower") if ratio else ("better", "worse")
    assert records.verdict(paired, words, ratio) == expected


def test_the_two_standard_errors_rule_against_its_formula():
    import statistics

    paired = [0.001, 0.030, 0.002]
    se = statistics.stdev(paired) / len(paired) ** 0.5
    assert statistics.mean(paired) < 2 * se  # so no verdict, though every difference is positive
    assert records.verdict([d + 0.05 for d in paired]) == "better for every seed"


def test_a_paired_report_prints_its_verdict_and_records_it(capsys):
    record = records.report("overlap_gain", paired=[-0.011, -0.013, -0.008])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "result: overlap_gain = -0.0107 (min -0.013, max -0.008 over 3 seeds)"
    assert out[1] == "verdict: overlap_gain: worse for every seed (mean -0.0107, from -0.013 to -0.008 over 3 seeds)"
    assert record["verdict"] == "worse for every seed" and record["values"] == [-0.011, -0.013, -0.008]
    speed = records.report("relu_speedup", paired=[0.5, 0.5, 0.5], ratio=True, words=("faster", "slower"), unit="×")
    assert speed["value"] == pytest.approx(0.5) and speed["verdict"] == "slower for every seed"
    with pytest.raises(ValueError, match="leave value and spread out"):
        records.report("x", 0.1, paired=[0.1, 0.2])
    with pytest.raises(ValueError, match="two words"):
        records.report("x", paired=[0.1, 0.2], words=("up",))
    with pytest.raises(TypeError, match="needs a value"):
        records.report("x")


def test_verdicts_prints_the_sessions_comparisons_as_they_were_judged(logs, capsys):
    records.report("acc", 0.9, spread=[0.89, 0.91])                        # no comparison: left out
    records.report("overlap_gain", paired=[-0.011, -0.013, -0.008], what="overlapping pooling")
    records.report("relu_speedup", paired=[0.6, 1.1, 0.7], ratio=True, words=("faster", "slower"), unit="×")
    capsys.readouterr()
    chosen = d2l.verdicts()
    assert capsys.readouterr().out.splitlines() == [
        "- overlap_gain (overlapping pooling): worse for every seed (mean -0.0107, from -0.013 to -0.008 over 3 seeds)",
        "- relu_speedup: no consistent difference (mean 0.773×, from 0.6× to 1.1× over 3 seeds)"]
    assert [r["verdict"] for r in chosen] == [records.verdict([-0.011, -0.013, -0.008]), records.NO_DIFFERENCE]
    # a verdict re-judged in a later run is printed as judged then: nothing is kept from the first
    records.report("overlap_gain", paired=[0.01, 0.02, 0.015])
    capsys.readouterr()
    assert [r["verdict"] for r in d2l.verdicts("overlap_gain")] == ["better for every seed"]
    with pytest.raises(KeyError, match="no report named 'nope'.*reported so far: acc, overlap_gain, relu_speedup"):
        d2l.verdicts("nope")
    with pytest.raises(ValueError, match="acc compared nothing seed by seed"):
        d2l.verdicts("acc")
    records.REPORTS.clear()   # (the fixture's own dict)
    d2l.verdicts()
    assert "no comparison over seeds" in capsys.readouterr().out
