"""CI that can be trusted: the workflows in .github/workflows/ (ci.yml, docs.yml, release.yml) and
.github/dependabot.yml are safe by construction, run where learners are, test the version floor
pyproject.toml declares, build the website and publish releases with the least permissions.

These jobs cannot run here (GitHub's runners, three systems, a GPU). What can be checked without
them is checked: the workflow linter (when `zizmor` is installed: the `dev` extra), and, by parsing
the workflow, what the linter cannot see — that a fork's pull request never reaches the
self-hosted GPU runner.
"""
import importlib.util
import json
import os
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
DOCS = WORKFLOWS / "docs.yml"
RELEASE = WORKFLOWS / "release.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
REPO = "d2lnets/d2lnets"
PR_ONLY = "${{ github.event_name == 'pull_request' }}"


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
    """zizmor's findings on ``path`` (offline, default persona) and the files it audited."""
    exe = _zizmor()
    if exe is None:
        pytest.skip("zizmor is not installed (it is in the `dev` extra, which `make test` installs)")
    done = subprocess.run([exe, "--offline", "--format=json", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip(), f"zizmor printed no report (exit {done.returncode}):\n{done.stderr}"
    audited = {Path(line.split("completed ", 1)[1].strip()).name for line in done.stderr.splitlines()
               if "completed " in line}
    return json.loads(done.stdout), audited


def test_zizmor_finds_nothing_of_medium_severity_or_above():
    """Every workflow, and dependabot.yml, with zizmor's default persona."""
    findings, audited = _run_zizmor(ROOT / ".github")
    serious = _serious(findings)
    report = [f"{f['ident']} ({f['determinations']['severity']}): {f['desc']} at "
              f"{[loc['concrete']['location']['start_point']['row'] + 1 for loc in f['locations']]}"
              for f in serious]
    assert not serious, "zizmor --offline .github/ finds:\n" + "\n".join(report)
    assert audited >= {p.name for p in WORKFLOWS.glob("*.yml")} | {DEPENDABOT.name}, audited
    assert {CI.name, DOCS.name, RELEASE.name} <= {p.name for p in WORKFLOWS.glob("*.yml")}


def test_zizmor_would_catch_the_old_workflow(tmp_path):
    """Not vacuous: the same run flags tag references and default permissions, and an unsafe
    dependabot.yml."""
    github = tmp_path / ".github"
    bad = github / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("name: bad\non: [push]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/checkout@v4\n      - run: make test\n", encoding="utf-8")
    (github / "dependabot.yml").write_text(
        "version: 2\nupdates:\n  - package-ecosystem: pip\n    directory: /\n"
        "    insecure-external-code-execution: allow\n    schedule:\n      interval: weekly\n", encoding="utf-8")
    findings, audited = _run_zizmor(github)
    idents = {f["ident"] for f in _serious(findings)}
    assert {"unpinned-uses", "excessive-permissions", "dependabot-execution"} <= idents
    assert audited == {"bad.yml", "dependabot.yml"}


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
    assert set(on) == {"push", "pull_request", "workflow_dispatch", "schedule"}
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
    assert evaluate(condition, {"event_name": "schedule", "ref": "refs/heads/main", "repository": REPO})
    assert evaluate(condition, _pull_request(REPO)), "a pull request from a branch of this repository"
    assert not evaluate(condition, _pull_request("someone/d2lnets")), "a fork's pull request"
    assert not evaluate(condition, _pull_request(None)), "a pull request from a deleted fork"
    # Nothing in the job can run before the condition is evaluated.
    assert "needs" not in gpu or all("self-hosted" not in json.dumps(wf["jobs"][n].get("runs-on"))
                                     for n in ([gpu["needs"]] if isinstance(gpu["needs"], str) else gpu["needs"]))


def _workflows():
    return {path.name: _workflow(path) for path in sorted(WORKFLOWS.glob("*.yml"))}


# The only write access any job has, and why: publishing the website, and PyPI's trusted publishing.
WRITES = {("docs.yml", "deploy"): {"pages": "write", "id-token": "write"},
          ("release.yml", "publish"): {"id-token": "write"}}


def test_actions_pinned_permissions_read_only_credentials_not_kept():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        uses = re.findall(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", text, re.M)
        assert uses, path.name
        for ref, rest in uses:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref}: pin a full commit hash"
            assert re.fullmatch(r"\s*# v\d+(\.\d+)*\s*", rest), (
                f"{path.name}: {ref}: say its version in a comment (# v4.2.2)")

    for name, wf in _workflows().items():
        assert wf["permissions"] == {"contents": "read"}, name
        for job_name, job in wf["jobs"].items():
            granted = job.get("permissions", {})
            writes = {k: v for k, v in granted.items() if v == "write"}
            assert writes == WRITES.get((name, job_name), {}), f"{name}: {job_name} asks for {writes}"
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False, (
                        f"{name}: {job_name}: persist-credentials")
    assert set(WRITES) <= {(n, j) for n, wf in _workflows().items() for j in wf["jobs"]}


def test_only_pull_requests_cancel_superseded_runs():
    for name in (CI.name, DOCS.name):
        concurrency = _workflows()[name]["concurrency"]
        assert concurrency["cancel-in-progress"] == PR_ONLY, name
        assert "github.ref" in concurrency["group"] and "pull_request.number" in concurrency["group"]
    condition = PR_ONLY
    assert evaluate(condition, {"event_name": "pull_request"})
    assert not evaluate(condition, {"event_name": "push"}) and not evaluate(condition, {"event_name": "schedule"})


# --- where learners are --------------------------------------------------------------------------

def _supported_pythons():
    import tomllib
    classifiers = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    return {c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}


def test_cpu_jobs_on_three_systems_and_every_python_through_the_readmes_commands():
    wf = _workflow()
    cpu = wf["jobs"]["cpu"]
    matrix = cpu["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "windows-latest", "macos-latest"}
    assert set(matrix["python"]) == _supported_pythons() == {"3.11", "3.12", "3.13"}
    assert cpu["strategy"]["fail-fast"] is False
    runs = {step.get("if", ""): step.get("run", "") for step in cpu["steps"] if "run" in step}
    assert runs["runner.os != 'Windows'"].strip() == "make test"
    windows = runs["runner.os == 'Windows'"]
    assert ".github/readme_commands.py" in windows and "./readme-commands.ps1" in windows
    # The data: Debian's package where there is one, else the download, kept between runs.
    caches = [s for s in cpu["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert caches and caches[0]["with"]["path"] == "data/FashionMNIST"
    # pip's downloads cached, keyed on what pip installs from
    setup = next(s for s in cpu["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip" and setup["with"]["cache-dependency-path"] == "pyproject.toml"
    assert "schedule" in wf["on"] and wf["on"]["schedule"][0]["cron"]


def test_linux_installs_cpu_torch_first_and_has_a_browser():
    cpu = _workflow()["jobs"]["cpu"]
    steps = [s for s in cpu["steps"] if "run" in s]
    order = [s.get("name", "") for s in steps]
    torch_step = next(s for s in steps if "download.pytorch.org/whl/cpu" in s["run"])
    assert torch_step["if"] == "runner.os == 'Linux'" and "torch torchvision" in torch_step["run"]
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_step["run"]
    test_step = next(s for s in steps if s["run"].strip() == "make test")
    assert order.index(torch_step["name"]) < order.index(test_step["name"])
    browser = next(s for s in steps if "D2LNETS_CHROMIUM" in s["run"])
    assert browser["if"] == "runner.os == 'Linux'" and "exit 1" in browser["run"]
    assert order.index(browser["name"]) < order.index(test_step["name"])


def test_macos_trains_on_the_cpu_and_only_named_skips_are_allowed():
    cpu = _workflow()["jobs"]["cpu"]
    assert cpu["env"]["D2LNETS_DEVICE"] == "cpu"
    allow = cpu["env"]["D2LNETS_ALLOW_SKIP"]
    for os_name, allowed in (("ubuntu-latest", ""), ("macos-latest", "browser"), ("windows-latest", "browser docs")):
        value = re.sub(r"matrix\.os == '([\w-]+)'", lambda m, os_name=os_name: repr(m.group(1) == os_name),
                       _expression(allow))
        value = value.replace("&&", " and ").replace("||", " or ")
        assert eval(value, {"__builtins__": {}}, {}) == allowed, os_name  # noqa: S307 - literals only


def test_ci_fails_a_skipped_browser_or_website_test(not_here, monkeypatch):
    """CI=true turns these skips into failures, except those the job names in D2LNETS_ALLOW_SKIP."""
    monkeypatch.delenv("D2LNETS_ALLOW_SKIP", raising=False)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        not_here("needs Chromium", "browser")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI \\(CI=true\\) runs this test"):
        not_here("needs Chromium", "browser")
    monkeypatch.setenv("D2LNETS_ALLOW_SKIP", "browser docs")
    with pytest.raises(pytest.skip.Exception):
        not_here("needs Chromium", "browser")
    monkeypatch.setenv("D2LNETS_ALLOW_SKIP", "docs")
    with pytest.raises(pytest.fail.Exception):
        not_here("needs Chromium", "browser")


def test_the_windows_job_runs_every_powershell_line_of_the_readme():
    rc = _script("readme_commands")
    lines = rc.readme_block("powershell")
    assert any("pip install -e" in line for line in lines) and any("pytest tests chapters" in line for line in lines)
    script = rc.powershell_script("3.12")
    for line in lines:
        assert rc.ci_line(line, "3.12") in script
    assert "py -3.12 -m venv .venv" in script and "py -3.11" not in script
    assert "d2lnets lab --version" in script
    if any("d2lnets check" in line for line in lines):
        assert "d2lnets check chapters" in script
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


# --- the GPU job: approved, its own Python, cached, on a budget -----------------------------------

def test_the_gpu_job_waits_for_approval_and_has_its_python_caches_and_budget():
    gpu = _workflow()["jobs"]["gpu"]
    assert gpu["environment"] == "gpu"                      # required reviewers: docs/testing.md
    assert 0 < gpu["timeout-minutes"] <= 180
    uses = [s.get("uses", "").split("@")[0] for s in gpu["steps"]]
    assert uses.index("actions/setup-python") < uses.index("actions/cache")
    cached = {s["with"]["path"] for s in gpu["steps"] if s.get("uses", "").startswith("actions/cache@")}
    assert cached == {".venv", "data"}
    venv_key = next(s["with"]["key"] for s in gpu["steps"] if s.get("with", {}).get("path") == ".venv")
    assert "hashFiles('pyproject.toml', 'Makefile')" in venv_key and "python-version" in venv_key
    setup = next(s for s in gpu["steps"] if s.get("run", "").startswith("make setup"))
    assert setup["env"]["PYTHON"] == "${{ steps.python.outputs.python-path }}"
    check = next(s for s in gpu["steps"] if "gpu_check.sh" in s.get("run", ""))
    assert check["if"] == "hashFiles('benchmarks/gpu_check.sh') != ''"     # harmless before the script exists


# --- the website and the release ------------------------------------------------------------------

def test_the_docs_workflow_tests_the_site_and_deploys_only_from_main():
    wf = _workflow(DOCS)
    assert set(wf["on"]) == {"push", "pull_request", "workflow_dispatch"} and wf["on"]["push"]["branches"] == ["main"]
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    runs = [s.get("run", "").strip() for s in build["steps"]]
    assert "make test-docs" in runs and "make docs" in runs
    assert any("download.pytorch.org/whl/cpu" in r for r in runs) and any("D2LNETS_CHROMIUM" in r for r in runs)
    upload = next(s for s in build["steps"] if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "docs/_build/html"
    main_push = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert upload["if"] == main_push and deploy["if"] == main_push and deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]
    for event in ("pull_request", "workflow_dispatch"):
        assert not evaluate(main_push, {"event_name": event, "ref": "refs/heads/main"})
    assert evaluate(main_push, {"event_name": "push", "ref": "refs/heads/main"})


def test_the_release_builds_checks_and_publishes_with_trusted_publishing():
    wf = _workflow(RELEASE)
    assert wf["on"] == {"push": {"tags": ["v*"]}}
    build, publish = wf["jobs"]["build"], wf["jobs"]["publish"]
    script = "\n".join(s.get("run", "") for s in build["steps"])
    assert "python -m build" in script and "twine check --strict dist/*" in script
    assert '"build>=1.2"' in script and '"twine>=6.1"' in script
    assert "${TAG#v}" in script                                     # the tag is the version built
    assert publish["needs"] == "build" and publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    publisher = publish["steps"][-1]
    assert publisher["uses"].startswith("pypa/gh-action-pypi-publish@") and "with" not in publisher  # no token
    # the build job's tools are the ranges the dev extra declares
    import tomllib
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert {"build>=1.2", "twine>=6.1"} <= set(dev)


def test_the_release_stops_when_the_chapters_would_install_another_release_on_colab(tmp_path):
    step = next(s for s in _workflow(RELEASE)["jobs"]["build"]["steps"] if "write-first-cells" in s.get("run", ""))
    assert step["env"] == {"TAG": "${{ github.ref_name }}"}
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters")
    import d2lnets

    def run(tag):
        return subprocess.run(["bash", "-c", step["run"]], cwd=tmp_path, env={**os.environ, "TAG": tag},
                              capture_output=True, text=True, timeout=60)

    assert run(f"v{d2lnets.__version__}").returncode == 0
    for tag in ("v9.9.9", f"v{d2lnets.__version__}1", f"v{d2lnets.__version__.rsplit('.', 1)[0]}"):
        done = run(tag)
        assert done.returncode == 1 and "does not install" in done.stdout, (tag, done.stdout)


def test_dependabot_updates_the_pinned_actions_and_python_packages_weekly():
    config = yaml.safe_load(DEPENDABOT.read_text(encoding="utf-8"))
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"github-actions", "pip"}
    for update in updates.values():
        assert update["directory"] == "/" and update["schedule"]["interval"] == "weekly"
    assert updates["pip"]["versioning-strategy"] == "increase-if-necessary"   # ranges stay ranges


def test_pre_commit_runs_ruff_and_zizmor_from_local_hooks_only():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [r["repo"] for r in config["repos"]] == ["local"]        # nothing fetched from GitHub
    hooks = {h["id"]: h for h in config["repos"][0]["hooks"]}
    assert all(h["language"] == "system" for h in hooks.values())
    assert hooks["ruff-check"]["entry"] == "ruff check"
    for folder in ("d2lnets", "tests", "benchmarks", "chapters"):
        assert re.search(hooks["ruff-check"]["files"], f"{folder}/x.py"), folder
    assert hooks["zizmor"]["entry"].startswith("zizmor --offline")
    for path in (".github/workflows/ci.yml", ".github/dependabot.yml"):
        assert re.search(hooks["zizmor"]["files"], path)
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    if Path(pre_commit).exists():
        done = subprocess.run([pre_commit, "validate-config", ".pre-commit-config.yaml"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
