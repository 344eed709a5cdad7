"""Records of runs: one schema, written in one place.

Three kinds of record share one schema, :data:`FIELDS`; each kind holds the fields that apply to
it (:data:`KIND_FIELDS`, in that order; one that it holds but was not given is None):

- ``"run"``: every :func:`~d2lnets.train_ch5` run, from its :class:`~d2lnets.History`
  (:func:`log_run`); appended to ``$D2LNETS_RUN_LOG`` when set (CI's GPU job checks that every
  run's ``device`` is CUDA).
- ``"result"``: a chapter's main result, a run with the chapter, model and input size added
  (:func:`record_result`, ``d2l.record_result``); appended to ``$D2LNETS_RESULTS`` when set,
  which ``make results`` (:mod:`d2lnets.notebooks`) turns into RESULTS.md.
- ``"report"``: one measured value of an experiment, ``name = value`` with its spread over seeds
  (:func:`report`, ``d2l.report``); printed as ``result: NAME = VALUE`` and appended to
  ``$D2LNETS_RESULTS`` as well.

Every record is also kept in this process: :data:`RUNS` (the runs), :data:`REPORTS` (the reports
by name).

``make results`` keeps every chapter's records in one file at the repository's root,
:data:`RESULTS_FILE` (git-ignored); :func:`recorded_result` reads a chapter's main result back from
it (the closing chapter compares each saved model with it).
"""
from __future__ import annotations

import json
import math
import numbers
from collections.abc import Sequence
from pathlib import Path

from ..core import config
from ..core.paths import append_text, repo_root
from ..core.validate import instance_of, short
from .history import History
from .hooks import Hook

__all__ = ["FIELDS", "KINDS", "KIND_FIELDS", "NO_DIFFERENCE", "REPORTS", "RESULTS_FILE", "RUNS", "SCHEMA", "RecordRun",
           "describe_report", "log_run", "make_record", "record_result", "recorded_result", "report", "results_file",
           "run_fields", "verdict", "verdicts", "write"]

SCHEMA = 2  # 2: reports carry a verdict
KINDS = ("run", "result", "report")
_COMMON = ("schema", "kind")
_CHAPTER = ("chapter", "model", "input_size", "note")       # what a chapter's main result adds to a run
_WHERE = ("profile", "device", "settings")                  # where and how it ran
_RUN = ("epochs", "train_loss", "train_acc", "test_acc", "train_seconds", "examples_per_sec")  # final, rounded
_REPORT = ("name", "value", "unit", "spread", "values", "verdict", "what")  # spread: [min, max]; values: per seed
# A comparison's verdict (:func:`verdict`), as the chapters' prose may quote it: words[0]/words[1]
# "for every seed", or NO_DIFFERENCE.
NO_DIFFERENCE = "no consistent difference"
FIELDS = _COMMON + _CHAPTER + _WHERE + _RUN + _REPORT
KIND_FIELDS = {
    "run": _COMMON + _WHERE + _RUN,
    "result": _COMMON + _CHAPTER + _WHERE + _RUN,
    "report": _COMMON + ("chapter",) + _WHERE + _REPORT,    # chapter: set by make results (notebooks.py)
}

RUNS: list[dict] = []
REPORTS: dict[str, dict] = {}
RESULTS_FILE = ".results.jsonl"   # make results' records of every chapter, at the repository's root


def make_record(kind: str, **fields) -> dict:
    """A record of ``kind`` with its fields (:data:`KIND_FIELDS`), in order (None where not given)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = set(fields) - set(KIND_FIELDS[kind])
    if unknown:
        raise ValueError(f"a {kind} record has no field {sorted(unknown)[0]!r}; its fields are "
                         f"{', '.join(KIND_FIELDS[kind])}")
    fields.update(schema=SCHEMA, kind=kind)
    return {name: fields.get(name) for name in KIND_FIELDS[kind]}


def write(record: dict) -> dict:
    """Append ``record`` as one JSON line where its kind goes (run log or results), if that is set
    (all of the line or none of it: a full disk raises :class:`~d2lnets.core.paths.DiskFullError`)."""
    path = config.run_log_path() if record["kind"] == "run" else config.results_path()
    if path:
        append_text(path, json.dumps(record) + "\n")
    return record


def _profile_name() -> str | None:
    from ..core.config import profile

    try:
        return profile().name
    except ValueError:  # a bad $D2LNETS_PROFILE or $D2LNETS_DEVICE: said where they are used
        return config.env("D2LNETS_PROFILE") or None


def run_fields(history) -> dict:
    """The fields of a run's record, from its History."""
    final = history.final
    return {"profile": _profile_name(), "device": history.device, "settings": history.settings,
            "epochs": history.num_epochs, "train_loss": round(final["train_loss"], 4),
            "train_acc": round(final["train_acc"], 4), "test_acc": round(final["test_acc"], 4),
            "train_seconds": round(history.total_seconds, 1),
            "examples_per_sec": round(history.mean_examples_per_sec, 1)}


