"""The floor CI tests: the oldest version of every dependency that pyproject.toml allows.

    python .github/floor.py > floor.txt        # one `name==version` a line, for `pip install -c floor.txt`
    python .github/floor.py --check            # exit 1 unless the installed versions are exactly those

Standard library only: it runs before anything is installed. Every requirement of the package and of
its `course` extra must be a `>=` range; its lower bound is the version pinned here, so the `floor`
job of .github/workflows/ci.yml tests what the ranges declare, and raising a bound raises the floor.
"""
from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
EXTRAS = ("course",)
_RANGE = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*>=\s*([0-9][0-9.]*)\s*(?:,[^;]*)?$")


def floor_pins(pyproject: Path = PYPROJECT, extras=EXTRAS) -> dict[str, str]:
    """``{name: oldest allowed version}`` for the dependencies and the given extras."""
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    pins = {}
    for requirement in requirements:
        m = _RANGE.match(requirement)
        if m is None:
            raise ValueError(f"{requirement!r}: the floor needs a `>=` lower bound on every requirement")
        pins[m.group(1).lower()] = m.group(2)
    return pins


def _same(installed: str, pinned: str) -> bool:
    """``2.3.0+cpu`` is the release ``2.3``: compare release numbers, zero-padded, without local labels."""
    def release(v):
        parts = [int(x) for x in re.match(r"[0-9.]*[0-9]", v).group(0).split(".")]
        return parts + [0] * (4 - len(parts))
    return release(installed) == release(pinned)


def check_installed(pins: dict[str, str]) -> list[str]:
    """The pins whose installed version differs (or which are missing), as messages."""
    from importlib.metadata import PackageNotFoundError, version

    wrong = []
    for name, pinned in pins.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            wrong.append(f"{name}: not installed (floor {pinned})")
            continue
        if not _same(installed, pinned):
            wrong.append(f"{name}: {installed} installed, floor {pinned}")
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare the installed versions with the floor")
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT)
    args = parser.parse_args(argv)
    pins = floor_pins(args.pyproject)
    if args.check:
        wrong = check_installed(pins)
        for line in wrong:
            print(line, file=sys.stderr)
        if not wrong:
            print("installed at the floor: " + ", ".join(f"{n} {v}" for n, v in pins.items()))
        return 1 if wrong else 0
    print("\n".join(f"{name}=={version}" for name, version in pins.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
