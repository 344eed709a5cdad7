"""ruff, with the rules pyproject.toml states, finds nothing in the package, the tests, the
benchmarks, the chapters, the website's code or the CI scripts."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(RUFF is None, reason="ruff (the dev extra) is not installed here: pip install -e '.[dev]' "
                    "(the floor job runs without it)")
def test_ruff_finds_nothing():
    result = subprocess.run([RUFF, "check", "--no-cache", "--output-format", "concise", "d2lnets", "tests",
                             "benchmarks", "chapters", "docs", ".ci", ".github", "setup.py"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
