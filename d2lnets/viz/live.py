"""Plots that change while training runs: a live line plot and a progress bar, each one output updated in place.

Figures are rendered to PNG and shown through one IPython display handle each, so a live plot is
one output that is replaced as training goes on (no figure per update, no SVG churn in the saved
notebook). Outside a notebook nothing is displayed and plotting costs nothing.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from matplotlib.figure import Figure

from .show import in_notebook, png

__all__ = ["Animator", "Progress", "in_notebook"]


class Animator:
    """A live line plot: ``add(x, ys)`` appends a point to each line and redraws in place.

    The book's ``Animator``, with one display handle instead of ``clear_output`` + SVG. A line whose
    points come at fractions of an epoch (``x=1.3``) is drawn as a curve; ticks on an ``"epoch"``
    axis are whole epochs (``integer_x``).
    """

    def __init__(self, xlabel: str | None = None, ylabel: str | None = None,
                 legend: Sequence[str] = (), xlim=None, ylim=None, title: str | None = None,
                 figsize: tuple[float, float] = (4.5, 3), show: bool | None = None,
                 integer_x: bool | None = None) -> None:
        self.fig = Figure(figsize=figsize)
        self.ax = self.fig.add_subplot()
        self.legend = [legend] if isinstance(legend, str) else list(legend)  # ("loss": one line, not four)
        self.xlim, self.ylim = xlim, ylim
        self.integer_x = xlabel == "epoch" if integer_x is None else integer_x
        self.xlabel, self.ylabel, self.title = xlabel, ylabel, title
        self.X: list[list[float]] = []
        self.Y: list[list[float]] = []
        self.show = in_notebook() if show is None else show
        self._handle = None

    def add(self, x: float, ys: float | Sequence[float | None], draw: bool = True) -> None:
        """A point on each line (None: none on that line); redrawn unless ``draw=False``."""
        if not isinstance(ys, (list, tuple)):
            ys = [ys]
        if not self.X:
            self.X, self.Y = [[] for _ in ys], [[] for _ in ys]
        for i, y in enumerate(ys):
            if y is not None:
                self.X[i].append(x)
                self.Y[i].append(y)
        if draw:
            self.draw()

    def draw(self) -> None:
        if not self.show:
            return
        ax = self.ax
        ax.cla()
        for x, y, fmt in zip(self.X, self.Y, ("-", "m--", "g-.", "r:", "c-", "k--")):
            ax.plot(x, y, fmt, marker="o" if len(x) == 1 else None, markersize=3)
        if self.integer_x:
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(self.xlabel or "")
        ax.set_ylabel(self.ylabel or "")
        if self.title:
            ax.set_title(self.title)
        if self.xlim:
            lo, hi = self.xlim
            ax.set_xlim((lo - 0.5, hi + 0.5) if lo == hi else (lo, hi))  # one epoch: a point, not a line
        if self.ylim:
            ax.set_ylim(self.ylim)
        if self.legend:
            ax.legend(self.legend[: len(self.X)])
        ax.grid(True)
        image = png(self.fig, dpi=80)
        if self._handle is None:
            from IPython.display import display

            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)


class Progress:
    """A one-line progress bar that updates in place in a notebook (a count when the total is unknown).

    ``update(done, msg)`` redraws at most twice a second (``force=True``: now).
    """

    def __init__(self, total_batches: int | None) -> None:
        from IPython.display import display

        self.total, self.last = total_batches, 0.0
        self.handle = display(self._text(0, total_batches, ""), display_id=True)

    @staticmethod
    def _text(done: int, total: int | None, msg: str):
        from IPython.display import Pretty

        if not total:
            return Pretty(f"{done} batches  {msg}")
        width = 30
        filled = width * min(done, total) // total
        return Pretty(f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} batches  {msg}")

    def update(self, done: int, msg: str, force: bool = False) -> None:
        now = time.perf_counter()
        if self.handle is not None and (force or now - self.last > 0.5):  # None: not in a notebook
            self.last = now
            self.handle.update(self._text(done, self.total, msg))
