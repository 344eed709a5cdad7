"""Chapters record their main result here; ``make results`` turns the records into RESULTS.md."""
from __future__ import annotations

import json
import os

__all__ = ["record_result"]


def record_result(chapter: str, model: str, input_size: int, history, note: str = "") -> dict:
    """Record a chapter's main result; ``make results`` collects these into RESULTS.md.

    Call it once per chapter, after training its main model. Returns the record; it is also
    appended to ``$D2LNETS_RESULTS`` (JSON lines) when that is set.
    """
    import d2lnets

    d2lnets._validate.instance_of(history, d2lnets.History, "history", "the History that train_ch5 returned")
    record = {"chapter": chapter, "model": model, "input_size": input_size, "epochs": history.num_epochs,
              "test_acc": round(history.final["test_acc"], 4), "train_seconds": round(history.total_seconds, 1),
              "examples_per_sec": round(history.mean_examples_per_sec, 1), "device": history.device,
              "settings": history.settings, "profile": d2lnets.profile().name, "note": note}
    path = os.environ.get("D2LNETS_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
    return record
