"""Check a learner's exercises in seconds: ``d2lnets check [NOTEBOOK_OR_FOLDER ...]``.

``make check`` runs it on ``exercises/``. It runs only what the exercises need, never training: the
chapter's cells tagged ``setup``, then each cell tagged ``exercise`` followed by its cells tagged
``check``, in one fresh namespace per notebook. It prints a line per exercise (solved, not written
yet, or wrong with the check's message) and a total, and exits 0 only when every exercise is solved.

A folder means its chapters (``NN_name.ipynb``); ``.updated`` copies and backups are checked only
when named explicitly. A copy that cannot be read (not valid JSON, not a notebook) gets a line of
its own saying what is wrong and where JupyterLab's last checkpoint of it is; the other chapters
are checked all the same, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .exercises import UnreadableNotebook, chapter_notebooks, read_notebook
from .interrupt import Interrupted, one_line

__all__ = ["Exercise", "Outcome", "check_notebook", "default_folder", "exercises_of", "main"]

_TITLE = re.compile(r"\*\*\s*(\d+\.\s*[^*]+?)\s*\*\*")


@dataclass
class Exercise:
    title: str
    cells: list[tuple[int, str]] = field(default_factory=list)    # (cell index, source): the exercise
    checks: list[tuple[int, str]] = field(default_factory=list)   # its check cells


@dataclass
class Outcome:
    title: str
    status: str          # "solved", "not written yet", "wrong", "error"
    message: str = ""

    @property
    def solved(self) -> bool:
        return self.status == "solved"

    def line(self) -> str:
        return f"{self.title}: {self.status}" + (f": {self.message}" if self.message else "")


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def exercises_of(nb) -> tuple[list[tuple[int, str]], list[Exercise]]:
    """The set-up cells and the exercises (with their checks) of notebook ``nb``, from the cell tags."""
    setup, exercises, title, n = [], [], None, 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found = _TITLE.search(_source(cell))
            title = found.group(1).rstrip(".") if found else title
            continue
        if cell.cell_type != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "setup" in tags:
            setup.append((i, _source(cell)))
        if "exercise" in tags:
            if not exercises or exercises[-1].checks:   # a new exercise starts
                n += 1
                exercises.append(Exercise(title or f"{n}. exercise"))
                title = None
            exercises[-1].cells.append((i, _source(cell)))
        if "check" in tags:
            if not exercises:
                raise ValueError(f"cell {i} is tagged 'check' but no cell tagged 'exercise' comes before it")
            exercises[-1].checks.append((i, _source(cell)))
    return setup, exercises


def _run(cells: list[tuple[int, str]], ns: dict, name: str) -> None:
    for i, source in cells:
        code = compile(source, f"<{name} cell {i}>", "exec")
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(code, ns)  # noqa: S102 - running the learner's own notebook is the point
            except SystemExit as e:  # it would end the check itself, and with "success"
                raise RuntimeError(f"cell {i} called exit() or sys.exit() ({e.code!r}), which would stop the check: "
                                   "take the call out") from None


def _describe(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text if isinstance(e, AssertionError) else f"{type(e).__name__}: {text}"


def _outcome(ex: Exercise, ns: dict, name: str) -> Outcome:
    try:
        _run(ex.cells, ns, name)
    except NotImplementedError:
        return Outcome(ex.title, "not written yet")
    except Exception as e:  # noqa: BLE001 - any error in the learner's cell is reported, not raised
        return Outcome(ex.title, "error", f"your exercise cell raised {_describe(e)}")
    try:
        _run(ex.checks, ns, name)
    except AssertionError as e:
        if "not written yet" in str(e) or isinstance(e.__cause__, NotImplementedError):
            return Outcome(ex.title, "not written yet")
        return Outcome(ex.title, "wrong", _describe(e))
    except NotImplementedError:
        return Outcome(ex.title, "not written yet")
    except Exception as e:  # noqa: BLE001
        return Outcome(ex.title, "error", f"the check raised {_describe(e)}")
    return Outcome(ex.title, "solved")


def check_notebook(path: str | Path) -> list[Outcome]:
    """Run the set-up cells, then every exercise and its check, of the notebook at ``path``."""
    path = Path(path)
    nb = read_notebook(path)
    setup, exercises = exercises_of(nb)
    ns: dict = {"__name__": "__main__"}
    try:
        _run(setup, ns, path.name)
    except Exception as e:  # noqa: BLE001
        message = f"the chapter's set-up cell failed ({_describe(e)}); fix it or reset the chapter"
        return [Outcome(ex.title, "error", message) for ex in exercises]
    return [_outcome(ex, ns, path.name) for ex in exercises]


def _notebooks(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            chapters = chapter_notebooks(p)
            if not chapters:
                raise FileNotFoundError(f"{p} holds no chapter notebooks (NN_name.ipynb)")
            found += chapters
        elif p.is_file():
            found.append(p)
        else:
            hint = " Run `make exercises` to write your copies." if p.name == "exercises" else ""
            raise FileNotFoundError(f"{p} does not exist.{hint}")
    return found


def default_folder(cwd: str | Path | None = None) -> Path:
    """The learner's copies to check when no path is given: ``exercises/`` in the current folder or
    the nearest folder above it that has one (so the check works from ``chapters/`` or
    ``exercises/`` too); ``exercises`` (relative, reported missing) when there is none. It never
    looks anywhere else, e.g. in the checkout the package happens to be installed from."""
    here = Path.cwd() if cwd is None else Path(cwd)
    for folder in (here, *here.resolve().parents):
        if (folder / "exercises").is_dir():
            return folder / "exercises" if folder != here else Path("exercises")
    return Path("exercises")


@one_line("d2lnets check")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="d2lnets check", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="notebooks or folders (default: exercises/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("D2LNETS_PROFILE", "smoke")   # set-up cells never train, but stay small if one did
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        notebooks = _notebooks(args.paths or [str(default_folder())])
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    start, outcomes, unreadable = time.perf_counter(), [], 0
    for path in notebooks:
        try:
            results = check_notebook(path)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted while checking {path}: the check only reads your copies, so they are "
                              "as you left them") from None
        except (UnreadableNotebook, ValueError) as e:  # a broken copy (or cell tags): said, and the rest checked
            print(e if isinstance(e, UnreadableNotebook) else f"{path} cannot be checked: {e}", flush=True)
            unreadable += 1
            continue
        if not results:
            print(f"{path}: no exercises (no cells tagged 'exercise')")
        for outcome in results:
            print(f"{path.stem}  {outcome.line()}", flush=True)
        outcomes += results
    solved = sum(o.solved for o in outcomes)
    broken = f"; {unreadable} notebook{'s' if unreadable > 1 else ''} could not be checked (see above)" \
        if unreadable else ""
    print(f"{solved} of {len(outcomes)} exercises solved{broken} ({time.perf_counter() - start:.1f} s)")
    return 0 if outcomes and solved == len(outcomes) and not unreadable else 1


if __name__ == "__main__":
    sys.exit(main())