def log_run(history) -> dict:
    """Record a finished training run (``train_ch5`` calls this): kept in :data:`RUNS`, logged to
    ``$D2LNETS_RUN_LOG``."""
    record = make_record("run", **run_fields(history))
    RUNS.append(record)
    return write(record)


class RecordRun(Hook):
    """The hook that records a finished ``train_ch5`` run (:func:`log_run`), in the main process."""

    def on_fit_end(self, run) -> None:
        if run.main:
            log_run(run.history)


def record_result(chapter: str, model: str, input_size: int, history, note: str = "") -> dict:
    """Record a chapter's main result; ``make results`` collects these into RESULTS.md.

    Call it once per chapter, after training its main model. Returns the record; it is also
    appended to ``$D2LNETS_RESULTS`` (JSON lines) when that is set.
    """

    instance_of(history, History, "history", "the History that train_ch5 returned")
    record = make_record("result", chapter=chapter, model=model, input_size=input_size, note=note,
                         **run_fields(history))
    return write(record)


def results_file() -> Path:
    """The file where ``make results`` keeps every chapter's records (:data:`RESULTS_FILE` at the
    repository's root), one JSON record a line, the chapter run last at the end."""
    return repo_root() / RESULTS_FILE


def recorded_result(chapter: str, profile: str, path: str | Path | None = None) -> dict | None:
    """The main result ``chapter`` last recorded in ``profile`` (its ``record_result``), as
    ``make results`` keeps it in ``path`` (default: :func:`results_file`); None when there is none."""
    path = Path(path) if path is not None else results_file()
    if not path.is_file():
        return None
    found = None
    for line in path.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue   # a line cut short by an interruption: the others still count
        if (isinstance(r, dict) and r.get("chapter") == chapter and r.get("profile") == profile
                and (r.get("kind") or ("result" if "model" in r else None)) == "result"):
            found = r
    return found


def _number(x, what: str) -> float | int:
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", 0) == 0:  # a tensor or NumPy scalar
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a number, got {short(x)}")
    return int(x) if isinstance(x, numbers.Integral) else float(x)


def _fmt(x) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}" if abs(x) >= 10_000 else f"{x:.0f}"
    return f"{x:.3g}"


def describe_report(record: dict) -> str:
    """``NAME = VALUE UNIT (min ..., max ... over N seeds)``: a report record in words."""
    unit = record.get("unit") or ""
    sep = "" if unit[:1] in ("%", "×", "x", "") else " "
    text = f"{record['name']} = {_fmt(record['value'])}{sep}{unit}"
    if record.get("spread"):
        lo, hi = record["spread"]
        seeds = f" over {len(record['values'])} seeds" if record.get("values") else ""
        text += f" (min {_fmt(lo)}, max {_fmt(hi)}{seeds})"
    return text


def verdict(paired, words: tuple[str, str] = ("better", "worse"), ratio: bool = False) -> str:
    """The verdict of a comparison from its per-seed paired results: ``words[0] + " for every
    seed"`` or ``words[1] + " for every seed"`` only when every paired difference has the same sign
    and their mean lies more than two standard errors from zero; else ``"no consistent difference"``.

    ``paired``: for each seed, arm A's result minus arm B's, both trained with that seed (the seed
    fixes the initial weights and the order of the data, so the difference is the effect of what
    the arms change, the rest held equal); with ``ratio=True``, A's result divided by B's (compared
    on a log scale: a ratio above 1 is words[0]). One seed gives no verdict.
    """
    values = [math.log(v) if ratio else v for v in paired]
    if ratio and any(v <= 0 for v in paired):
        raise ValueError(f"ratio=True takes positive ratios, got {paired}")
    n = len(values)
    if n < 2:
        return NO_DIFFERENCE
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    same_sign = all(v > 0 for v in values) or all(v < 0 for v in values)
    if not same_sign or abs(mean) <= 2 * sd / math.sqrt(n):
        return NO_DIFFERENCE
    return f"{words[0] if mean > 0 else words[1]} for every seed"


def describe_verdict(record: dict) -> str:
    """``NAME (WHAT): VERDICT (mean M, from LO to HI over N seeds)``: a comparison's verdict in words."""
    unit = record.get("unit") or ""
    lo, hi = record["spread"]
    what = f" ({record['what']})" if record.get("what") else ""
    return (f"{record['name']}{what}: {record['verdict']} (mean {_fmt(record['value'])}{unit}, from "
            f"{_fmt(lo)}{unit} to {_fmt(hi)}{unit} over {len(record['values'])} seeds)")


