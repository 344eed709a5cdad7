"""Plots for notebooks: a live plot that updates in place, image grids, training curves.

Figures are rendered to PNG and shown through one IPython display handle each, so a live plot is
one output that is replaced as training goes on (no figure per update, no SVG churn in the saved
notebook). Outside a notebook nothing is displayed and plotting costs nothing.
"""
from __future__ import annotations

import io
import time
from collections.abc import Sequence

from matplotlib.figure import Figure  # drawn without pyplot: nothing is shown unless we show it

__all__ = ["Animator", "Progress", "in_notebook", "plot_histories", "show_images", "show_figure"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbval, nbconvert), False in scripts and pytest."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _png(fig: Figure, dpi: int = 80):
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return Image(data=buf.getvalue(), format="png")


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
        self.legend, self.xlim, self.ylim = list(legend), xlim, ylim
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
        image = _png(self.fig)
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


def show_figure(fig: Figure) -> None:
    """Display a figure once (PNG) in a notebook; do nothing elsewhere."""
    if in_notebook():
        from IPython.display import display

        display(_png(fig))


def show_images(imgs, num_rows: int, num_cols: int, titles: Sequence[str] | None = None,
                scale: float = 1.5, cmap: str = "gray"):
    """A grid of images (tensors [C, H, W] or [H, W], or arrays); returns the figure's axes."""
    import torch

    from ._validate import as_int

    num_rows, num_cols = as_int(num_rows, "num_rows"), as_int(num_cols, "num_cols")
    fig = Figure(figsize=(num_cols * scale, num_rows * scale))
    axes = fig.subplots(num_rows, num_cols, squeeze=False).flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        if torch.is_tensor(img):
            img = img.detach().float().cpu()
            img = img.squeeze(0) if img.dim() == 3 and img.shape[0] == 1 else img
            img = img.permute(1, 2, 0) if img.dim() == 3 else img
            img = img.clamp(0, 1).numpy() if img.dim() == 3 else img.numpy()
        ax.imshow(img, cmap=cmap)
        ax.axis("off")
        if titles is not None and i < len(titles):
            ax.set_title(titles[i], fontsize=8)
    for ax in axes[len(imgs):]:
        ax.axis("off")
    show_figure(fig)
    return axes


def plot_histories(histories: dict, metrics: Sequence[str] = ("train_loss", "train_acc", "test_acc"),
                   figsize_per_plot: tuple[float, float] = (3.5, 2.8)) -> Figure:
    """Compare training runs side by side: ``{"label": History, ...}``, one panel per metric."""
    from ._validate import short

    if not isinstance(histories, dict) or not histories:
        raise TypeError(f"histories must be a non-empty dict of runs, {{label: History}}, e.g. "
                        f"{{'lr 0.1': history}}, got {short(histories)}")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    for label, h in histories.items():
        bad = [m for m in metrics if not isinstance(getattr(h, m, None), list)]
        if bad:
            raise ValueError(f"histories[{label!r}] ({type(h).__name__}) has no metric {bad[0]!r}; a History "
                             "has train_loss, train_acc, test_acc, examples_per_sec and seconds")
    fig = Figure(figsize=(figsize_per_plot[0] * len(metrics), figsize_per_plot[1]))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    from matplotlib.ticker import MaxNLocator

    steps_of = {"train_loss": "step_loss", "train_acc": "step_acc"}  # recorded every few steps as well
    for ax, metric in zip(axes, metrics):
        for label, h in histories.items():
            values = getattr(h, metric)
            steps = getattr(h, steps_of.get(metric, ""), None)
            if steps and len(getattr(h, "step_epoch", [])) == len(steps):  # the curve, every few steps
                ax.plot(h.step_epoch, steps, label=label, linewidth=1)
                ax.set_xlim(left=0)
            else:
                ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        ax.set_title(metric.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True)
    if any(getattr(h, "step", None) for h in histories.values()):  # one epoch axis for every panel
        lo = min(ax.get_xlim()[0] for ax in axes)
        for ax in axes:
            ax.set_xlim(left=lo)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    show_figure(fig)
    return fig


# The course's other pictures, drawn by their own modules, are d2l.plot's as well (imported last:
# they display through this module's helpers).
from .diagram import Diagram, draw_architecture  # noqa: E402
from .learned import show_feature_maps, show_filters  # noqa: E402
from .mistakes import show_mistakes, show_predictions  # noqa: E402
from .receptive import show_receptive_field  # noqa: E402
from .schedule import plot_one_cycle  # noqa: E402

__all__ += ["Diagram", "draw_architecture", "plot_one_cycle", "show_feature_maps", "show_filters",
            "show_mistakes", "show_predictions", "show_receptive_field"]
