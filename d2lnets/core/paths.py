"""Where the course's files are: the checkout the package runs from, the chapters, and saving a file
atomically.

There is one way to find the repository (:func:`repo_root`), so that no module counts its own
``parent.parent`` (which breaks silently when a module moves to another folder).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["PACKAGED_CHAPTERS", "PACKAGE_DIR", "atomic_save", "chapters_dir", "checkout", "is_course_root",
           "repo_root"]

# The folder of the d2lnets package: as many folders up from this file as this module is deep.
PACKAGE_DIR = Path(__file__).resolve().parents[__name__.count(".") - 1]
# The chapters a wheel carries (setup.py adds the checkout's chapters/*.ipynb at build time).
PACKAGED_CHAPTERS = PACKAGE_DIR / "_chapters"


def is_course_root(folder: Path) -> bool:
    """True for a checkout of the course: it holds ``pyproject.toml`` and ``chapters/``."""
    return (folder / "pyproject.toml").is_file() and (folder / "chapters").is_dir()


def checkout() -> Path | None:
    """The checkout the package runs from (the folder above the package, for an editable install),
    or None for a package installed from a wheel."""
    above = PACKAGE_DIR.parent
    return above if is_course_root(above) else None


def repo_root() -> Path:
    """The course's folder: :func:`checkout`; else the first folder from the current one up that
    looks like the course; else the current folder."""
    found = checkout()
    if found is not None:
        return found
    here = Path.cwd().resolve()
    return next((p for p in (here, *here.parents) if is_course_root(p)), here)


def chapters_dir() -> Path:
    """The chapters to copy or run: those of the course's folder (:func:`repo_root`: the checkout,
    else the current folder or one above it); else those the installed wheel carries
    (:data:`PACKAGED_CHAPTERS`), for a package installed from a release."""
    for folder in (repo_root() / "chapters", PACKAGED_CHAPTERS):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(
        "found no chapters: not in ./chapters, not in a checkout of the course, and this installation of "
        f"d2lnets carries none ({PACKAGED_CHAPTERS}). Run this from a checkout, or install d2lnets from a "
        "release: pip install d2lnets")


def atomic_save(obj: object, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to a temporary file beside ``path``, then renamed over it
    (``os.replace``): a crash while saving leaves the file that was there whole."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
