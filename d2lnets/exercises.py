"""Learner copies of the chapters: ``python -m d2lnets.exercises [SRC] [DEST]`` (``make exercises``).

In ``chapters/`` a coding exercise's reference solution sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` (nbgrader's markers). The learner copy replaces each marked block by a
``raise NotImplementedError(...)`` at the same indentation and clears every output, so its checks
fail until the learner writes a solution. Check a copy with
``pytest --nbval-lax exercises/01_lenet.ipynb``.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

__all__ = ["BEGIN", "END", "STUB", "make_learner_copies", "strip_solutions"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("Exercise: replace this line with your solution, then run the check below")'


def _source_lines(cell: dict) -> list[str]:
    src = cell.get("source", "")
    return (src if isinstance(src, str) else "".join(src)).splitlines()


def strip_solutions(source: str) -> str:
    """``source`` with every BEGIN/END SOLUTION block replaced by a stub."""
    out, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN!r} in:\n{source}")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif stripped == END:
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} in:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r} in:\n{source}")
    return "\n".join(out)


def learner_notebook(nb: dict) -> dict:
    """A copy of notebook ``nb`` with solutions stubbed and outputs cleared."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(_source_lines(cell))
        if BEGIN in source:
            source = strip_solutions(source)
        cell["source"] = source
        cell["outputs"], cell["execution_count"] = [], None
    return nb


def make_learner_copies(src: str | Path = "chapters", dest: str | Path = "exercises") -> list[Path]:
    """Write a learner copy of every ``src/NN_*.ipynb`` into ``dest``; return the paths written."""
    src, dest = Path(src), Path(dest)
    notebooks = sorted(p for p in src.glob("*.ipynb") if re.match(r"\d\d_", p.name))
    if not notebooks:
        raise FileNotFoundError(f"no numbered notebooks (NN_name.ipynb) in {src.resolve()}")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = learner_notebook(json.loads(path.read_text(encoding="utf-8")))
        out = dest / path.name
        out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(out)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", default="chapters")
    parser.add_argument("dest", nargs="?", default="exercises")
    args = parser.parse_args(argv)
    for path in make_learner_copies(args.src, args.dest):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
