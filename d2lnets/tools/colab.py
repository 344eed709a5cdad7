"""Google Colab's first cell in every chapter, and every link made from the repository's address.

    python -m d2lnets.tools.colab --write-first-cells chapters      # insert or update the cell in every chapter
    python -m d2lnets.tools.colab --readme-links                    # the README's table of links, a row per chapter
    python -m d2lnets.tools.colab --project-urls                    # pyproject.toml's [project.urls]

On Colab there is no checkout and no ``make``: the first code cell of a chapter installs the release
of this package the chapter was written with (``d2lnets==X.Y.Z``, :data:`RELEASE`: the version the
package had when the cell was written), and the data downloads through torchvision on first use
(into ``~/.cache/d2lnets``). Everywhere else the cell does nothing. It runs *before* ``d2lnets`` can
be imported, so it is self-contained code, generated here. Colab opens a chapter at that release's
tag (:func:`colab_url`), so the chapter and the package it installs always agree.

:data:`REPOSITORY` is the one place that names the repository: the README's links, the website's
address (:func:`website`) and its buttons, and ``pyproject.toml``'s links (:func:`project_urls`) are
all made from it, and tests/test_colab.py and tests/test_docs.py fail on any link that disagrees.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import __version__
from ..core.paths import atomic_write_text

__all__ = ["BOOK", "BRANCH", "CELL_ID", "FIRST_CELL", "RELEASE", "REPOSITORY", "TAG", "colab_url",
           "is_first_cell", "project_urls", "readme_links", "website", "write_first_cell", "write_first_cells"]

# The course's public repository. Set it to the real address, then run
# `python -m d2lnets.tools.colab --readme-links --project-urls` and paste what it prints.
REPOSITORY = "https://github.com/d2lnets/d2lnets"
BRANCH = "main"
# The release the chapters install on Colab, and its tag (the release workflow publishes tags `v*`).
RELEASE = f"d2lnets=={__version__}"
TAG = f"v{__version__}"
# The book's package, installed without its exact pins (as the Makefile does).
BOOK = "d2l==1.0.3"
# The id the cell carries in every chapter, so that rewriting it finds it again.
CELL_ID = "colab-setup"
_MARK = "# Google Colab only:"   # how every version of the cell begins
_FIRST_LINE = f"{_MARK} install the course's package, the release these chapters were written with."

FIRST_CELL = f'''{_FIRST_LINE}
# Anywhere else this cell does nothing: set up with `make lab` or the README's commands. On Colab
# the data downloads on first use.
import sys

if "google.colab" in sys.modules:
    import importlib
    import subprocess
    from importlib.metadata import version

    # Exactly the torch and torchvision Colab has, so that its CUDA builds are never replaced; the
    # book's package without its exact pins, which would downgrade numpy.
    keep = [f"{{name}}=={{version(name)}}" for name in ("torch", "torchvision")]
    for args in (["{RELEASE}", *keep], ["--no-deps", "{BOOK}"]):
        pip = subprocess.run([sys.executable, "-m", "pip", "install", *args], capture_output=True, text=True)
        if pip.returncode != 0:
            print(pip.stdout, pip.stderr, sep="\\n")
            raise RuntimeError(f"pip could not install {{' '.join(args)}}: its output above says why")
    importlib.invalidate_caches()
    print("installed {RELEASE} and {BOOK}, keeping", *keep)'''


def _slug() -> str:
    prefix = "https://github.com/"
    if not REPOSITORY.startswith(prefix):
        raise ValueError(f"Colab and GitHub Pages need a GitHub repository; REPOSITORY is {REPOSITORY!r}")
    return REPOSITORY[len(prefix):].rstrip("/")


def colab_url(notebook: str | Path) -> str:
    """The address that opens ``chapters/NAME.ipynb`` in Colab, as it is at the release's tag
    (:data:`TAG`): the chapter whose first cell installs that same release."""
    return f"https://colab.research.google.com/github/{_slug()}/blob/{TAG}/chapters/{Path(notebook).name}"


def website() -> str:
    """The course website's address: GitHub Pages of :data:`REPOSITORY` (.github/workflows/docs.yml)."""
    owner, name = _slug().split("/")
    return f"https://{owner}.github.io/{name}/"


def project_urls() -> dict[str, str]:
    """``pyproject.toml``'s ``[project.urls]``, made from :data:`REPOSITORY`."""
    return {"Source": REPOSITORY, "Documentation": website(),
            "Changelog": f"{REPOSITORY}/blob/{BRANCH}/CHANGELOG.md"}


def readme_links(folder: str | Path = "chapters") -> list[str]:
    """The README's table rows, one "Open in Colab" link per chapter in ``folder``."""
    return [f"| `{p.stem}` | [Open in Colab]({colab_url(p)}) |" for p in sorted(Path(folder).glob("*.ipynb"))]


def is_first_cell(cell) -> bool:
    """True for Colab's cell (any version of it: by its id, or by its first words)."""
    return cell.get("cell_type") == "code" and (
        cell.get("id") == CELL_ID or "".join(cell.get("source", "")).startswith(_MARK))


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
    ours = [i for i in code if is_first_cell(nb.cells[i])]
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
    parser.add_argument("--project-urls", action="store_true", help="print pyproject.toml's [project.urls]")
    parser.add_argument("--print-cell", action="store_true", help="print the first cell's source")
    args = parser.parse_args(argv)
    if args.write_first_cells:
        changed = write_first_cells(args.write_first_cells)
        print(f"{len(changed)} notebook(s) changed" + "".join(f"\n  {p}" for p in changed))
    if args.readme_links:
        print("\n".join(readme_links()))
    if args.project_urls:
        print("[project.urls]\n" + "".join(f'{key} = "{url}"\n' for key, url in project_urls().items()), end="")
    if args.print_cell:
        print(FIRST_CELL)
    if not (args.write_first_cells or args.readme_links or args.project_urls or args.print_cell):
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
