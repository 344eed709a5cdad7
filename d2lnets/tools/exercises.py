"""Learner copies of the chapters: ``d2lnets exercises`` (``make exercises``).

In ``chapters/`` a coding exercise's reference solution sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` (nbgrader's markers, in any case). A learner copy in ``exercises/`` replaces each
marked block by a ``raise NotImplementedError(...)`` at the same indentation, clears the outputs of
the exercise and check cells (tags ``exercise`` and ``check``) and keeps every other output, so a
chapter can be read without retraining.

A learner's copy is never overwritten, truncated or moved:

- a copy is written only where none exists;
- each copy records the chapter version it was made from (a hash of the chapter's cell sources,
  all but the Colab cell, which names the release: a new release alone changes no chapter);
  when the chapter has changed since, the new version is written *beside* it as
  ``NN_name.updated.ipynb`` (or, if that exists too, ``NN_name.updated-DATE.ipynb``);
- ``--reset NN`` starts a chapter again: it first moves the old copy to ``exercises/backups/``
  with a timestamp, then writes a fresh one;
- a copy that cannot be read (a save cut short, so not valid JSON; not a notebook) is left as it
  is, said to be unreadable (with JupyterLab's last checkpoint of it, when there is one), and no
  ``.updated`` copy is written beside it: the chapter has not changed, the copy is broken.
- every file is written whole or not at all (:func:`d2lnets.core.paths.atomic_write`).
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..core.paths import atomic_write_text, chapters_dir
from .colab import is_first_cell

__all__ = ["BEGIN", "END", "STUB", "UnreadableNotebook", "backup_dir", "chapter_notebooks", "jupyter_checkpoint",
           "learner_notebook", "read_notebook", "reset", "source_hash", "strip_solutions", "sync"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("Exercise: replace this line with your solution, then run the check below")'
MARKDOWN_STUB = "*Your answer here.*"
# A marker line: any number of '#', any case and spacing; in markdown also an HTML comment.
_MARKER = re.compile(r"^\s*(?:#+|<!--)\s*(BEGIN|END)\s+SOLUTION\s*(?:-->)?\s*$", re.IGNORECASE)
_CHAPTER = re.compile(r"^\d\d_[^.]+\.ipynb$")
CLEARED_TAGS = {"exercise", "check"}


def chapter_notebooks(folder: str | Path) -> list[Path]:
    """The chapters in ``folder`` (``NN_name.ipynb``), in order; never ``.updated`` copies or backups."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if _CHAPTER.match(p.name))


def _marker(line: str) -> str | None:
    m = _MARKER.match(line)
    return m.group(1).upper() if m else None


def has_solution(source: str) -> bool:
    return any(_marker(line) for line in source.splitlines())


def strip_solutions(source: str, stub: str = STUB) -> str:
    """``source`` with every BEGIN/END SOLUTION block replaced by ``stub`` at the block's indentation."""
    out, inside = [], False
    for line in source.splitlines():
        kind = _marker(line)
        if kind == "BEGIN":
            if inside:
                raise ValueError(f"nested {BEGIN!r} in:\n{source}")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + stub)
        elif kind == "END":
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} in:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r} in:\n{source}")
    return "\n".join(out)


def source_hash(nb) -> str:
    """A hash of a chapter's cells (type and source, not outputs): which version a copy came from.
    Colab's first cell is left out: it names the release to install, which changes with every release."""
    h = hashlib.sha256()
    for cell in nb["cells"]:
        if is_first_cell(cell):
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        h.update(cell["cell_type"].encode() + b"\0" + source.encode() + b"\0")
    return h.hexdigest()[:16]


def learner_notebook(nb, chapter: str = "") -> nbformat.NotebookNode:
    """A learner copy of chapter ``nb``: solutions stubbed, exercise and check cells cleared, the
    rest (outputs included) kept, and the chapter's version recorded in the metadata."""
    nb = nbformat.from_dict(copy.deepcopy(dict(nb)))
    version = source_hash(nb)
    for cell in nb.cells:
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        solved = has_solution(source)
        if solved:
            source = strip_solutions(source, STUB if cell.cell_type == "code" else MARKDOWN_STUB)
        cell.source = source
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "code" and (solved or tags & CLEARED_TAGS):
            cell.outputs, cell.execution_count = [], None
    nb.metadata["d2lnets"] = {"chapter": chapter, "source_hash": version}
    return nb


