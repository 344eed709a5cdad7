"""The closing chapter's helpers: the five networks side by side, saved models, pretrained weights.

- ``cost(net, input_size)``: parameters, multiply-adds and activation memory (from ``summary``);
- ``Row`` and ``format_table(rows)``: one line per network, cost beside time and accuracy;
- ``ranking(values, tie=...)``: names in order, with ``≈`` between those within ``tie`` of each other;
- ``plot_accuracy_vs_cost(rows)``: test accuracy against multiply-adds and seconds per epoch (log),
  each point labelled, no two labels on each other;
- ``saved_or_trained(net, recipe, trained)``: a chapter's saved model where there is one that fits
  and whose accuracy is its chapter's recorded result, else the network trained here; says which;
- ``show_confusions({name: predictions})``: confusion matrices side by side;
- ``draw_depth(networks)``: the networks side by side as columns of their layers, to scale in depth;
- from :mod:`d2lnets.course.pretrained`: ``to_imagenet``, ``ImageNetBatches``, ``load_torchvision``,
  ``imagenet_weights``, ``no_weights``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from torch import Tensor, nn

from ..analysis.predictions import Predictions
from ..analysis.summary import summary
from ..core.validate import as_float, as_int, instance_of, short
from ..train.records import recorded_result
from ..train.saving import ModelMismatchError, load_model
from ..viz.depth import draw_depth
from ..viz.labels import place_labels
from ..viz.mistakes import class_names, draw_confusion
from ..viz.show import show_figure
from .pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNetBatches,
    imagenet_weights,
    load_torchvision,
    no_weights,
    to_imagenet,
)

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ConfusionGrid", "CostPlot", "ImageNetBatches", "Row", "cost",
           "draw_depth", "format_table", "imagenet_weights", "load_torchvision", "no_weights", "plot_accuracy_vs_cost",
           "ranking", "saved_or_trained", "show_confusions", "to_imagenet"]


# ----------------------------------------------------------------------------------------------
# the table and the plot
# ----------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One network in the comparison: its cost for one image of ``image_size`` pixels, and what
    training it gave (``seconds_per_epoch``: the mean over its epochs; ``test_acc``: the last)."""

    name: str
    image_size: int
    params: int
    macs: int
    activation_bytes: int
    seconds_per_epoch: float
    test_acc: float


def cost(net: nn.Module, input_size) -> dict:
    """``{"params", "macs", "activation_bytes"}`` of ``net`` for one input of ``input_size``
    ``(C, H, W)``, from :func:`d2lnets.summary`."""
    s = summary(net, input_size)
    return {"params": s.total_params, "macs": s.total_macs, "activation_bytes": s.activation_bytes}


def format_table(rows: list[Row]) -> str:
    """The comparison as a text table, one line per row, in the order given."""
    if not rows or not all(isinstance(r, Row) for r in rows):
        raise TypeError(f"rows must be a non-empty list of compare.Row, got {short(rows)}")
    lines = [f"{'network':<11} {'input':>6} {'parameters':>11} {'multiply-adds':>14} {'activations':>12} "
             f"{'s/epoch':>8} {'test acc':>9}"]
    for r in rows:
        lines.append(f"{r.name:<11} {r.image_size:>4} px {r.params:>11,} {r.macs / 1e6:>12.2f} M "
                     f"{r.activation_bytes / 2**10:>9.0f} kB {r.seconds_per_epoch:>8.1f} {r.test_acc:>9.3f}")
    return "\n".join(lines)


@dataclass
class CostPlot:
    """What :func:`plot_accuracy_vs_cost` drew: per panel (the cost's name), ``{network: (x, y)}``."""

    fig: Figure
    points: dict[str, dict[str, tuple[float, float]]]


_COSTS = {"macs": "multiply-adds per image", "seconds_per_epoch": "seconds per epoch", "params": "parameters"}


def plot_accuracy_vs_cost(rows: list[Row], costs=("macs", "seconds_per_epoch"), *,
                          show: bool | None = None) -> CostPlot:
    """Test accuracy against each cost in ``costs`` (log scale), one panel each, networks labelled."""
    format_table(rows)  # checks rows
    costs = [costs] if isinstance(costs, str) else list(costs)
    bad = [c for c in costs if c not in _COSTS]
    if bad or not costs:
        raise ValueError(f"costs must name some of {', '.join(_COSTS)}, got {short(costs)}")
    fig = Figure(figsize=(4.2 * len(costs), 3.4), layout="constrained")
    axes = fig.subplots(1, len(costs), squeeze=False)[0]
    points: dict[str, dict[str, tuple[float, float]]] = {}
    colours: dict[str, str] = {}
    for ax, c in zip(axes, costs):
        points[c] = {}
        for r in rows:
            x, y = float(getattr(r, c)), float(r.test_acc)
            points[c][r.name] = (x, y)
            colours[r.name] = ax.plot([x], [y], "o")[0].get_color()
        ax.set_xscale("log")
        ax.margins(x=0.12, y=0.1)
        ax.xaxis.set_minor_formatter(NullFormatter())   # labels at the powers of ten only
        ax.set_xlabel(_COSTS[c] + " (log scale)")
        ax.set_ylabel("test accuracy")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("accuracy against cost: further up and to the left is better", fontsize=9)
    for ax, c in zip(axes, costs):
        place_labels(ax, points[c], colours=colours)     # beside their points, never on each other, inside the axes
    show_figure(fig, show)
    return CostPlot(fig, points)


