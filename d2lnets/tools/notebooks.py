"""Run chapters top to bottom and keep their outputs: ``d2lnets results`` (``make results``).

``make results`` uses it to refresh the committed notebooks from a real ``cpu``-profile run and to
write ``RESULTS.md`` from the records the chapters wrote (:mod:`d2lnets.train.records`: their main
results and reported values, through ``$D2LNETS_RESULTS``). Outputs are scrubbed of
machine-specific paths, and no per-cell timestamps are stored, so re-running a chapter changes only
what really changed.

A chapter whose data cannot be had on every machine (the appendix's CIFAR-10 and Flowers-102:
:data:`NEEDS_DATA`) is skipped, with a printed note, when its data is absent in the profile asked
for: it keeps its committed outputs (those of its labelled ``smoke`` run on a generated stand-in)
and RESULTS.md says it was skipped and why. "Absent" is decided by the loaders' own search
(:func:`d2lnets.data.locate`: ``$D2LNETS_DATA``, the repository's ``data/``, the system folders),
without downloading.

RESULTS.md may end with a ``## GPU`` section, written by the GPU check (``make gpu-check``,
:func:`write_gpu_section`): ``make results`` keeps it as it is. The GPU check runs chapters
without Jupyter (``--plain``: :func:`run_cells`, each chapter's code cells in one process, no
outputs kept), as a machine lent for it has none.

The closing chapter loads the models the chapters before it saved (:func:`closing_chapters`). When
one of those is re-run alone after it, the closing chapter compared other models than the ones
RESULTS.md now lists: RESULTS.md says it is **stale** (:func:`stale_chapters`) until it is re-run.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path

from ..core.paths import PACKAGED_CHAPTERS, atomic_write_text, chapters_dir, repo_root
from ..train.records import RESULTS_FILE, describe_report
from .exercises import UnreadableNotebook, read_notebook
from .interrupt import Interrupted, noting_sigint, one_line

__all__ = ["GPU_SECTION", "NEEDS_DATA", "closing_chapters", "gpu_section", "missing_data", "run_cells", "run_notebook",
           "scrub", "stale_chapters", "write_gpu_section", "write_results"]

GPU_SECTION = "## GPU"  # RESULTS.md's last section, the GPU check's: make results keeps it

# The datasets (names of d2lnets.data's specs) a chapter needs in each profile, where the course
# cannot count on having them (Fashion-MNIST, which set-up provides, is not listed).
NEEDS_DATA: dict[str, dict[str, tuple[str, ...]]] = {
    "07_alexnet_colour": {"cpu": ("CIFAR10",), "full": ("CIFAR10", "FLOWERS102")},
}


def closing_chapters() -> dict[str, tuple[str, ...]]:
    """The chapters that load other chapters' saved models, each with those chapters (from its
    recipe: the closing chapter's networks name their chapters' recipes)."""
    from ..course.recipes import RECIPES

    networks = RECIPES["06_comparison"]["options"]["networks"]
    return {"06_comparison": tuple(spec["recipe"] for spec in networks.values())}


def stale_chapters(records: list[dict]) -> dict[str, list[str]]:
    """``{closing chapter: [chapters re-run after it]}`` from the records in the order ``make
    results`` keeps them (a chapter's records move to the end each time it runs): a closing chapter
    that ran before one of the chapters it loads was run again compared other models."""
    last = {r.get("chapter"): i for i, r in enumerate(records)}
    return {chapter: [c for c in uses if last.get(c, -1) > last[chapter]]
            for chapter, uses in closing_chapters().items()
            if chapter in last and any(last.get(c, -1) > last[chapter] for c in uses)}


def scrub(text: str) -> str:
    """Replace paths that name this machine (the checkout, the environment, the home folder)."""
    for path, name in ((sys.prefix, "<venv>"), (str(repo_root()), "<repo>"), (str(Path.home()), "~")):
        text = text.replace(path, name)
    return text


def _scrub_outputs(nb) -> None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = scrub(out["text"])
            for key in ("text/plain", "text/html"):
                if key in out.get("data", {}):
                    value = out["data"][key]
                    out["data"][key] = scrub(value if isinstance(value, str) else "".join(value))
            if "traceback" in out:
                out["traceback"] = [scrub(line) for line in out["traceback"]]


def missing_data(chapter: str, profile: str) -> str | None:
    """Why ``chapter`` cannot run in ``profile`` on this machine -- which dataset was not found and
    where the loaders looked -- or None when it has what it needs (or needs nothing listed)."""
    from .. import data

    for name in NEEDS_DATA.get(chapter, {}).get(profile, ()):
        spec = getattr(data, name)
        try:
            data.locate(spec, download=False)
        except data.DataNotFoundError as e:
            searched = ", ".join(scrub(str(d)) for d in data.data_dirs(None, spec))
            print(scrub(str(e)), flush=True)  # the loader's own message, every remedy in it
            return (f"{spec.name} ({', '.join(spec.files.values())}) was not found in {searched}; "
                    "the notebook keeps its committed outputs (its smoke run on a generated stand-in)")
    return None


def run_notebook(path: Path, profile: str, timeout: int = 1800) -> float:
    """Execute ``path`` in ``profile`` and replace it with the executed notebook in one step
    (:func:`~d2lnets.core.paths.atomic_write_text`: a failure, Ctrl-C or a full disk leaves it as
    it was); return the wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = read_notebook(path, hint=False)  # (UnreadableNotebook says what is wrong with it)
    os.environ["D2LNETS_PROFILE"] = profile
    interrupted = Interrupted(f"interrupted while running {path}: the notebook was left as it was")
    # Ctrl-C is taken by us, not by nbclient's handler (which shuts the kernel down and then fails in
    # its own clean-up): noted while the kernel starts (interrupting a kernel that starts makes it
    # print a traceback), then, once it runs, the kernel is shut down, so the cell running stops.

    def on_sigint(act) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows; not the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, act)

    def note() -> None:
        noted.interrupted = True

    def stop() -> None:
        noted.interrupted = True
        asyncio.ensure_future(client.km.shutdown_kernel(now=True))

    def started(**_) -> None:
        on_sigint(stop)
        if noted.interrupted:
            stop()

    class Client(NotebookClient):
        async def async_start_new_kernel(self, **kwargs) -> None:
            on_sigint(note)
            await super().async_start_new_kernel(**kwargs)

    client = Client(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                    resources={"metadata": {"path": str(path.parent)}}, on_notebook_start=started)
    start = time.perf_counter()
    with noting_sigint() as noted:  # (before and after nbclient's loop, which takes the signal)
        try:
            client.execute()
        except BaseException:
            if noted.interrupted:  # the kernel was shut down: DeadKernelError
                raise interrupted from None
            raise
        if noted.interrupted:
            raise interrupted
    seconds = time.perf_counter() - start
    _scrub_outputs(nb)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    text = nbformat.writes(nb)
    atomic_write_text(path, text if text.endswith("\n") else text + "\n")
    return seconds