class UnreadableNotebook(ValueError):
    """A notebook file that cannot be read: ``path``, and ``why`` in words (with where JupyterLab's
    last checkpoint of it is, when there is one)."""

    def __init__(self, path: Path, why: str) -> None:
        self.path, self.why = Path(path), why
        super().__init__(f"{path} cannot be read: {why}")


def _why_unreadable(path: Path, error: Exception) -> str:
    if isinstance(error, OSError):
        return f"it cannot be opened ({type(error).__name__}: {error.strerror or error})"
    raw = path.read_bytes()
    if not raw.strip():
        return "it is empty (a save cut short?)"
    try:
        content = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        return f"it is not text (byte {e.start:,} is not UTF-8)"
    except json.JSONDecodeError as e:
        return (f"it is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno} of its {len(raw):,} bytes: "
                "a save cut short?)")
    if not isinstance(content, dict):
        return (f"it is JSON (a {type(content).__name__}) but not a Jupyter notebook, which is a JSON object "
                "with cells, metadata and nbformat")
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"it is JSON but not a Jupyter notebook ({first})"


def jupyter_checkpoint(path: str | Path) -> Path | None:
    """JupyterLab's last checkpoint of notebook ``path`` (``.ipynb_checkpoints/NAME-checkpoint.ipynb``
    beside it), or None when there is none."""
    path = Path(path)
    found = path.parent / ".ipynb_checkpoints" / f"{path.stem}-checkpoint.ipynb"
    return found if found.is_file() else None


def _checkpoint_hint(path: Path) -> str:
    found = jupyter_checkpoint(path)
    if found is None:
        return ""
    saved = dt.datetime.fromtimestamp(found.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    try:
        read_notebook(found, hint=False)
    except UnreadableNotebook:
        return f"; JupyterLab's last checkpoint of it, {found} (saved {saved}), cannot be read either"
    return f"; JupyterLab's last checkpoint of it is {found} (saved {saved}): copy it over your copy to go back to it"


def read_notebook(path: str | Path, hint: bool = True) -> nbformat.NotebookNode:
    """The notebook at ``path`` (nbformat 4); :class:`UnreadableNotebook` says what is wrong with a
    file that is not one (and, with ``hint``, where JupyterLab's last checkpoint of it is)."""
    path = Path(path)
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 - NotJSONError, ValidationError, UnicodeDecodeError, OSError, ...
        raise UnreadableNotebook(path, _why_unreadable(path, e) + (_checkpoint_hint(path) if hint else "")) from e


def _recorded_hash(path: Path) -> str | None:
    """The chapter version a learner copy records, or None if it records none; raises
    :class:`UnreadableNotebook` for a copy that does not parse (the learner's still: left alone)."""
    return read_notebook(path).metadata.get("d2lnets", {}).get("source_hash")


def _write_new(path: Path, nb) -> None:
    """Write ``nb`` to ``path``, which must not exist (never overwrites), whole or not at all."""
    text = nbformat.writes(nb)
    atomic_write_text(path, text if text.endswith("\n") else text + "\n", exclusive=True)


@dataclass
class Message:
    path: Path
    status: str   # "written", "up to date", "updated copy written", "updated copy waiting", "unreadable"
    text: str


def _updated_candidates(dest: Path, stem: str, now: dt.datetime):
    yield dest / f"{stem}.updated.ipynb"
    yield dest / f"{stem}.updated-{now:%Y-%m-%d}.ipynb"
    for n in range(1000):
        yield dest / f"{stem}.updated-{now:%Y-%m-%d-%H%M%S}{f'-{n}' if n else ''}.ipynb"


def _check_folders(src: Path, dest: Path) -> None:
    if src.resolve() == dest.resolve():
        raise ValueError(f"the chapters ({src}) and the learner copies ({dest}) are the same folder: "
                         "a learner copy would replace the chapter's solutions. Write the copies to "
                         "another folder, e.g. `d2lnets exercises chapters exercises`.")
    if not chapter_notebooks(src):
        raise FileNotFoundError(f"no numbered notebooks (NN_name.ipynb) in {src.resolve()}")
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest} is a file, not a folder: the learner copies go in a folder of their own, e.g. "
                         "exercises")


