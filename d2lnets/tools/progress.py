"""A learner's progress: when each exercise was first solved, kept beside the checked copies.

``make check`` (``d2lnets check``) records, in ``.progress.json`` in the folder of the
copies it checks (``exercises/``, git-ignored), the first time it finds each exercise solved;
``make progress`` (``d2lnets progress``) shows the record. Only learner copies
(notebooks that ``make exercises`` wrote) are recorded, never the chapters themselves.

Keeping the record never breaks or slows a check: a record that cannot be read is reported, kept
beside as ``.progress.json.bad`` and started again; one that cannot be written is reported once.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["RECORD", "is_learner_copy", "load", "record"]

RECORD = ".progress.json"
_ABOUT = ("When you first solved each exercise, kept by `make check`; `make progress` shows it. "
          "Delete this file to start the record again.")


def is_learner_copy(path: Path, nb) -> bool:
    """A copy ``make exercises`` wrote (it carries the chapter it came from), not a chapter itself."""
    return "d2lnets" in nb.metadata and path.resolve().parent.name != "chapters"


def _say(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def load(folder: Path) -> dict:
    """The record in ``folder``: {chapter: {exercise number: {"title", "first_solved"}}}; empty if none.
    An unreadable record is reported and set aside, never a crash."""
    path = Path(folder) / RECORD
    if not path.exists():
        return {}
    try:
        solved = json.loads(path.read_text(encoding="utf-8"))["solved"]
        if not all(isinstance(v, dict) and all(isinstance(e, dict) and "first_solved" in e for e in v.values())
                   for v in solved.values()):
            raise ValueError("it does not hold a record of solved exercises")
        return solved
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        bad = path.with_name(RECORD + ".bad")
        try:
            os.replace(path, bad)
            kept = f"it is kept as {bad} and a new record is started"
        except OSError:
            kept = "a new record is started"
        _say(f"your progress record {path} could not be read ({e}); {kept}")
        return {}


def record(folder: Path, chapter: str, solved: list[tuple[str, str]], now: dt.datetime | None = None) -> None:
    """Add the exercises ``solved`` now, (number, title) pairs of ``chapter``, that the record in
    ``folder`` does not hold yet. Writes only when something is new; reports and goes on on error."""
    try:
        record_ = load(folder)
        mine = record_.setdefault(chapter, {})
        stamp = (now or dt.datetime.now()).isoformat(timespec="seconds")
        new = [(n, t) for n, t in solved if n not in mine]
        if not new:
            return
        for number, title in new:
            mine[number] = {"title": title, "first_solved": stamp}
        text = json.dumps({"about": _ABOUT, "solved": record_}, indent=1, ensure_ascii=False)
        with tempfile.NamedTemporaryFile("w", dir=folder, prefix=".progress-", suffix=".tmp", delete=False,
                                         encoding="utf-8") as f:
            f.write(text)
        os.replace(f.name, Path(folder) / RECORD)
    except Exception as e:  # noqa: BLE001 - the record must never break the check
        _say(f"your progress could not be recorded in {Path(folder) / RECORD} ({e}); your exercises were "
             "checked all the same")
