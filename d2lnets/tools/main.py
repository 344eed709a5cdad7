"""The ``d2lnets`` command: every tool of the course behind one name.

    d2lnets setup                  Fashion-MNIST and JupyterLab's course settings
    d2lnets exercises              your copies of the chapters in exercises/ (never overwritten)
    d2lnets lab                    set-up, your copies, then JupyterLab on them
    d2lnets check [PATHS]          check your exercises in seconds
    d2lnets reset 02               start a chapter's exercises again (your copy is backed up first)
    d2lnets hint 02 1 [N]          the next hint for exercise 1 of chapter 02 (or hint N)
    d2lnets progress               when each exercise was first solved
    d2lnets train RECIPE [...]     train a chapter's recipe from the command line
    d2lnets results [CHAPTERS]     re-run the chapters in the cpu profile and write RESULTS.md
    d2lnets bench [...]            training and data-loading speed against the book's code

The Makefile's targets and the README's Windows lines call this command, so every route runs the
same code. ``python -m d2lnets`` is the same command; ``python -m d2lnets.<tool>`` still works in
this release.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..core.paths import checkout, repo_root

__all__ = ["COMMANDS", "main"]


def _setup(args: list[str]) -> int:
    from .setup import main as setup_main

    return setup_main(args)


def _exercises(args: list[str]) -> int:
    from .exercises import main as exercises_main

    return exercises_main(args)


def _lab(args: list[str]) -> int:
    """Set-up, the learner's copies, then JupyterLab on exercises/ (options after ``lab`` go to JupyterLab)."""
    code = _setup([]) or _exercises([])
    if code:
        return code
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or shutil.which("jupyter")
    if jupyter is None:
        print("error: JupyterLab is not installed in this environment: pip install 'd2lnets[course]'", file=sys.stderr)
        return 2
    root = Path.cwd()
    command = [jupyter, "lab", f"--ServerApp.root_dir={root}", "--LabApp.default_url=/lab/tree/exercises", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in args:
        command.append("--allow-root")  # JupyterLab refuses to start as root (containers, CI) unless told it may
    return subprocess.call(command)


def _check(args: list[str]) -> int:
    from .check import main as check_main

    return check_main(args)


def _reset(args: list[str]) -> int:
    if len(args) != 1:
        print("say which chapter: d2lnets reset 02 (or its file name, 02_alexnet.ipynb)", file=sys.stderr)
        return 2
    return _exercises(["--reset", *args])


def _hint(args: list[str]) -> int:
    from .check import hint_main

    return hint_main(args)


def _progress(args: list[str]) -> int:
    from .check import progress_main

    return progress_main(args)


def _train(args: list[str]) -> int:
    from .train_cli import train_main

    return train_main(args)


def _results(args: list[str]) -> int:
    from .notebooks import main as notebooks_main

    return notebooks_main(["--profile", "cpu", "--results", str(repo_root() / "RESULTS.md"), *args]) or 0


def _bench(args: list[str]) -> int:
    root = checkout()
    if root is None or not (root / "benchmarks" / "run.py").is_file():
        print("error: the benchmarks live in the course's repository (benchmarks/run.py): run this command "
              "from a checkout of it", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(root / "benchmarks" / "run.py"), *args], cwd=root)


COMMANDS = {
    "setup": (_setup, "Fashion-MNIST and JupyterLab's course settings"),
    "exercises": (_exercises, "write your copies of the chapters to exercises/ (never overwrites one)"),
    "lab": (_lab, "set up, write your copies, open JupyterLab on them"),
    "check": (_check, "check your exercises in seconds: d2lnets check [NOTEBOOK_OR_FOLDER ...]"),
    "reset": (_reset, "start a chapter's exercises again, your copy backed up first: d2lnets reset 02"),
    "hint": (_hint, "a hint for an exercise: d2lnets hint 02 1 [N]"),
    "progress": (_progress, "when each exercise was first solved"),
    "train": (_train, "train a chapter's recipe: d2lnets train 02_alexnet --epochs 3 (see --help)"),
    "results": (_results, "re-run the chapters in the cpu profile and write RESULTS.md"),
    "bench": (_bench, "training and data-loading speed against the book's code (from a checkout)"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name.ljust(width)}  {text}" for name, (_, text) in COMMANDS.items()]
    return "usage: d2lnets COMMAND [ARGS ...]\n\ncommands:\n" + "\n".join(lines) + \
           "\n\n`d2lnets COMMAND --help` says more about each."


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        from .. import __version__

        print(f"d2lnets {__version__}")
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"error: d2lnets has no command {args[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        return command[0](args[1:]) or 0
    except KeyboardInterrupt:
        print(f"\nd2lnets {args[0]}: interrupted; files already written are kept whole", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
