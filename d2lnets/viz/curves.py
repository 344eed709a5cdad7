"""Training runs side by side: one panel per metric, a curve per run (or a band over seeds)."""
from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..core.validate import as_int, short
from .show import show_figure

__all__ = ["plot_histories"]

_STEPS_OF = {"train_loss": "step_loss", "train_acc": "step_acc"}  # recorded every few steps as well


def _curve(h, metric: str, smooth: int = 1) -> tuple[list[float], list[float], bool]:
    """(x, y, every few steps?) of one History's metric: the step points where it has them, averaged
    over the last ``smooth`` of them. A metric ``*_error`` is one minus its ``*_acc``."""
    if metric.endswith("_error"):
        x, y, dense = _curve(h, metric.removesuffix("_error") + "_acc", smooth)
        return x, [1 - v for v in y], dense
    steps = getattr(h, _STEPS_OF.get(metric, ""), None)
    if steps and len(getattr(h, "step_epoch", [])) == len(steps):
        steps = [sum(steps[max(0, j - smooth + 1):j + 1]) / len(steps[max(0, j - smooth + 1):j + 1])
                 for j in range(len(steps))]
        return list(h.step_epoch), steps, True
    values = getattr(h, metric)
    return list(range(1, len(values) + 1)), list(values), False


def _check(label, h, metrics) -> None:
    bad = [m for m in metrics if not isinstance(getattr(h, m.removesuffix("_error") + "_acc" if m.endswith("_error")
                                                       else m, None), list)]
    if bad:
        raise ValueError(f"histories[{label!r}] ({type(h).__name__}) has no metric {bad[0]!r}; a History "
                         "has train_loss, train_acc, test_acc, examples_per_sec and seconds (and train_error, "
                         "test_error: one minus the accuracy)")


def _check_marks(marks, metrics) -> dict[str, dict[str, float]]:
    if marks is None:
        return {}
    if not isinstance(marks, dict) or not all(isinstance(m, dict) for m in marks.values()):
        raise TypeError(f"marks must be {{metric: {{label: y}}}}, e.g. {{'train_loss': {{'ln 10': 2.303}}}}, got "
                        f"{short(marks)}")
    unknown = [m for m in marks if m not in metrics]
    if unknown:
        raise ValueError(f"marks names the metric {unknown[0]!r}, which is not drawn; the panels are {metrics}")
    for lines in marks.values():
        for text, y in lines.items():
            if not isinstance(text, str) or isinstance(y, bool) or not isinstance(y, (int, float)):
                raise TypeError(f"each mark is a label and a number, e.g. {{'ln 10': 2.303}}, got {text!r}: {short(y)}")
    return marks


def plot_histories(histories: dict, metrics: Sequence[str] = ("train_loss", "train_acc", "test_acc"),
                   figsize_per_plot: tuple[float, float] = (3.5, 2.8), *, title: str | None = None,
                   marks: dict[str, dict[str, float]] | None = None, smooth: int = 1) -> Figure:
    """Compare training runs side by side, one panel per metric: ``{"label": History, ...}``.

    A label may hold a list of Histories, the same run over several seeds: its curve is then their
    mean, with the band from their minimum to their maximum shaded around it (the runs must have
    the same points). ``title`` says above the panels what was trained. ``train_error`` and
    ``test_error`` are one minus the accuracies; ``smooth`` averages each curve recorded every few
    steps over its last ``smooth`` points (a moving average, fewer at the start). ``marks`` draws
    labelled horizontal lines on a metric's panel: ``{"train_loss": {"ln 10: a uniform guess": 2.303}}``.
    """
    if not isinstance(histories, dict) or not histories:
        raise TypeError(f"histories must be a non-empty dict of runs, {{label: History}} or {{label: [History, "
                        f"...]}} (one per seed), e.g. {{'lr 0.1': history}}, got {short(histories)}")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    smooth = as_int(smooth, "smooth", hint=" (how many step points to average; 1 for none)")
    runs = {label: (list(h) if isinstance(h, (list, tuple)) else [h]) for label, h in histories.items()}
    marks = _check_marks(marks, metrics)
    for label, hs in runs.items():
        if not hs:
            raise ValueError(f"histories[{label!r}] is an empty list: give its runs, one per seed")
        for h in hs:
            _check(label, h, metrics)
    rows = -(-len(runs) // 3)   # the legend's rows, under the panels: never over a curve
    fig = Figure(figsize=(figsize_per_plot[0] * len(metrics),
                          figsize_per_plot[1] + (0.3 if title else 0) + 0.25 * rows + 0.1))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics):
        for color, (label, hs) in enumerate(runs.items()):
            curves = [_curve(h, metric, smooth) for h in hs]
            x, _, dense = curves[0]
            if any(c[0] != x for c in curves):
                raise ValueError(f"the runs of {label!r} have different points for {metric}: they must train the "
                                 "same number of epochs and batches to be drawn as one band")
            ys = list(zip(*(c[1] for c in curves)))
            mean = [sum(v) / len(v) for v in ys]
            style = dict(linewidth=1) if dense else dict(marker="o", markersize=3)
            name = label if len(hs) == 1 else f"{label} (mean of {len(hs)} seeds)"
            ax.plot(x, mean, color=f"C{color}", label=name, **style)
            if len(hs) > 1:
                ax.fill_between(x, [min(v) for v in ys], [max(v) for v in ys], color=f"C{color}", alpha=0.25,
                                linewidth=0)
            if dense:
                ax.set_xlim(left=0)
        for text, y in marks.get(metric, {}).items():
            ax.axhline(y, color="gray", linestyle="--", linewidth=1)
            ax.annotate(text, (1, y), xycoords=("axes fraction", "data"), xytext=(-3, 2), textcoords="offset points",
                        ha="right", va="bottom", fontsize=7, color="dimgray")
        ax.set_title(metric.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True)
    if any(getattr(h, "step", None) for hs in runs.values() for h in hs):  # one epoch axis for every panel
        lo = min(ax.get_xlim()[0] for ax in axes)
        for ax in axes:
            ax.set_xlim(left=lo)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, (0.25 * rows + 0.1) / fig.get_figheight(), 1, 1))   # room for the legend's rows
    show_figure(fig, dpi=80)
    return fig
