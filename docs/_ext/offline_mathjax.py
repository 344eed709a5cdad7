"""MathJax served with the site, so equations render with no network (a learner offline, this
build machine, a reader behind a firewall).

Sphinx loads MathJax from a CDN unless ``mathjax_path`` names a local file. The files come from PyPI
at build time, in the package ``sphinx-mathjax-offline`` (MathJax 3.2.2, Apache-2.0, in the ``docs``
extra): nothing large is committed. Only what a page uses is copied into ``_static/mathjax/`` —
the TeX-to-HTML bundle, its fonts, the TeX extensions it loads on demand and its menu — about 3 MB
instead of the package's 24.
"""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

PACKAGE = "sphinx-mathjax-offline"
# tex-chtml.js fetches these, relative to itself, when a page needs them.
PARTS = ["tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y"]
ENTRY = "mathjax/tex-chtml.js"


def mathjax_source() -> Path:
    """The folder of MathJax files that the PyPI package carries, or a clear error."""
    spec = importlib.util.find_spec(PACKAGE)
    folder = Path(spec.origin).parent / "static" / "mathjax" if spec and spec.origin else None
    if folder is None or not (folder / "tex-chtml.js").is_file():
        raise ExtensionError(
            f"MathJax for offline pages was not found: it comes from the PyPI package {PACKAGE}, in the "
            "`docs` extra. Install it with `.venv/bin/python -m pip install -e '.[docs]'` (`make docs` does).")
    return folder


def _use_local_mathjax(app: Sphinx, config) -> None:
    mathjax_source()                   # fail at the start of the build, not after it
    config.mathjax_path = ENTRY


def _copy_mathjax(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for part in PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
