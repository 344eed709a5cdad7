"""Colab's route, tried here (`make test-release`): each chapter's first cell, then its set-up cells,
in a kernel that has what a fresh Colab runtime has, with the release served from a local folder.

    .venv313/bin/python .ci/colab_route.py --dist dist --wheels .cache/wheels

Run with the Python 3.13 environment of the course (Colab's Python is 3.13), which is the base:

1. A fresh virtual environment of the same Python that sees only what Colab has preinstalled and
   the course uses (:data:`PREINSTALLED` and what they need), linked from the base's site-packages:
   torch is not downloaded or copied again.
2. A stand-in ``google.colab`` module that the kernel imports when it starts (an IPython startup
   file), as Colab's kernel does.
3. pip with no index and no configuration file: it finds only the wheel ``make dist`` built
   (``dist/``) and the book's package (``--wheels``, downloaded there once).

Before the real run, two runs that must not install anything: the first cell off Colab (it does
nothing) and on Colab with no release to be found (it fails, and shows pip's reason). Then, per
chapter in a new kernel, the first cell and the set-up cells; d2lnets must come from the wheel at
the release the cell names, torch must be the one that was there.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib import metadata
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from d2lnets import __version__
from d2lnets.tools.colab import BOOK, RELEASE, is_first_cell
from d2lnets.tools.exercises import chapter_notebooks

ROOT = Path(__file__).resolve().parent.parent
# What a Colab runtime has installed that the course uses (the rest of d2lnets' needs come with them).
PREINSTALLED = ("torch", "torchvision", "numpy", "matplotlib", "pandas", "scipy", "requests", "ipykernel")
KERNEL = "colab-stand-in"
PROBE = """import importlib.metadata as m, json, sys
import d2lnets, torch
print("PROBE " + json.dumps({"d2lnets": d2lnets.__version__, "d2lnets_file": d2lnets.__file__,
      "torch": m.version("torch"), "torch_file": torch.__file__, "d2l": m.version("d2l"),
      "colab": "google.colab" in sys.modules, "python": "%d.%d" % sys.version_info[:2]}))"""
OFF_COLAB_PROBE = """import importlib.util, sys
print("PROBE", "google.colab" in sys.modules, importlib.util.find_spec("d2lnets") is not None)"""


def needed(names) -> dict[str, metadata.Distribution]:
    """The distributions ``names`` and everything they require (with the extras asked for), as
    installed here."""
    found, asked, todo = {}, set(), [(name, frozenset()) for name in names]
    while todo:
        name, extras = todo.pop()
        name = canonicalize_name(name)
        if (name, extras) in asked:
            continue
        asked.add((name, extras))
        found[name] = dist = metadata.distribution(name)
        for requirement in map(Requirement, dist.requires or []):
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in ("", *extras)):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return found


def link_preinstalled(target: Path) -> list[str]:
    """Link the top-level files and folders of :data:`PREINSTALLED` and what they need into ``target``."""
    target.mkdir(parents=True)
    dists = needed(PREINSTALLED)
    for dist in dists.values():
        entries = {Path(f).parts[0] for f in dist.files or []}   # its packages, modules and .dist-info
        for entry in entries - {"..", "__pycache__"}:
            source = Path(dist.locate_file(entry))
            if source.exists() and not (target / entry).exists():
                (target / entry).symlink_to(source)
    return sorted(dists)


def fresh_environment(folder: Path) -> tuple[Path, Path]:
    """A new virtual environment of this Python that also sees the preinstalled packages, with a
    stand-in google.colab; returns its python and the IPython folder whose startup imports it."""
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(folder / "venv"), "platbase": str(folder / "venv")}))
    (site / "colab_preinstalled.pth").write_text(f"{folder / 'preinstalled'}\n")
    (site / "google" / "colab").mkdir(parents=True)
    stand_in = site / "google" / "colab" / "__init__.py"
    stand_in.write_text('"""A stand-in for Colab\'s module (make test-release)."""\n')
    startup = folder / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab  # as Colab's kernel does when it starts\n")
    return folder / "venv" / "bin" / "python", folder / "ipython"


def kernelspec(folder: Path, name: str, python: Path, env: dict) -> str:
    spec = folder / "jupyter" / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}", "--log-level=ERROR"],
        "display_name": name, "language": "python", "env": env}))
    return name


