"""Where the course's files are: the checkout the package runs from, the chapters; and writing a file
safely.

There is one way to find the repository (:func:`repo_root`), so that no module counts its own
``parent.parent`` (which breaks silently when a module moves to another folder).

There is one way to write a file (:func:`atomic_write`; :func:`atomic_save` for torch, and
:func:`atomic_write_text`), used by every writer of the package: models, checkpoints, notebooks,
RESULTS.md, learner copies. It writes a temporary file beside the target and renames it over the
target, so a crash, Ctrl-C or a full disk leaves the file that was there whole and no temporary
file behind. Records (JSON lines) are appended with :func:`append_text`, which takes a line that
could not be written whole back out. A full disk (or quota) raises :class:`DiskFullError`, which
says so, names the file, and gives the bytes needed and free when they are known.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["PACKAGED_CHAPTERS", "PACKAGE_DIR", "DiskFullError", "append_text", "atomic_save", "atomic_write",
           "atomic_write_text", "byte_size", "chapters_dir", "checkout", "disk_full", "is_course_root", "repo_root"]

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


class DiskFullError(OSError):
    """A file could not be written because its disk (or the user's quota there) is full.

    An ``OSError`` with ``errno`` ENOSPC (or EDQUOT) and ``filename`` the file's path; ``needed``
    and ``free`` are bytes (None when not known). The file that was there before is kept whole."""

    def __init__(self, code: int, message: str, path: Path, needed: int | None, free: int | None) -> None:
        super().__init__(code, message, str(path))
        self.needed, self.free = needed, free

    def __str__(self) -> str:
        return self.strerror


_FULL = {errno.ENOSPC} | ({errno.EDQUOT} if hasattr(errno, "EDQUOT") else set())


def _full_errno(error: BaseException | None) -> int | None:
    """ENOSPC or EDQUOT if ``error`` or an error it was raised from (``__cause__``, ``__context__``)
    is one: torch reports a failed write as ``RuntimeError: [enforce fail at inline_container.cc]
    unexpected pos``, raised while handling the ``OSError``."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _FULL:
            return error.errno
        error = error.__cause__ or error.__context__
    return None


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def byte_size(n: int) -> str:
    """``n`` bytes in words: ``"2.4 MB"``, ``"512 bytes"``."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def disk_full(error: BaseException, path: str | os.PathLike, needed: int | None = None) -> DiskFullError | None:
    """The :class:`DiskFullError` that ``error``, raised while writing ``path``, stands for (None
    if it is not one): an ``OSError`` ENOSPC/EDQUOT, or torch's failed write (``unexpected pos``)
    on a disk with less free space than ``needed``."""
    path = Path(path)
    code, free = _full_errno(error), _free_bytes(path.parent)
    if code is None and "unexpected pos" in str(error) and free is not None and needed is not None and free < needed:
        code = errno.ENOSPC
    if code is None:
        return None
    what = "the disk is full" if code == errno.ENOSPC else "your disk quota is full"
    sizes = ", ".join(([f"it needs about {byte_size(needed)}"] if needed is not None else []) +
                      ([f"{byte_size(free)} free there"] if free is not None else []))
    return DiskFullError(code, f"{what}: {path} could not be written{f' ({sizes})' if sizes else ''}. Nothing of "
                         "it was written: what was there before is kept as it was, and no temporary file is left "
                         "behind. Free some space on that disk (or write somewhere else) and try again.",
                         path, needed, free)


def atomic_write(path: str | os.PathLike, write: Callable, *, needed: int | None = None,
                 exclusive: bool = False) -> Path:
    """Call ``write(f)`` with a binary file open on a temporary file beside ``path``, then rename
    it over ``path`` (``os.replace``). A failure (an error, Ctrl-C, a full disk) leaves the file
    that was there whole and removes the temporary one; a full disk raises :class:`DiskFullError`
    (``needed``: the bytes the file takes, when known, for its message). ``exclusive``: never
    replace a file, raise ``FileExistsError`` if ``path`` exists when the new one is ready."""
    path, tmp = Path(path), None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            _link(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        full = disk_full(e, path, needed) if isinstance(e, Exception) else None
        if full is not None:
            raise full from e
        raise
    return path


def _link(tmp: str, path: Path) -> None:
    """Give the finished temporary file the name ``path`` only if no file has it (a hard link is an
    exclusive create), then drop the temporary name."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def atomic_write_text(path: str | os.PathLike, text: str, *, exclusive: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` with :func:`atomic_write`."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda f: f.write(data), needed=len(data), exclusive=exclusive)


def _tensor_bytes(obj: object) -> int:
    """The bytes of the tensors in ``obj`` (nested dicts, lists and tuples): about what torch.save writes."""
    if hasattr(obj, "untyped_storage") and hasattr(obj, "element_size"):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def atomic_save(obj: object, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` with :func:`atomic_write`: a crash or a full disk while saving
    leaves the file that was there whole (the latter raises :class:`DiskFullError`)."""
    import torch

    return atomic_write(path, lambda f: torch.save(obj, f), needed=_tensor_bytes(obj) + 4096)


def append_text(path: str | os.PathLike, text: str) -> None:
    """Append ``text`` (UTF-8) to ``path``, all of it or nothing: a write that fails part-way (a full
    disk: :class:`DiskFullError`) is cut back off, so the file keeps its whole earlier lines."""
    path, data = Path(path), text.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        start = os.fstat(fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]
        except BaseException as e:
            os.ftruncate(fd, start)
            full = disk_full(e, path, len(data)) if isinstance(e, Exception) else None
            if full is not None:
                raise full from e
            raise
    finally:
        os.close(fd)
