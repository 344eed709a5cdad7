"""What the course's website does differently from plain MyST-NB, in one place.

- Chapters are read as committed, with three changes of presentation (the files are not touched):
  the Colab set-up cell is left out (the page has its own "launch in Colab" button), an exercise's
  solution is folded away behind "Show code cell source", and a cell tagged ``verify`` (a check that
  keeps the chapter honest, collapsed in JupyterLab too) is folded the same way.
- Headings get the anchors JupyterLab gives them (``#Two-towers:-grouped-convolutions``), so the
  links a chapter makes to its own sections work on the site as they do in JupyterLab.
- ``{{REPOSITORY}}`` in a page stands for the repository's address (``conf.py`` reads it from the
  package), for the places a role cannot reach, such as a ``git clone`` line in a code block.
- The site's front door: ``index.html`` at the top sends the reader to the landing page.
- A chapter that is not a readable notebook (a save cut short) is one error naming the file and
  what is wrong, not a crash of the build; the rest of the site is built (and ``-W`` fails it).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

# The Colab cell's id (``CELL_ID`` in the package's colab module).
COLAB_CELL_ID = "colab-setup"
# A chapter's cell tag -> the MyST-NB tag that presents it on the site.
PRESENT = {"exercise": "hide-input", "verify": "hide-input"}


def read_chapter(text: str) -> nbformat.NotebookNode:
    """A chapter as MyST-NB renders it on the site (see the module's docstring)."""
    nb = nbformat.reads(text, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if cell.get("id") == COLAB_CELL_ID:
            tags.append("remove-cell")
        for tag, shown_as in PRESENT.items():
            if tag in tags and shown_as not in tags:
                tags.append(shown_as)
    return nb


def jupyter_slug(title: str) -> str:
    """A heading's anchor as JupyterLab writes it: the text with spaces as hyphens."""
    return "-".join(title.split())


def _repository(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname.startswith("docs/"):
        source[0] = source[0].replace("{{REPOSITORY}}", app.config.html_theme_options["repository_url"])


def _readable(app: Sphinx, docname: str, source: list[str]) -> None:
    if not docname.startswith("chapters/"):
        return
    try:
        nbformat.reads(source[0], as_version=4)
    except Exception as e:  # noqa: BLE001 - NotJSONError, ValidationError, ...: all the same to the reader
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        LOGGER.error(f"{docname}.ipynb is not a notebook that can be read ({type(e).__name__}: {why}); restore it "
                     f"(git checkout -- {docname}.ipynb) or mend it", location=docname)
        page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {docname} could not be read")])
        source[0] = nbformat.writes(page)  # a page that says so, so that the rest is built


def _front_door(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    landing = app.builder.get_target_uri(app.config.root_doc)
    index = Path(app.outdir) / "index.html"
    if landing != "index.html":
        index.write_text(
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta http-equiv="refresh" content="0; url={landing}">\n'
            f'<link rel="canonical" href="{landing}"><title>{app.config.project}</title></head>\n'
            f'<body><p><a href="{landing}">{app.config.project}: the course</a></p></body></html>\n',
            encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("source-read", _readable)
    app.connect("source-read", _repository)
    app.connect("build-finished", _front_door)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
