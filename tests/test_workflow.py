"""CI that can be trusted: .github/workflows/ci.yml is safe by construction, runs where learners are,
and tests the version floor pyproject.toml declares.

These jobs cannot run here (GitHub's runners, three systems, a GPU). What can be checked without
them is checked: the workflow linter (when `zizmor` is installed: the `dev` extra), and, by parsing
the workflow, what the linter cannot see — that a fork's pull request never reaches the
self-hosted GPU runner.
"""
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
REPO = "d2lnets/d2lnets"


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / ".github" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _workflow(path=None):
    wf = yaml.safe_load((path or CI).read_text(encoding="utf-8"))
    if True in wf:                      # YAML 1.1 reads the key `on` as True
        wf["on"] = wf.pop(True)
    return wf


def _zizmor():
    found = shutil.which("zizmor")
    if found:
        return found
    for name in ("zizmor", "zizmor.exe"):
        candidate = Path(sys.executable).parent / name
        if candidate.exists():
            return str(candidate)
    return None


def _serious(findings):
    return [f for f in findings if f["determinations"]["severity"] in ("Medium", "High") and not f.get("ignored")]


def _run_zizmor(path):
    exe = _zizmor()
    if exe is None:
        pytest.skip("zizmor is not installed (it is in the `dev` extra, which `make test` installs)")
    done = subprocess.run([exe, "--offline", "--format=json", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip(), f"zizmor printed no report (exit {done.returncode}):\n{done.stderr}"
    return json.loads(done.stdout)


def test_zizmor_finds_nothing_of_medium_severity_or_above():
    serious = _serious(_run_zizmor(WORKFLOWS))
    report = [f"{f['ident']} ({f['determinations']['severity']}): {f['desc']} at "
              f"{[loc['concrete']['location']['start_point']['row'] + 1 for loc in f['locations']]}"
              for f in serious]
    assert not serious, "zizmor --offline .github/workflows/ finds:\n" + "\n".join(report)


def test_zizmor_would_catch_the_old_workflow(tmp_path):
    """Not vacuous: the same run flags tag references and default permissions."""
    bad = tmp_path / "workflows" / "bad.yml"
    bad.parent.mkdir()
    bad.write_text("name: bad\non: [push]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/checkout@v4\n      - run: make test\n", encoding="utf-8")
    idents = {f["ident"] for f in _serious(_run_zizmor(bad))}
    assert {"unpinned-uses", "excessive-permissions"} <= idents


# --- the GPU runner never runs a fork's code ---------------------------------------------------

def _expression(text):
    """The body of a GitHub expression, with or without ${{ }}."""
    m = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", text, re.S)
    return (m.group(1) if m else text).strip()


def evaluate(condition, github):
    """Evaluate a job's `if:` for a `github` context, as GitHub does for the operators it uses
    (==, !=, &&, ||, !, parentheses, 'strings'); a missing property is null."""
    def lookup(m):
        value = {"github": github}
        for key in m.group(0).split("."):
            value = value.get(key) if isinstance(value, dict) else None
        return repr(value)

    expr = _expression(condition)
    assert re.fullmatch(r"[\w.\s'=!&|()/-]*", expr), f"unexpected syntax in {expr!r}"
    strings = re.findall(r"'[^']*'", expr)
    python = re.sub(r"'[^']*'", "\0", expr)
    python = re.sub(r"\bgithub(\.[A-Za-z_][\w-]*)+", lookup, python)
    python = python.replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"!(?!=)", " not ", python)
    for s in strings:
        python = python.replace("\0", s, 1)
    return bool(eval(python, {"__builtins__": {}}, {}))  # noqa: S307 - operators and literals only


def _pull_request(head_repo):
    """The `github` context of a pull request whose branch lives in ``head_repo`` (None: deleted)."""
    repo = None
    if head_repo:
        repo = {"full_name": head_repo, "fork": head_repo != REPO, "owner": {"login": head_repo.split("/")[0]}}
    base = {"repo": {"full_name": REPO, "fork": False, "owner": {"login": REPO.split("/")[0]}}}
    return {"event_name": "pull_request", "repository": REPO, "repository_owner": REPO.split("/")[0],
            "actor": "someone", "ref": "refs/pull/42/merge", "head_ref": "patch-1", "base_ref": "main",
            "event": {"pull_request": {"head": {"ref": "patch-1", "repo": repo}, "base": base}}}


def test_the_evaluator_reads_conditions_as_github_does():
    assert evaluate("${{ github.event_name == 'push' }}", {"event_name": "push"})
    assert not evaluate("github.event_name != 'push' && !(github.ref == 'x')", {"event_name": "push", "ref": "x"})
    assert evaluate("github.event_name != 'push' || !(github.ref == 'x')", {"event_name": "pr", "ref": "x"})
    assert not evaluate("github.event.pull_request.head.repo.full_name == github.repository",
                        {"event_name": "push", "repository": REPO})     # null is not the repository


def test_the_gpu_job_never_runs_a_forks_pull_request():
    wf = _workflow()
    on = wf["on"]
    # Only these triggers: none of them gives a fork's code the repository's context
    # (pull_request_target, workflow_run and issue_comment would).
    assert set(on) == {"push", "pull_request", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]

    self_hosted = {name: job for name, job in wf["jobs"].items() if "self-hosted" in json.dumps(job.get("runs-on"))}
    assert set(self_hosted) == {"gpu"}
    gpu = self_hosted["gpu"]
    assert "gpu" in gpu["runs-on"]
    condition = gpu["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition

    assert evaluate(condition, {"event_name": "push", "ref": "refs/heads/main", "repository": REPO})
    assert evaluate(condition, {"event_name": "workflow_dispatch", "ref": "refs/heads/review/pr-42",
                                "repository": REPO})
    assert evaluate(condition, _pull_request(REPO)), "a pull request from a branch of this repository"
    assert not evaluate(condition, _pull_request("someone/d2lnets")), "a fork's pull request"
    assert not evaluate(condition, _pull_request(None)), "a pull request from a deleted fork"
    # Nothing in the job can run before the condition is evaluated.
    assert "needs" not in gpu or all("self-hosted" not in json.dumps(wf["jobs"][n].get("runs-on"))
                                     for n in ([gpu["needs"]] if isinstance(gpu["needs"], str) else gpu["needs"]))


def test_actions_pinned_permissions_read_only_credentials_not_kept():
    text = CI.read_text(encoding="utf-8")
    uses = re.findall(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", text, re.M)
    assert uses
    for ref, rest in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{ref}: pin a full commit hash"
        assert re.fullmatch(r"\s*# v\d+(\.\d+)*\s*", rest), f"{ref}: say its version in a comment (# v4.2.2)"

    wf = _workflow()
    assert wf["permissions"] == {"contents": "read"}
    for name, job in wf["jobs"].items():
        assert "write" not in json.dumps(job.get("permissions", {})), f"{name} asks for write access"
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, f"{name}: persist-credentials"
    assert wf["concurrency"]["cancel-in-progress"] is True
    assert "github.ref" in wf["concurrency"]["group"]


# --- where learners are --------------------------------------------------------------------------

def test_cpu_jobs_on_three_systems_and_both_pythons_through_the_readmes_commands():
    wf = _workflow()
    cpu = wf["jobs"]["cpu"]
    matrix = cpu["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "windows-latest", "macos-latest"}
    assert set(matrix["python"]) == {"3.11", "3.12"}
    assert cpu["strategy"]["fail-fast"] is False
    runs = {step.get("if", ""): step.get("run", "") for step in cpu["steps"] if "run" in step}
    assert runs["runner.os != 'Windows'"].strip() == "make test"
    windows = runs["runner.os == 'Windows'"]
    assert ".github/readme_commands.py" in windows and "./readme-commands.ps1" in windows
    # The data: Debian's package where there is one, else the download, kept between runs.
    caches = [s for s in cpu["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert caches and caches[0]["with"]["path"] == "data/FashionMNIST"


def test_the_windows_job_runs_every_powershell_line_of_the_readme():
    rc = _script("readme_commands")
    lines = rc.readme_block("powershell")
    assert any("pip install -e" in line for line in lines) and any("pytest tests chapters" in line for line in lines)
    script = rc.powershell_script("3.12")
    for line in lines:
        assert rc.ci_line(line, "3.12") in script
    assert "py -3.12 -m venv .venv" in script and "py -3.11" not in script
    assert "d2lnets lab --version" in script
    if any("d2lnets.check" in line for line in lines):
        assert "-m d2lnets.check chapters" in script
    assert script.count("if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }") == len(lines)
    test_line = next(line for line in lines if "pytest" in line)
    assert '$env:D2LNETS_PROFILE = "smoke"' in test_line and "--nbval-lax --nbval-current-env" in test_line


# --- the floor declared is the floor tested -------------------------------------------------------

def test_the_floor_is_each_ranges_lower_bound(tmp_path):
    floor = _script("floor")
    pins = floor.floor_pins()
    assert {"torch", "torchvision", "numpy", "matplotlib", "jupyterlab", "nbval"} <= set(pins)
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch_req = next(r for r in project["dependencies"] if r.startswith("torch>="))
    assert pins["torch"] == torch_req.split(">=")[1]
    assert floor._same("2.3.0+cpu", "2.3") and floor._same("0.1.6", "0.1.6") and not floor._same("2.4.0", "2.3")
    unbounded = tmp_path / "pyproject.toml"
    unbounded.write_text((ROOT / "pyproject.toml").read_text().replace('"numpy>=1', '"numpy<9,!=1'))
    with pytest.raises(ValueError, match="lower bound"):
        floor.floor_pins(unbounded)


def test_the_floor_job_installs_and_checks_the_floor():
    wf = _workflow()
    job = wf["jobs"]["floor"]
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "3.11"         # requires-python's lower bound
    install = next(s["run"] for s in job["steps"] if "floor.py" in s.get("run", ""))
    assert "-c floor.txt" in install and "floor.py --check" in install
    test = job["steps"][-1]
    assert test["env"]["D2LNETS_PROFILE"] == "smoke" and "pytest tests chapters" in test["run"]
