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

The closing chapter loads the models the chapters before it saved (:func:`closing_chapters`). When
one of those is re-run alone after it, the closing chapter compared other models than the ones
RESULTS.md now lists: RESULTS.md says it is **stale** (:func:`stale_chapters`) until it is re-run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from ..core.paths import repo_root
from ..train.records import RESULTS_FILE, describe_report

__all__ = ["NEEDS_DATA", "closing_chapters", "missing_data", "run_notebook", "scrub", "stale_chapters",
           "write_results"]

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
    """Execute ``path`` in place in ``profile``; return the wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    os.environ["D2LNETS_PROFILE"] = profile
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    _scrub_outputs(nb)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return seconds


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
    path.write_text("\n".join(lines) + "\n")


def _kind(record: dict) -> str | None:
    """A record's kind (:mod:`d2lnets.train.records`); records from before the schema had none."""
    return record.get("kind") or ("result" if "model" in record else None)


def _load_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _write_records(path: Path, records: list[dict]) -> None:
    """Replace ``path`` in one step, so an interruption leaves the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="d2lnets results", description="Execute chapters in place in a run profile.")
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--profile", default="cpu", choices=["smoke", "cpu", "full"])
    parser.add_argument("--results", type=Path, default=None, help="write a RESULTS.md table here")
    args = parser.parse_args(argv)
    root = repo_root()
    notebooks = args.notebooks or sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb"))
    # Records accumulate across invocations, one chapter's replacing its earlier ones, so chapters
    # can be re-run one at a time and RESULTS.md still covers them all. A run records into a file of
    # its own; only when it succeeds do its records replace the chapter's earlier ones.
    records = root / RESULTS_FILE
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
        finally:
            fresh.unlink(missing_ok=True)
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


if __name__ == "__main__":
    main()