# ----------------------------------------------------------------------------------------------
# saved models and confusion matrices
# ----------------------------------------------------------------------------------------------
def saved_or_trained(net: nn.Module, recipe: str, trained: nn.Module, *, profile: str | None = None,
                     records: str | Path | None = None) -> tuple[nn.Module, dict | None, str]:
    """``(network, meta, message)``: ``net`` with the weights of ``recipe``'s saved model (from
    ``d2l.load_model``) when one exists, fits, and holds the accuracy its chapter recorded
    (``make results`` keeps the records: ``records``, default the repository's
    :data:`~d2lnets.train.records.RESULTS_FILE`); else ``trained`` (and ``meta`` None). A saved
    model whose accuracy is not its chapter's recorded result comes from another run of the
    chapter: it is not used, and the message names both numbers. ``meta["recorded"]`` holds the
    record's accuracy (None where there is no record). The message says what was done and why."""
    instance_of(trained, nn.Module, "trained", "the network to fall back on (an nn.Module)")
    try:
        meta = load_model(net, recipe, profile=profile)
    except FileNotFoundError:
        return trained, None, f"{recipe}: no saved model; using the network trained above"
    except ModelMismatchError as e:
        return trained, None, f"{recipe}: saved model does not fit ({e}); using the network trained above"
    file, acc = Path(meta["path"]).name, meta.get("accuracy")
    record = recorded_result(recipe, meta["profile"], records)
    if record is None:
        meta["recorded"] = None
        saved = f"test accuracy {acc:.3f}" if isinstance(acc, float) else "no accuracy"
        return net, meta, (f"{recipe}: loaded {file} ({meta.get('model')}), {saved} in the run that saved it; "
                           f"no recorded result of {recipe} to compare with (make results keeps them)")
    recorded = as_float(record["test_acc"], "the recorded test accuracy")
    if not isinstance(acc, float) or round(acc, 4) != round(recorded, 4):
        saved = f"its test accuracy {acc:.3f}" if isinstance(acc, float) else "it records no test accuracy, which"
        return trained, None, (f"{recipe}: not loading {file}: {saved} is not the chapter's recorded result "
                               f"{recorded:.3f}, so the file comes from another run of the chapter; using the "
                               f"network trained above (run {recipe} again to save its model)")
    meta["recorded"] = recorded
    return net, meta, (f"{recipe}: loaded {file} ({meta.get('model')}), test accuracy {acc:.3f} in its chapter: "
                       "its recorded result")


def ranking(values: dict[str, float], *, tie: float = 0.0, descending: bool = True) -> str:
    """The names of ``values`` in order, ``" > "`` between them (``" < "`` with ``descending=False``),
    or ``" ≈ "`` where a value lies within ``tie`` of the one before it: differences as small as the
    spread over seeds are ties, not ranks. So no two values within ``tie`` of each other are ever
    printed in rank; a chain of ties may join values further apart, which one run each cannot order."""
    if not isinstance(values, dict) or not values:
        raise TypeError(f"values must be a non-empty dict {{name: value}}, got {short(values)}")
    tie = as_float(tie, "tie", at_least=0)
    order = sorted(values, key=values.get, reverse=descending)
    text = order[0]
    for before, name in zip(order, order[1:]):
        tied = abs(values[name] - values[before]) <= tie + 1e-12
        text += f" ≈ {name}" if tied else f" {'>' if descending else '<'} {name}"
    return text


@dataclass
class ConfusionGrid:
    """What :func:`show_confusions` drew: ``matrices`` by name ([C, C], rows true, columns predicted)."""

    fig: Figure
    matrices: dict[str, Tensor]
    accuracy: dict[str, float]


def show_confusions(predictions: dict[str, Predictions], *, ncols: int = 3, labels=None,
                    show: bool | None = None) -> ConfusionGrid:
    """Confusion matrices side by side, one per ``{name: d2l.predict(net, test_iter)}``."""
    if not isinstance(predictions, dict) or not predictions or not all(
            isinstance(p, Predictions) for p in predictions.values()):
        raise TypeError(f"predictions must be a non-empty dict {{name: d2l.predict(net, test_iter)}}, "
                        f"got {short(predictions)}")
    ncols = min(as_int(ncols, "ncols"), len(predictions))
    nrows = math.ceil(len(predictions) / ncols)
    fig = Figure(figsize=(4.3 * ncols, 4.3 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten()
    matrices, accuracy = {}, {}
    for ax in axes[len(predictions):]:
        ax.axis("off")
    for ax, (name, p) in zip(axes, predictions.items()):
        matrices[name], accuracy[name] = p.confusion(), p.accuracy
        draw_confusion(ax, matrices[name], class_names(p.num_classes, labels))
        ax.set_title(f"{name}: accuracy {p.accuracy:.3f}", fontsize=9)
    show_figure(fig, show)
    return ConfusionGrid(fig, matrices, accuracy)
