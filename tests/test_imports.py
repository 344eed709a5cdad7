"""The package's layers (d2lnets/README.md) hold: import-linter's contracts in pyproject.toml are
kept, and each one catches a breach planted in a copy of the package."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"
pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter (the dev extra) is not installed here: "
                                "pip install -e '.[dev]' (the floor job runs without it)")


def lint(root: Path) -> subprocess.CompletedProcess:
    """lint-imports over the package in ``root`` (no cache written)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_every_contract_is_kept_and_no_cache_is_left():
    before = set(os.listdir(ROOT))
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout
    assert set(os.listdir(ROOT)) == before  # (no .import_linter_cache)


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A copy of the package and its contracts, to plant breaches in."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "d2lnets", root / "d2lnets", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


BREACHES = [  # (file, line planted at its top, the contract that must catch it)
    ("core/config.py", "from ..train import history", "Layers"),                        # up, from the bottom
    ("models/lenet.py", "from ..data import loader", "Layers"),                        # siblings: independent
    ("checks/_util.py", "from ..course import recipes", "Layers"),                     # siblings: independent
    ("stray.py", "import torch", "Layers"),                                            # a module in no layer
    ("viz/show.py", "from . import live", "No cycle"),                                 # live imports show
    ("data/loader.py", "import matplotlib", "Nothing below viz"),
    ("checks/_util.py", "from IPython.display import display", "Nothing below viz"),
    ("train/records.py", "import nbformat", "Only tools read or run notebooks"),
]


@pytest.mark.parametrize("path, line, contract", BREACHES, ids=[f"{p}: {line}" for p, line, _ in BREACHES])
def test_each_contract_catches_a_planted_breach(copy, path, line, contract):
    target = copy / "d2lnets" / path
    original = target.read_text() if target.exists() else None
    text = original or ""
    head = 'from __future__ import annotations\n' if text.startswith("from __future__") else ""
    target.write_text(f"{text[:len(head)] if head else ''}{line}\n{text[len(head):] if head else text}")
    try:
        result = lint(copy)
    finally:
        target.write_text(original) if original is not None else target.unlink()
    assert result.returncode == 1, result.stdout
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row and not row.startswith(" ")]
    assert len(broken) == 1 and broken[0].startswith(contract), result.stdout