def run_cells(path: Path, profile: str) -> float:
    """Execute ``path``'s code cells in order, in one namespace in this process, without Jupyter and
    keeping no outputs (they print as they run; figures go to matplotlib's Agg backend), in the
    notebook's folder as Jupyter runs it, in ``profile``. A cell that fails raises, its traceback
    naming the notebook and the cell. Returns the wall time in seconds."""
    os.environ["D2LNETS_PROFILE"] = profile
    os.environ.setdefault("MPLBACKEND", "Agg")
    cells = [c["source"] for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    namespace: dict = {"__name__": "__main__"}
    here = os.getcwd()
    os.chdir(path.parent)
    start = time.perf_counter()
    try:
        for i, source in enumerate(cells, 1):
            exec(compile(source if isinstance(source, str) else "".join(source), f"{path.name}, cell {i}", "exec"),
                 namespace)
    finally:
        os.chdir(here)
    return time.perf_counter() - start


def _machine() -> str:
    cores = os.cpu_count()
    return f"{platform.processor() or platform.machine()}, {cores} cores, Python {platform.python_version()}"


def write_results(rows: list[dict], wall: dict[str, float], profile: str, path: Path,
                  reports: list[dict] = (), skipped: list[dict] = (), stale: dict[str, list[str]] | None = None
                  ) -> None:
    """RESULTS.md: one line per chapter's main result, as the committed notebooks show it (and one
    with its wall time for the closing chapter, which has no main run of its own), then the values
    the chapters reported (``reports``: report records, :mod:`d2lnets.records`), then the chapters
    skipped for want of data (``skipped``: records with ``chapter`` and ``reason``). ``stale``:
    closing chapters that ran before chapters they load were re-run (:func:`stale_chapters`), said
    under the table."""
    lines = [
        "# Results",
        "",
        f"Written by `make results`: every chapter run top to bottom in the `{profile}` profile on "
        f"{_machine()}. The committed notebooks carry the outputs of this run.",
        "",
        "| chapter | model | input | epochs | test acc | training time | chapter wall time | examples/s | settings |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['chapter']} | {r['model']} | {r['input_size']} px | {r['epochs']} | {r['test_acc']:.3f} | "
                     f"{r['train_seconds']:.0f} s | {wall.get(r['chapter'], float('nan')):.0f} s | "
                     f"{r['examples_per_sec']:.0f} | {r['settings']} on {r['device']} |")
    for chapter in [c for c in closing_chapters() if c in wall and c not in {r["chapter"] for r in rows}]:
        lines.append(f"| {chapter} | (no main run: it compares the chapters' networks) | | | | | "
                     f"{wall[chapter]:.0f} s | | |")
    for chapter, rerun in (stale or {}).items():
        lines += ["", f"**{chapter} is stale**: {', '.join(rerun)} ran again after it, so it compared other models "
                      f"than the ones above. Re-run it: `d2lnets results chapters/{chapter}.ipynb` (or `make "
                      "results`, which runs every chapter in order)."]
    notes = [f"- {r['chapter']}: {r['note']}" for r in rows if r.get("note")]
    if notes:
        lines += ["", "Notes:", "", *notes]
    if reports:
        lines += ["", "What the chapters' experiments report (`d2l.report`):", "",
                  *(f"- {r['chapter']}: `{describe_report(r)}`" + (f": {r['verdict']}" if r.get("verdict") else "")
                    for r in reports)]
    if skipped:
        lines += ["", f"Skipped in the `{profile}` profile, for want of their data on this machine:", "",
                  *(f"- {r['chapter']}: skipped: {r['reason']}" for r in skipped)]
    gpu = gpu_section(path)
    atomic_write_text(path, "\n".join(lines) + "\n" + (f"\n{gpu}" if gpu else ""))


def gpu_section(path: Path) -> str:
    """RESULTS.md's ``## GPU`` section (to its end), or "" when it has none."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    at = text.find(f"\n{GPU_SECTION}\n")
    return text[at + 1:] if at >= 0 else ""


def write_gpu_section(path: Path, section: str) -> None:
    """Put ``section`` (starting with ``## GPU``) at the end of RESULTS.md, in place of the one there."""
    if not section.startswith(GPU_SECTION + "\n"):
        raise ValueError(f"a GPU section starts with the line {GPU_SECTION!r}")
    text = path.read_text(encoding="utf-8") if path.exists() else "# Results\n"
    old = gpu_section(path)
    text = (text[:-len(old)] if old else text).rstrip("\n") + "\n\n"
    atomic_write_text(path, text + section.rstrip("\n") + "\n")


def _kind(record: dict) -> str | None:
    """A record's kind (:mod:`d2lnets.train.records`); records from before the schema had none."""
    return record.get("kind") or ("result" if "model" in record else None)


def _load_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _write_records(path: Path, records: list[dict]) -> None:
    """Replace ``path`` in one step, so an interruption leaves the old file or the new one."""
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))