def run_cells(sources: list[str], kernel: str, cwd: Path, allow_errors: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    NotebookClient(nb, kernel_name=kernel, timeout=900, allow_errors=allow_errors, record_timing=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def text_of(cell) -> str:
    """What a cell printed, and its traceback, without terminal colours."""
    text = "".join(o.get("text", "") + "\n".join(o.get("traceback", [])) for o in cell.outputs)
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def seconds(cell) -> float:
    from datetime import datetime

    timing = cell.metadata.execution
    start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def probe(cell) -> dict:
    line = next(line for line in text_of(cell).splitlines() if line.startswith("PROBE "))
    return json.loads(line.removeprefix("PROBE "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="the folder with the wheel (make dist)")
    parser.add_argument("--wheels", type=Path, default=ROOT / ".cache" / "wheels",
                        help=f"where {BOOK} is kept (downloaded there once)")
    parser.add_argument("--chapters", type=Path, default=ROOT / "chapters")
    args = parser.parse_args(argv)
    wheel = args.dist / f"d2lnets-{__version__}-py3-none-any.whl"
    if not wheel.is_file():
        sys.exit(f"no {wheel}: build the release first (make dist)")
    if sys.version_info[:2] != (3, 13):
        print(f"note: Colab runs Python 3.13, and this is {sys.version.split()[0]}", flush=True)
    book = Requirement(BOOK)
    book_version = next(iter(book.specifier)).version
    if not list(args.wheels.glob(f"{book.name}-{book_version}-*.whl")):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(args.wheels), BOOK],
                       check=True)
    chapters = chapter_notebooks(args.chapters)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="colab-route-") as tmp:
        tmp = Path(tmp)
        linked = link_preinstalled(tmp / "preinstalled")
        python, ipython = fresh_environment(tmp)
        print(f"a fresh Python {sys.version.split()[0]} environment with {len(linked)} preinstalled packages "
              f"({', '.join(PREINSTALLED)} and what they need)", flush=True)
        pip_env = {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                   "PIP_FIND_LINKS": f"{args.dist.resolve()} {args.wheels.resolve()}", "PYTHONNOUSERSITE": "1",
                   "PYTHONPATH": "", "MPLBACKEND": "Agg"}
        os.environ["JUPYTER_PATH"] = str(tmp / "jupyter")
        colab = kernelspec(tmp, KERNEL, python, {**pip_env, "IPYTHONDIR": str(ipython)})
        plain = kernelspec(tmp, "plain", python, {**pip_env, "IPYTHONDIR": str(tmp / "ipython-plain")})
        no_release = kernelspec(tmp, "no-release", python, {**pip_env, "IPYTHONDIR": str(ipython),
                                                             "PIP_FIND_LINKS": str(args.wheels.resolve())})
        first = next(c for c in nbformat.read(chapters[0], as_version=4).cells if c.cell_type == "code")

        off = run_cells([first.source, OFF_COLAB_PROBE], plain, tmp)
        assert text_of(off.cells[0]) == "", f"off Colab the first cell printed:\n{text_of(off.cells[0])}"
        assert "PROBE False False" in text_of(off.cells[1]), text_of(off.cells[1])
        print("off Colab: the first cell does nothing", flush=True)

        failed = run_cells([first.source], no_release, tmp, allow_errors=True)
        said = text_of(failed.cells[0])
        assert f"No matching distribution found for {RELEASE}" in said and "RuntimeError" in said, said
        print(f"no release to install: the first cell fails and shows pip's reason "
              f"({next(line for line in said.splitlines() if 'No matching distribution' in line).strip()})", flush=True)

        rows = []
        for chapter in chapters:
            nb = nbformat.read(chapter, as_version=4)
            code = [c for c in nb.cells if c.cell_type == "code"]
            assert is_first_cell(code[0]), f"{chapter.name}: the first code cell is not Colab's"
            setup = [c.source for c in code if "setup" in c.metadata.get("tags", [])]
            assert setup, f"{chapter.name}: no cell tagged setup"
            ran = run_cells([code[0].source, *setup, PROBE], colab, tmp)
            found = probe(ran.cells[-1])
            assert found["colab"] and found["d2lnets"] == __version__, found
            assert found["d2lnets_file"].startswith(str(tmp / "venv")), f"d2lnets not from the wheel: {found}"
            assert found["torch_file"].startswith(str(tmp / "preinstalled")), f"torch was replaced: {found}"
            assert found["torch"] == metadata.version("torch") and found["d2l"] == book_version, found
            if not rows:
                print(f"{chapter.stem}'s first cell, on Colab: {text_of(ran.cells[0]).strip()}", flush=True)
            rows.append((chapter.stem, seconds(ran.cells[0]), sum(seconds(c) for c in ran.cells[1:-1]), found))
    print(f"\nPython {rows[0][3]['python']}, torch {rows[0][3]['torch']}, d2lnets {__version__} from {wheel.name}:")
    print(f"{'chapter':<20} {'first cell':>10} {'set-up':>8}")
    for name, first_s, setup_s, _ in rows:
        print(f"{name:<20} {first_s:>9.1f}s {setup_s:>7.1f}s")
    print(f"Colab's route: {len(rows)} chapters in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