def report(name: str, value=None, spread=None, *, unit: str = "", paired=None,
           words: tuple[str, str] = ("better", "worse"), ratio: bool = False, what: str | None = None) -> dict:
    """Report one result of an experiment: prints ``result: NAME = VALUE`` and records it.

    - ``value``: the number (a mean over seeds, a ratio, an accuracy...), or a short text.
    - ``spread``: ``(min, max)`` over seeds, or the list of per-seed values (their min and max
      are shown, with their number): ``result: relu_speedup = 3.4 (min 2.9, max 3.8 over 3 seeds)``.
    - ``unit``: printed after the value (``"s"``, ``"%"``, ``"×"``...).
    - ``paired``: a comparison of two arms, one value per seed: arm A's result minus arm B's with
      that seed (``ratio=True``: A's divided by B's). The value is their mean (geometric mean for
      ratios), the spread their min and max, and a second line prints the :func:`verdict`
      (``verdict: NAME (WHAT): worse for every seed (mean ..., from ... to ... over 3 seeds)``), in
      ``words`` (``("faster", "slower")``, ...). ``what``: what is compared, in the words the prose
      uses for it (``"overlapping pooling"``). A sentence of the chapter that names the result or
      ``what`` states a direction only in the verdict's words (``tests/test_chapter_truth.py``).

    The record goes to :data:`REPORTS` (by name; a later report of the same name replaces it) and
    to ``$D2LNETS_RESULTS`` when that is set. Returns the record.
    """
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise ValueError(f"name must be a short name without spaces, e.g. 'relu_speedup', got {short(name)}")
    if not isinstance(unit, str):
        raise TypeError(f"unit must be a string such as 's' or '%', got {short(unit)}")
    if what is not None and (not isinstance(what, str) or not what.strip()):
        raise TypeError(f"what must be a few words for what is compared, e.g. 'overlapping pooling', got {short(what)}")
    judged = None
    if paired is not None:
        if value is not None or spread is not None:
            raise ValueError("with paired=..., the value and the spread come from the paired values: leave value "
                             "and spread out")
        if (not isinstance(words, (tuple, list)) or len(words) != 2
                or not all(isinstance(w, str) and w.strip() for w in words)):
            raise ValueError(f"words must be two words for the two directions, e.g. ('faster', 'slower'), got "
                             f"{short(words)}")
        paired = _values(paired, "paired")
        judged = verdict(paired, tuple(words), ratio)
        value = (math.exp(sum(math.log(v) for v in paired) / len(paired)) if ratio
                 else sum(paired) / len(paired))
        spread = paired
    elif value is None:
        raise TypeError("report needs a value, or paired=... (one value per seed of a comparison)")
    value = value if isinstance(value, str) else _number(value, "value")
    values = None
    if spread is not None:
        if isinstance(spread, tuple):
            if len(spread) != 2:
                raise ValueError(f"spread as a tuple is (min, max); got {len(spread)} values (pass a list for "
                                 "per-seed values)")
            lo, hi = (_number(v, "spread's min and max") for v in spread)
        else:
            values = _values(spread, "spread")
            lo, hi = min(values), max(values)
        if lo > hi:
            raise ValueError(f"spread is (min, max), but min {lo} > max {hi}")
        spread = [lo, hi]
    last = RUNS[-1] if RUNS else {}
    record = make_record("report", name=name, value=value, unit=unit or None, spread=spread, values=values,
                         verdict=judged, what=what, profile=_profile_name(), device=last.get("device"),
                         settings=last.get("settings"))
    print(f"result: {describe_report(record)}", flush=True)
    if judged is not None:
        print(f"verdict: {describe_verdict(record)}", flush=True)
    REPORTS[name] = record
    return write(record)


def verdicts(*names: str) -> list[dict]:
    """Print the verdicts of this session's comparisons (the :func:`report` calls with ``paired=``),
    one line each in the order they were reported, or only those of ``names``; return their records.

    A chapter's summary calls it, so that what it says of this run is the run's own verdicts
    (``- overlap_gain (overlapping pooling): no consistent difference (mean ..., from ... to ...)``)
    and stays true when the chapter is run again.
    """
    unknown = [n for n in names if n not in REPORTS]
    if unknown:
        raise KeyError(f"no report named {', '.join(map(repr, unknown))} in this session; reported so far: "
                       f"{', '.join(REPORTS) or 'none'} (run the cells that report them first)")
    chosen = [REPORTS[n] for n in names] if names else [r for r in REPORTS.values() if r.get("verdict")]
    plain = [r["name"] for r in chosen if not r.get("verdict")]
    if plain:
        raise ValueError(f"{', '.join(plain)} compared nothing seed by seed (reported without paired=...), so it has "
                         "no verdict")
    if not chosen:
        print("no comparison over seeds has been reported in this session")
    for r in chosen:
        print(f"- {describe_verdict(r)}")
    return chosen


def _values(values, name: str) -> list:
    """Per-seed values as a list of numbers (from a list, a tuple, an array or a tensor)."""
    if isinstance(values, str) or not isinstance(values, (Sequence, *_array_types())):
        raise TypeError(f"{name} must be a list of per-seed values, got {short(values)}")
    out = [_number(v, f"each value of {name}") for v in (values.tolist() if hasattr(values, "tolist") else values)]
    if not out:
        raise ValueError(f"{name} is an empty list: give the per-seed values")
    return out


def _array_types() -> tuple:
    import numpy as np
    import torch

    return (np.ndarray, torch.Tensor)
