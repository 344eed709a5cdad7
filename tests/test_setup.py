"""The set-up: dependencies in step, the book's package beside numpy 2, JupyterLab serving the course."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _split(requirement):
    name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return name.lower(), spec.replace(" ", "")


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
    assert conda["python"] == ">=3.11,<3.13"
    assert project["requires-python"] == ">=3.11"
    assert "-e ." in (ROOT / "environment.yml").read_text()


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
    # d2l 1.0.3 pins numpy==1.23.5 and matplotlib==3.7.2; the course keeps current versions.
    assert int(numpy.__version__.split(".")[0]) >= 2
    assert tuple(int(x) for x in matplotlib.__version__.split(".")[:2]) >= (3, 8)


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
    assert "dataset-fashion-mnist" in ci and ci.rstrip().endswith("make test")
    assert "exercises/" in (ROOT / ".gitignore").read_text()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_chapters():
    """Start JupyterLab the way `make lab` does (no browser, a free loopback port) and list chapters/."""
    if not (ROOT / ".venv" / "bin" / "jupyter").exists():
        pytest.skip("make lab runs from the repository's .venv")
    port, token = _free_port(), "d2lnets-test"
    opts = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={token}"
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_OPTS={opts}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/chapters?token={token}"
        deadline, listing = time.monotonic() + 120, None
        while time.monotonic() < deadline and listing is None:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited early:\n{proc.stdout.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    listing = __import__("json").load(response)
            except OSError:
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer within 120 s"
        names = {item["name"] for item in listing["content"]}
        assert "01_lenet.ipynb" in names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as response:
            assert response.status == 200 and b"JupyterLab" in response.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    assert (ROOT / "exercises" / "01_lenet.ipynb").exists(), "make lab writes the learner copies"