def sync(src: str | Path | None = None, dest: str | Path = "exercises") -> list[Message]:
    """Write a learner copy of every chapter in ``src`` (default: :func:`~d2lnets.core.paths.chapters_dir`)
    that has none in ``dest``; never overwrite.

    A copy made from an older version of its chapter stays as it is; the new version goes beside
    it (``NN_name.updated.ipynb``, or a dated name if that exists from an earlier update).
    """
    src, dest = Path(src or chapters_dir()), Path(dest)
    _check_folders(src, dest)
    dest.mkdir(parents=True, exist_ok=True)
    now, messages = dt.datetime.now(), []
    for chapter in chapter_notebooks(src):
        nb = learner_notebook(nbformat.read(chapter, as_version=4), chapter.stem)
        version, target = nb.metadata["d2lnets"]["source_hash"], dest / chapter.name
        if not target.exists():
            _write_new(target, nb)
            messages.append(Message(target, "written", f"wrote {target}"))
            continue
        try:
            recorded = _recorded_hash(target)
        except UnreadableNotebook as e:
            messages.append(Message(target, "unreadable", (
                f"{target}: your copy cannot be read: {e.why}. It is left as it is, and no new copy was "
                f"written beside it. To start this chapter again: make reset NB={chapter.stem[:2]} (or "
                f"d2lnets reset {chapter.stem[:2]}; your copy is moved to backups/ first).")))
            continue
        if recorded == version:
            messages.append(Message(target, "up to date", f"{target}: your copy, up to date (left as it is)"))
            continue
        for candidate in _updated_candidates(dest, chapter.stem, now):
            if not candidate.exists():
                _write_new(candidate, nb)
                messages.append(Message(candidate, "updated copy written", (
                    f"{target}: the chapter has changed since your copy was made. Your copy is left as it "
                    f"is; the new version is in {candidate}. Move your solutions across when you like.")))
                break
            if _recorded_hash_or_none(candidate) == version:
                messages.append(Message(candidate, "updated copy waiting", (
                    f"{target}: the chapter has changed since your copy was made; the new version is "
                    f"waiting in {candidate} (both left as they are).")))
                break
    return messages


def _recorded_hash_or_none(path: Path) -> str | None:
    try:
        return _recorded_hash(path)
    except UnreadableNotebook:  # an .updated copy that cannot be read: not the new version; the next name is tried
        return None


def backup_dir(dest: str | Path) -> Path:
    return Path(dest) / "backups"


def reset(chapter: str, src: str | Path | None = None, dest: str | Path = "exercises") -> tuple[Path | None, Path]:
    """Start ``chapter`` (``02``, ``02_alexnet`` or its file name) again: move the learner's copy to
    ``dest/backups/NN_name.TIMESTAMP.ipynb``, then write a fresh copy. Returns (backup, fresh copy)."""
    src, dest = Path(src or chapters_dir()), Path(dest)
    _check_folders(src, dest)
    key = Path(chapter).name.removesuffix(".ipynb")
    matches = [p for p in chapter_notebooks(src) if p.stem == key or p.stem.split("_")[0] == key]
    if len(matches) != 1:
        names = ", ".join(p.stem for p in chapter_notebooks(src))
        raise ValueError(f"{chapter!r} names {'no' if not matches else 'more than one'} chapter; "
                         f"give its number or name, one of: {names}")
    source = matches[0]
    target, backup = dest / source.name, None
    if target.exists():
        folder = backup_dir(dest)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = folder / f"{source.stem}.{stamp}.ipynb"
        n = 1
        while backup.exists():
            backup, n = folder / f"{source.stem}.{stamp}-{n}.ipynb", n + 1
        target.rename(backup)
    dest.mkdir(parents=True, exist_ok=True)
    _write_new(target, learner_notebook(nbformat.read(source, as_version=4), source.stem))
    return backup, target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="d2lnets exercises",
        description="Write learner copies of the chapters where none exists (never overwrites one).")
    parser.add_argument("src", nargs="?", default=None,
                        help="the chapters (default: the course's chapters/, else those installed with d2lnets)")
    parser.add_argument("dest", nargs="?", default="exercises", help="the learner copies (default: exercises)")
    parser.add_argument("--reset", metavar="CHAPTER",
                        help="start CHAPTER (e.g. 02) again: back up your copy, then write a fresh one")
    args = parser.parse_args(argv)
    try:
        if args.reset:
            backup, fresh = reset(args.reset, args.src, args.dest)
            if backup:
                print(f"moved your copy to {backup}")
            print(f"wrote a fresh {fresh}")
            return 0
        for message in sync(args.src, args.dest):
            print(message.text)
    except (ValueError, OSError) as e:  # refused (same folder, unknown chapter) or a file system error
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
