"""The GPU check's bookkeeping (benchmarks/gpu_check.py), with its commands stood in for: it runs
every part once over several calls, runs again what failed or was cut short, stops at its budget,
writes RESULTS.md's GPU section, and fails when the full course takes more than 20 minutes. (The
whole script is rehearsed on the CPU with GPU_CHECK_REHEARSAL=1; it runs for real on a GPU.)"""
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "benchmarks"


@pytest.fixture
def check(monkeypatch, tmp_path):
    """gpu_check with set-up done and every command answered at once: ``commands`` lists what ran;
    ``fail`` names the parts whose command fails."""
    sys.path.insert(0, str(BENCH))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(BENCH))
    commands, fail = [], set()

    def set_up(self, data):
        self.state["card"], self.skip_tests = "cpu (rehearsal)", False
        return True

    def run(self, command, env=None, timeout=None):
        commands.append(" ".join(command))
        bad = any(name in " ".join(command) for name in fail)
        return (1, "it failed") if bad else (0, "fine")

    monkeypatch.setattr(gpu_check.Check, "set_up", set_up)
    monkeypatch.setattr(gpu_check.Check, "run", run)
    out = tmp_path / "gpu-check"

    def main(*args, rehearsal=True):
        commands.clear()
        return gpu_check.main(["--rehearsal"] * rehearsal + ["--out", str(out), "--results", str(out / "RESULTS.md"),
                                                              *args])

    return type("C", (), {"main": staticmethod(main), "commands": commands, "fail": fail, "out": out,
                          "module": gpu_check})


def test_every_part_runs_once_over_several_calls(check):
    assert check.main() == 0
    ran = " | ".join(check.commands)
    assert "pytest tests/test_cuda.py" in ran and "benchmarks/run.py --parts models,end_to_end" in ran
    assert all(f"chapters/{c}.ipynb" in ran for c in check.module.CHAPTERS)
    assert check.main() == 0 and check.commands == []  # all done: nothing runs again
    section = (check.out / "RESULTS.md").read_text()
    assert section.count("## GPU") == 1 and "REHEARSAL" in section and "| 03_vgg | done |" in section


def test_a_failed_part_fails_the_check_and_runs_again_next_time(check):
    check.fail.add("04_resnet")
    assert check.main() == 1
    assert "| 04_resnet | failed: it failed |" in (check.out / "RESULTS.md").read_text()
    check.fail.clear()
    assert check.main() == 0 and check.commands == [check.commands[0]] and "04_resnet" in check.commands[0]


def test_no_part_starts_when_the_budget_is_spent(check):
    assert check.main("--budget", "10") == 3  # under 30 s left: not finished, nothing failed
    assert check.commands == []
    assert "not started" in (check.out / "log.txt").read_text()


def test_the_full_course_over_20_minutes_fails(check):
    assert check.main(rehearsal=False) == 0
    state = json.loads((check.out / "state.json").read_text())
    for chapter in check.module.CHAPTERS:
        state["parts"][chapter]["seconds"] = 250.0  # 1,500 s in all
    (check.out / "state.json").write_text(json.dumps(state))
    assert check.main(rehearsal=False) == 1
    text = (check.out / "RESULTS.md").read_text()
    assert "`full` course, chapters 1-6: 1500 s of chapter wall time (6 of 6 chapters run), OVER the limit" in text
    assert "more than 1200 s" in (check.out / "log.txt").read_text()
    assert check.main() == 0  # a rehearsal (the smoke profile on a CPU) says so, and does not fail on it


def test_every_test_that_needs_cuda_is_in_the_files_the_check_runs(check):
    """A test file with a case that needs CUDA (a skip or a parameter that depends on it) is named in
    CUDA_TESTS, or the GPU check would never run it."""
    root = BENCH.parent
    needs = {f"tests/{p.name}" for p in (root / "tests").glob("test_*.py") if p.name != Path(__file__).name
             and any(marker in p.read_text() for marker in ("skipif(not torch.cuda.is_available()", "needs CUDA",
                                                             "if torch.cuda.is_available() else []",
                                                             "torch.cuda.device_count() <"))}
    assert "tests/test_cuda.py" in needs and needs <= set(check.module.CUDA_TESTS), needs
