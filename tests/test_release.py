"""One version number, and release files PyPI accepts: `make dist` builds the sdist and the wheel,
whose metadata carries `d2lnets.__version__` (pyproject.toml reads it from there) and passes
`twine check`. Built from a copy of the package in a temporary folder, never in the checkout."""
import importlib.util
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import d2lnets

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_written_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "d2lnets.__version__"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    for tool in ("build", "twine"):
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"needs {tool} (the dev extra, which make test installs)")
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "d2lnets", source / "d2lnets", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_the_wheel_and_the_sdist_carry_the_packages_version(dist):
    version = d2lnets.__version__
    wheel = next(dist.glob("d2lnets-*.whl"))
    sdist = next(dist.glob("d2lnets-*.tar.gz"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = Parser().parsestr(z.read(f"d2lnets-{version}.dist-info/METADATA").decode())
    assert metadata["Version"] == version, f"the wheel says {metadata['Version']}, d2lnets.__version__ {version}"
    assert metadata["License-Expression"] == "MIT"
    assert f"d2lnets-{version}.dist-info/licenses/LICENSE" in names
    assert sdist.name == f"d2lnets-{version}.tar.gz"
    with tarfile.open(sdist) as t:
        info = Parser().parsestr(t.extractfile(f"d2lnets-{version}/PKG-INFO").read().decode())
    assert info["Version"] == version


def test_twine_check_passes(dist):
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