@one_line("d2lnets results")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="d2lnets results", description="Execute chapters in place in a run profile.")
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "full"])
    parser.add_argument("--results", type=Path, default=None, help="write a RESULTS.md table here")
    parser.add_argument("--plain", action="store_true",
                        help="run the code cells in this process without Jupyter, keeping no outputs (records go "
                        "to $D2LNETS_RESULTS as the chapters write them): the GPU check's way")
    args = parser.parse_args(argv)
    root = repo_root()
    notebooks = args.notebooks
    if not notebooks:
        folder = chapters_dir()
        if folder.resolve() == PACKAGED_CHAPTERS.resolve():
            parser.error("it re-runs a checkout's chapters in place: run it in a checkout of the course")
        notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if args.plain:
        for path in notebooks:
            seconds = run_cells(path, args.profile)
            print(f"{path.name}: {seconds:.0f} s in the {args.profile} profile (code cells, without Jupyter)",
                  flush=True)
        return 0
    # Records accumulate across invocations, one chapter's replacing its earlier ones, so chapters
    # can be re-run one at a time and RESULTS.md still covers them all. A run records into a file of
    # its own; only when it succeeds do its records replace the chapter's earlier ones.
    records, done = root / RESULTS_FILE, []
    for path in notebooks:
        why = missing_data(path.stem, args.profile)
        if why is not None:  # its data is absent: keep the committed outputs, say so in RESULTS.md
            skipped = {"chapter": path.stem, "kind": "skipped", "profile": args.profile, "reason": why}
            _write_records(records, [r for r in _load_records(records) if r["chapter"] != path.stem] + [skipped])
            print(f"{path.name}: skipped in the {args.profile} profile: {why}", flush=True)
            continue
        fresh = records.with_name(f".results.{path.stem}.running.jsonl")
        fresh.unlink(missing_ok=True)
        os.environ["D2LNETS_RESULTS"] = str(fresh)
        try:
            seconds = run_notebook(path, args.profile)  # a failure raises here: earlier records stay
            new = [{**r, "chapter": r.get("chapter") or path.stem} for r in _load_records(fresh)]  # reports
            new += [{"chapter": path.stem, "wall_seconds": round(seconds, 1)}]
        except UnreadableNotebook as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            kept = f"; {args.results.name} keeps its last version" if args.results else ""
            before = f" (done before it, and saved: {', '.join(done)})" if done else ""
            raise Interrupted(f"interrupted while running {path}: the notebook was left as it was{kept}{before}") \
                from None
        finally:
            fresh.unlink(missing_ok=True)
        done.append(path.stem)
        _write_records(records, [r for r in _load_records(records) if r["chapter"] != path.stem] + new)
        print(f"{path.name}: {seconds:.0f} s in the {args.profile} profile on {_machine()}", flush=True)
    if args.results:
        all_records = _load_records(records)
        wall = {r["chapter"]: r["wall_seconds"] for r in all_records if "wall_seconds" in r}
        rows, reports, skipped = ([r for r in all_records if _kind(r) == kind and r.get("profile") == args.profile]
                                  for kind in ("result", "report", "skipped"))
        rows.sort(key=lambda r: r["chapter"])
        reports.sort(key=lambda r: r["chapter"])  # (stable: in the order each chapter reported them)
        write_results(rows, wall, args.profile, args.results, reports, skipped, stale_chapters(all_records))
        print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
