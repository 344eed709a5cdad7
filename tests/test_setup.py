"""The set-up: dependencies in step, the book's package beside numpy 2, JupyterLab serving the course."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _split(requirement):
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return name.lower(), spec.replace(" ", "")


def supported_pythons() -> list[str]:
    """The Python versions pyproject.toml's classifiers name, oldest first."""
    found = [c.rsplit(" :: ", 1)[1] for c in _pyproject()["classifiers"]
             if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    return sorted(found, key=lambda v: int(v.split(".")[1]))


def test_environment_yml_matches_pyproject():
    conda = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"\s+- ([A-Za-z][\w.\-]*)([<>=!,.\d]*)\s*$", line)
        if m:
            conda[m.group(1).lower()] = m.group(2)
    project = _pyproject()
    for requirement in project["dependencies"] + project["optional-dependencies"]["course"]:
        name, spec = _split(requirement)
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"{name} is in pyproject.toml but not in environment.yml"
        assert conda[conda_name] == spec, f"{name}: pyproject says {spec!r}, environment.yml {conda[conda_name]!r}"
    # the Pythons the classifiers name (and CI's matrix: tests/test_workflow.py) are those conda allows
    minors = supported_pythons()
    assert minors == ["3.11", "3.12", "3.13"]
    assert conda["python"] == f">={minors[0]},<3.{int(minors[-1].split('.')[1]) + 1}"
    assert project["requires-python"] == f">={minors[0]}"
    assert "-e ." in (ROOT / "environment.yml").read_text()
    # and the README says the same
    said = f"Python {', '.join(minors[:-1])} or {minors[-1]}"
    assert said in (ROOT / "README.md").read_text(encoding="utf-8"), f"the README should say {said!r}"


def test_dependencies_are_ranges_not_pins():
    project = _pyproject()
    for requirement in project["dependencies"] + project["optional-dependencies"]["course"]:
        assert "==" not in requirement, f"pin {requirement!r}: declare a range"
    names = {_split(r)[0] for r in project["dependencies"]}
    assert names == {"torch", "torchvision", "numpy", "matplotlib"}
    course = {_split(r)[0] for r in project["optional-dependencies"]["course"]}
    assert {"jupyterlab", "nbval", "pytest"} <= course


def test_the_books_package_imports_beside_current_numpy_and_matplotlib():
    import matplotlib
    import numpy
    from d2l import torch as book

    assert hasattr(book, "train_ch6")
    # d2l 1.0.3 pins numpy==1.23.5 and matplotlib==3.7.2; installed with --no-deps it leaves the
    # course's versions alone: those pyproject.toml allows (numpy 2 in a fresh environment, the
    # declared floor in CI's `floor` job, where this runs too).
    def release(v):
        return tuple(int(x) for x in re.match(r"\d+(\.\d+)*", v).group(0).split("."))

    lower = {name: spec.removeprefix(">=") for name, spec in map(_split, _pyproject()["dependencies"])}
    for module, pinned_by_d2l in ((numpy, "1.23.5"), (matplotlib, "3.7.2")):
        assert module.__version__ != pinned_by_d2l, f"{module.__name__} was downgraded to d2l's pin"
        assert release(module.__version__) >= release(lower[module.__name__]), module.__version__


def test_d2lnets_never_imports_d2l():
    for path in (ROOT / "d2lnets").rglob("*.py"):
        assert not re.search(r"^\s*(import d2l\b|from d2l\b)", path.read_text(), re.M), path
    code = "import sys, d2lnets; assert 'd2l' not in sys.modules, 'd2lnets imported d2l'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ci_and_make_test_run_everything():
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = makefile.split("\ntest:")[1].split("\n\n")[0]
    assert "D2LNETS_PROFILE=smoke" in test_recipe and "tests chapters" in test_recipe
    assert "--nbval-lax --nbval-current-env" in makefile and "tests/sanitize.cfg" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "chromium" in ci and ci.rstrip().endswith("make test")
    setup_recipe = makefile.split("\nsetup:")[1].split("\n\n")[0]
    assert "d2lnets setup" in setup_recipe   # the data is part of set-up, before any test
    assert "exercises/" in (ROOT / ".gitignore").read_text()
