"""Check a learner's exercises in seconds: ``d2lnets check [NOTEBOOK_OR_FOLDER ...]``.

``make check`` runs it on ``exercises/``. It runs only what the exercises need, never training: the
chapter's cells tagged ``setup``, then each cell tagged ``exercise`` followed by its cells tagged
``check``, in one fresh namespace per notebook. It prints a line per exercise, named as the chapter
names it (solved, not written yet, or wrong with the check's message), a total per chapter and one
in all, and exits 0 only when every exercise is solved. It records when each exercise of a learner's
copy was first solved (``d2lnets.progress``).

A folder means its chapters (``NN_name.ipynb``); ``.updated`` copies and backups are checked only
when named explicitly. A copy that cannot be read (not valid JSON, not a notebook) gets a line of
its own saying what is wrong and where JupyterLab's last checkpoint of it is; the other chapters
are checked all the same, and the exit status is 1.

Also: ``d2lnets hint 02 1 [N]`` (``make hint``) prints an exercise's hint and ``d2lnets progress
[FOLDER]`` (``make progress``) the record of what is solved.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import linecache
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..checks import hints
from . import progress
from .exercises import UnreadableNotebook, chapter_notebooks, read_notebook
from .interrupt import Interrupted, one_line

__all__ = ["Exercise", "Outcome", "check_notebook", "default_folder", "exercises_of", "hint_main", "main",
           "progress_main"]

# "**3. PCA lighting, from data.**" names exercise 3; "**(b) PCA lighting.**" (or a line starting
# "(b) ") names part b of the exercise named before it.
_TITLE = re.compile(r"\*\*\s*(\d+)\.\s*([^*]+?)\s*\*\*")
_PART = re.compile(r"^\s*(?:\*\*\s*\(([a-h])\)\s*([^*]*?)\s*\*\*|\(([a-h])\)\s)", re.MULTILINE)


@dataclass
class Exercise:
    title: str
    cells: list[tuple[int, str]] = field(default_factory=list)    # (cell index, source): the exercise
    checks: list[tuple[int, str]] = field(default_factory=list)   # its check cells
    number: str = ""     # as hints and the progress record know it: "1", "3b"


@dataclass
class Outcome:
    title: str
    status: str          # "solved", "not written yet", "wrong", "error"
    message: str = ""
    number: str = ""

    @property
    def solved(self) -> bool:
        return self.status == "solved"

    def line(self) -> str:
        return f"{self.title}: {self.status}" + (f": {self.message}" if self.message else "")


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _named(source: str, named: tuple | None) -> tuple | None:
    """(number, title, part, part's title) after a markdown cell; ``named`` before it."""
    found = _TITLE.search(source)
    if found:
        named = (found.group(1), found.group(2).rstrip(".").strip(), None, "")
        source = source[found.end():]
    part = _PART.search(source)
    if part and named:
        named = (named[0], named[1], part.group(1) or part.group(3), (part.group(2) or "").rstrip(".").strip())
    return named


def exercises_of(nb) -> tuple[list[tuple[int, str]], list[Exercise]]:
    """The set-up cells and the exercises (with their checks) of notebook ``nb``, from the cell tags,
    each named as the chapter names it ("2. Inverted dropout", "3(b). PCA lighting")."""
    setup, exercises, named, fresh, n = [], [], None, False, 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            before, named = named, _named(_source(cell), named)
            fresh = fresh or named != before
            continue
        if cell.cell_type != "code":
            continue
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "setup" in tags:
            setup.append((i, _source(cell)))
        if "exercise" in tags:
            if not exercises or exercises[-1].checks:   # a new exercise starts
                n += 1
                if fresh and named:
                    number, title, part, subtitle = named
                    label = f"{number}({part})" if part else number
                    exercises.append(Exercise(f"{label}. {subtitle or title}", number=number + (part or "")))
                else:
                    exercises.append(Exercise(f"{n}. exercise", number=str(n)))
                fresh = False
            exercises[-1].cells.append((i, _source(cell)))
        if "check" in tags:
            if not exercises:
                raise ValueError(f"cell {i} is tagged 'check' but no cell tagged 'exercise' comes before it")
            exercises[-1].checks.append((i, _source(cell)))
    return setup, exercises


def _run(cells: list[tuple[int, str]], ns: dict, name: str) -> None:
    for i, source in cells:
        filename = f"<{name} cell {i}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)   # for tracebacks
        code = compile(source, filename, "exec")
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
    def out(status: str, message: str = "") -> Outcome:
        return Outcome(ex.title, status, message, ex.number)

    try:
        _run(ex.cells, ns, name)
    except NotImplementedError:
        return out("not written yet")
    except Exception as e:  # noqa: BLE001 - any error in the learner's cell is reported, not raised
        return out("error", f"your exercise cell raised {_describe(e)}")
    try:
        _run(ex.checks, ns, name)
    except AssertionError as e:
        if "not written yet" in str(e) or isinstance(e.__cause__, NotImplementedError):
            return out("not written yet")
        return out("wrong", _describe(e))
    except NotImplementedError:
        return out("not written yet")
    except Exception as e:  # noqa: BLE001
        return out("error", f"the check raised {_describe(e)}")
    return out("solved")


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
        return [Outcome(ex.title, "error", message, ex.number) for ex in exercises]
    outcomes = [_outcome(ex, ns, path.name) for ex in exercises]
    if progress.is_learner_copy(path, nb):
        progress.record(path.parent, nb.metadata["d2lnets"].get("chapter") or path.stem,
                        [(o.number, o.title) for o in outcomes if o.solved])
    return outcomes


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
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--hint"]:
        return hint_main(argv[1:])
    if argv[:1] == ["--progress"]:
        return progress_main(argv[1:])
    parser = argparse.ArgumentParser(prog="d2lnets check", description=__doc__.splitlines()[0],
                                     epilog="d2lnets hint CHAPTER EXERCISE [N]: a hint; "
                                            "d2lnets progress [FOLDER]: what you solved")
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
        if results:
            print(f"{path.stem}  {sum(o.solved for o in results)} of {len(results)} solved in this chapter")
        outcomes += results
    solved = sum(o.solved for o in outcomes)
    broken = f"; {unreadable} notebook{'s' if unreadable > 1 else ''} could not be checked (see above)" \
        if unreadable else ""
    print(f"{solved} of {len(outcomes)} exercises solved{broken} ({time.perf_counter() - start:.1f} s)")
    return 0 if outcomes and solved == len(outcomes) and not unreadable else 1


def hint_main(argv: list[str] | None = None) -> int:
    """``d2lnets hint CHAPTER EXERCISE [N]`` (``make hint NB=02 EX=1 [N=2]``)."""
    parser = argparse.ArgumentParser(prog="d2lnets hint",
                                     description="Print a hint for an exercise, e.g. --hint 02 1, or --hint 02 3b 2.")
    parser.add_argument("chapter", help="the chapter: 02 or 02_alexnet")
    parser.add_argument("exercise", help="the exercise's number as `make check` names it: 1, or 3b for a part")
    parser.add_argument("n", nargs="?", type=int, default=1, help="which hint (default: the first)")
    args = parser.parse_args(argv)
    try:
        e = hints.find(args.chapter, args.exercise)
        print(hints.format_hint(e, args.n))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.n < len(e.hints):
        print(f"(the next one: make hint NB={e.chapter[:2]} EX={e.number} N={args.n + 1})")
    return 0


def progress_main(argv: list[str] | None = None) -> int:
    """``d2lnets progress [FOLDER]`` (``make progress``): what is solved, and since when."""
    parser = argparse.ArgumentParser(prog="d2lnets progress",
                                     description="Show when you first solved each exercise (make check records it).")
    parser.add_argument("folder", nargs="?", help="your copies (default: exercises/)")
    folder = Path(parser.parse_args(argv).folder or default_folder())
    if not folder.is_dir() or not chapter_notebooks(folder):
        hint = " Run `make exercises` to write your copies." if folder.name == "exercises" else ""
        print(f"error: {folder} holds no chapters to show progress for.{hint}", file=sys.stderr)
        return 2
    record, total, solved = progress.load(folder), 0, 0
    print(f"Your progress ({folder / progress.RECORD}):" if record else
          f"Nothing solved yet: `make check` records in {folder / progress.RECORD} when you first solve each exercise.")
    for path in chapter_notebooks(folder):
        try:
            nb = read_notebook(path)
        except UnreadableNotebook as e:  # said, and the other chapters shown
            print(e)
            continue
        mine = record.get(nb.metadata.get("d2lnets", {}).get("chapter") or path.stem, {})
        exercises = exercises_of(nb)[1]
        done = [ex for ex in exercises if ex.number in mine]
        total, solved = total + len(exercises), solved + len(done)
        print(f"{path.stem}  {len(done)} of {len(exercises)} solved")
        for ex in exercises:
            when = mine.get(ex.number, {}).get("first_solved", "").replace("T", " ")
            print(f"  {ex.title:<52} {'first solved ' + when if when else 'not yet'}")
    print(f"{solved} of {total} exercises solved so far; `make check` checks them again and records what you solve.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
