"""Training runs side by side: one panel per metric, a curve per run."""
from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..core.validate import short
from .show import show_figure

__all__ = ["plot_histories"]


def plot_histories(histories: dict, metrics: Sequence[str] = ("train_loss", "train_acc", "test_acc"),
                   figsize_per_plot: tuple[float, float] = (3.5, 2.8)) -> Figure:
    """Compare training runs side by side: ``{"label": History, ...}``, one panel per metric."""
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
    show_figure(fig, dpi=80)
    return fig
