"""Google Colab: every chapter's first code cell, the repository's address, the "Open in Colab" links.

    python -m d2lnets.tools.colab --write-first-cells chapters      # insert or update the cell in every chapter
    python -m d2lnets.tools.colab --readme-links                    # the README's table of links, a row per chapter

On Colab there is no checkout and no ``make``: the first code cell of a chapter installs this package
from its repository, and the data downloads through torchvision on first use (into
``~/.cache/d2lnets``). Everywhere else the cell does nothing. It runs *before* ``d2lnets`` can be
imported, so it is self-contained code, generated here from :data:`REPOSITORY`, the one place that
names the repository (the README's links and the cell in every chapter are written from it;
tests/test_colab.py checks that they agree).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.paths import atomic_write_text

__all__ = ["REPOSITORY", "BRANCH", "BOOK", "CELL_ID", "FIRST_CELL", "colab_url", "readme_links",
           "write_first_cell", "write_first_cells"]

# The course's public repository. Set it to the real address, then run
# `python -m d2lnets.tools.colab --write-first-cells chapters` and update the README's links.
REPOSITORY = "https://github.com/d2lnets/d2lnets"
BRANCH = "main"
# The book's package, installed without its exact pins (as the Makefile does).
BOOK = "d2l==1.0.3"
# The id the cell carries in every chapter, so that rewriting it finds it again.
CELL_ID = "colab-setup"
_FIRST_LINE = "# Google Colab only: install the course's package from its repository."

FIRST_CELL = f'''{_FIRST_LINE} Anywhere else this cell does
# nothing: set up with `make lab` or the README's commands. On Colab the data downloads on first use.
import sys

if "google.colab" in sys.modules:
    import importlib
    import subprocess
    from importlib.metadata import version

    REPOSITORY = "{REPOSITORY}"
    # Require exactly the torch and torchvision Colab has, so that its CUDA builds are never replaced.
    keep = [f"{{name}}=={{version(name)}}" for name in ("torch", "torchvision")]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"d2lnets @ git+{{REPOSITORY}}@{BRANCH}", *keep], check=True)
    # The book's package, for comparisons: without its exact pins, which would downgrade numpy.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "{BOOK}"], check=True)
    importlib.invalidate_caches()'''


def colab_url(notebook: str | Path) -> str:
    """The address that opens ``chapters/NAME.ipynb`` of :data:`REPOSITORY` in Colab."""
    prefix = "https://github.com/"
    if not REPOSITORY.startswith(prefix):
        raise ValueError(f"Colab opens notebooks from GitHub; REPOSITORY is {REPOSITORY!r}")
    slug = REPOSITORY[len(prefix):].rstrip("/")
    return f"https://colab.research.google.com/github/{slug}/blob/{BRANCH}/chapters/{Path(notebook).name}"


def readme_links(folder: str | Path = "chapters") -> list[str]:
    """The README's table rows, one "Open in Colab" link per chapter in ``folder``."""
    return [f"| `{p.stem}` | [Open in Colab]({colab_url(p)}) |" for p in sorted(Path(folder).glob("*.ipynb"))]


def _is_first_cell(cell) -> bool:
    return cell.get("cell_type") == "code" and (
        cell.get("id") == CELL_ID or "".join(cell.get("source", "")).startswith(_FIRST_LINE))


def write_first_cell(path: str | Path) -> bool:
    """Make :data:`FIRST_CELL` the first code cell of the notebook at ``path``; True if it changed.

    An earlier version of the cell is updated in place; otherwise the cell is inserted just before
    the first code cell (after the title). Every other cell, and every output, stays as it was.
    """
    import nbformat

    path = Path(path)
    original = path.read_text(encoding="utf-8")
    nb = nbformat.reads(original, as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    ours = [i for i in code if _is_first_cell(nb.cells[i])]
    for i in reversed(ours[1:]):              # never more than one
        del nb.cells[i]
    if ours:
        cell = nb.cells[ours[0]]
        if ours[0] != code[0]:                # it must come first: move it there
            del nb.cells[ours[0]]
            nb.cells.insert(code[0], cell)
        cell.source = FIRST_CELL
        cell.outputs = []
        cell.execution_count = None
    else:
        cell = nbformat.v4.new_code_cell(FIRST_CELL)
        if nb.nbformat > 4 or nb.nbformat_minor >= 5:
            cell.id = CELL_ID
        else:
            cell.pop("id", None)
        nb.cells.insert(code[0] if code else len(nb.cells), cell)
    text = nbformat.writes(nb) + "\n"
    if text == original:
        return False
    atomic_write_text(path, text)
    return True


def write_first_cells(folder: str | Path = "chapters") -> list[Path]:
    """:func:`write_first_cell` for every notebook in ``folder``; returns those that changed."""
    return [p for p in sorted(Path(folder).glob("*.ipynb")) if write_first_cell(p)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m d2lnets.tools.colab", description=__doc__.splitlines()[0])
    parser.add_argument("--write-first-cells", metavar="FOLDER",
                        help="insert or update the Colab cell in every notebook of FOLDER")
    parser.add_argument("--readme-links", action="store_true", help="print the README's rows of Colab links")
    parser.add_argument("--print-cell", action="store_true", help="print the first cell's source")
    args = parser.parse_args(argv)
    if args.write_first_cells:
        changed = write_first_cells(args.write_first_cells)
        print(f"{len(changed)} notebook(s) changed" + "".join(f"\n  {p}" for p in changed))
    if args.readme_links:
        print("\n".join(readme_links()))
    if args.print_cell:
        print(FIRST_CELL)
    if not (args.write_first_cells or args.readme_links or args.print_cell):
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
