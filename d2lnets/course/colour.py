"""The appendix's helpers: where its data comes from, and results that a stand-in never reports.

- ``find_data(recipe)``: the folders the appendix reads, as :class:`ColourData`: the loaders' own
  search (``$D2LNETS_DATA``, ``data/``, the system folders) for the real files, or -- where the
  recipe says so (the ``smoke`` profile, run in CI where the sets cannot be had) -- the generated
  stand-in of :func:`d2lnets.data.standin.write_standins`, announced as such;
- ``report_accuracy(name, history, data, ...)``: a run's test accuracy reported (``d2l.report``, and
  ``d2l.record_result`` for the chapter's main run) on real data only; on the stand-in it says what
  a real run would report, and reports the result as not measured: no number.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..core.validate import short
from ..data import FLOWERS102, locate
from ..data.standin import write_standins
from ..train.history import History
from ..train.records import record_result, report
from .recipes import Recipe

__all__ = ["ColourData", "find_data", "report_accuracy"]

STANDIN_FOLDER = "d2lnets-07-standin"   # in the system's temporary folder


@dataclass
class ColourData:
    """Where the appendix reads each dataset (None: the loaders' search), whether it is the
    generated stand-in, and the word its outputs use for it."""

    standin: bool
    cifar10: Path | None
    flowers102: Path | None
    flowers5: Path | str

    @property
    def label(self) -> str:
        return "stand-in" if self.standin else "CIFAR-10"

    @property
    def show_training(self) -> bool:
        """Whether training shows its curves and accuracies: not on the stand-in, where they mean nothing."""
        return not self.standin


def find_data(recipe: Recipe) -> ColourData:
    """The appendix's data for ``recipe`` (``d2l.recipe("07_alexnet_colour")``): its option
    ``standin`` says whether to write and read the generated stand-in; otherwise the real files are
    looked up by the loaders, and Flowers-102's are checked here when the recipe trains on it (a
    missing file stops this cell with the loader's message)."""
    if not isinstance(recipe, Recipe) or "standin" not in recipe.options:
        raise TypeError(f"recipe must be d2l.recipe('07_alexnet_colour'), got {short(recipe)}")
    if recipe.options["standin"]:
        written = write_standins(Path(tempfile.gettempdir()) / STANDIN_FOLDER)
        print("A GENERATED STAND-IN, not CIFAR-10 or Flowers-102: synthetic images in the real file formats, so that\n"
              "every cell runs where the data cannot be had. No accuracy is printed on it; run the cpu or full\n"
              "profile on the real data for results.")
        return ColourData(True, written.cifar10, written.flowers102, written.flowers5)
    if recipe.experiments["flowers102"].options.get("train"):
        locate(FLOWERS102, None)
    return ColourData(False, None, None, recipe.experiments["flowers5"].options["folder"])


def report_accuracy(name: str, history: History, data: ColourData, *, what: str, chapter: str | None = None,
                    model: str = "", image_size: int = 0, note: str = "") -> float | None:
    """On real data: report ``history``'s final test accuracy as ``name`` (and record it as
    ``chapter``'s main result, with ``model``, ``image_size`` and ``note``, when ``chapter`` is
    given); return it. On the stand-in: say that it trained and what a real run would report
    (``what``), report ``name`` as not measured, and return None -- no number."""
    if not isinstance(history, History) or not isinstance(data, ColourData):
        raise TypeError(f"report_accuracy takes the History of train_ch5 and the ColourData of find_data, got "
                        f"{short(history)} and {short(data)}")
    if data.standin:
        print(f"stand-in: trained for {history.num_epochs} epoch{'s' * (history.num_epochs > 1)} to show that the "
              f"cell runs; no accuracy is printed. On the real data {name} is {what}.", flush=True)
        report(name, "not measured: stand-in data")
        return None
    acc = history.final["test_acc"]
    if chapter is not None:
        record_result(chapter, model, image_size, history, note=note)
    report(name, acc)
    return acc
