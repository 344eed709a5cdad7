"""The closing chapter's helpers: the five networks side by side, saved models, pretrained weights.

- ``cost(net, input_size)``: parameters, multiply-adds and activation memory (from ``summary``);
- ``Row`` and ``format_table(rows)``: one line per network, cost beside time and accuracy;
- ``plot_accuracy_vs_cost(rows)``: test accuracy against multiply-adds and seconds per epoch (log);
- ``saved_or_trained(net, recipe, trained)``: a chapter's saved model where there is one that fits,
  else the network trained here; says which;
- ``show_confusions({name: predictions})``: confusion matrices side by side;
- ``to_imagenet(X, size)``, ``ImageNetBatches``: grey Fashion-MNIST batches as ImageNet-style
  inputs (3 channels, resized, normalised with ImageNet's mean and std);
- ``load_torchvision(arch, path)``: a torchvision ``state_dict`` file into the course's model of
  that architecture (through ``d2l.models.from_torchvision``), with a new head for ``num_classes``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter
from torch import Tensor, nn
from torch.nn import functional as F

from ..analysis.predictions import Predictions
from ..analysis.summary import summary
from ..core.validate import as_int, instance_of, short
from ..data.image_folder import IMAGENET_MEAN, IMAGENET_STD
from ..data.loader import normalize
from ..train.saving import ModelMismatchError, load_model
from ..viz.mistakes import class_names, draw_confusion
from ..viz.show import show_figure

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ConfusionGrid", "CostPlot", "ImageNetBatches", "Row", "cost",
           "format_table", "load_torchvision", "plot_accuracy_vs_cost", "saved_or_trained", "show_confusions",
           "to_imagenet"]


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
    for ax, c in zip(axes, costs):
        points[c] = {}
        for r in rows:
            x, y = float(getattr(r, c)), float(r.test_acc)
            points[c][r.name] = (x, y)
            ax.plot([x], [y], "o")
            ax.annotate(r.name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())   # labels at the powers of ten only
        ax.set_xlabel(_COSTS[c] + " (log scale)")
        ax.set_ylabel("test accuracy")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("accuracy against cost: further up and to the left is better", fontsize=9)
    show_figure(fig, show)
    return CostPlot(fig, points)


# ----------------------------------------------------------------------------------------------
# saved models and confusion matrices
# ----------------------------------------------------------------------------------------------
def saved_or_trained(net: nn.Module, recipe: str, trained: nn.Module, *,
                     profile: str | None = None) -> tuple[nn.Module, dict | None, str]:
    """``(network, meta, message)``: ``net`` with the weights of ``recipe``'s saved model (from
    ``d2l.load_model``) when one exists and fits, else ``trained`` (and ``meta`` None). The
    message says which, and why a saved file was not used."""
    instance_of(trained, nn.Module, "trained", "the network to fall back on (an nn.Module)")
    try:
        meta = load_model(net, recipe, profile=profile)
    except FileNotFoundError:
        return trained, None, f"{recipe}: no saved model; using the network trained above"
    except ModelMismatchError as e:
        return trained, None, f"{recipe}: saved model does not fit ({e}); using the network trained above"
    acc = meta.get("accuracy")
    acc = f", test accuracy {acc:.3f} in its chapter" if isinstance(acc, float) else ""
    return net, meta, f"{recipe}: loaded {Path(meta['path']).name} ({meta.get('model')}{acc})"


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


# ----------------------------------------------------------------------------------------------
# pretrained weights
# ----------------------------------------------------------------------------------------------
def to_imagenet(X: Tensor, size: int) -> Tensor:
    """Grey images ``[B, 1, H, W]`` in [0, 1] as an ImageNet network expects them: the channel
    repeated three times, resized to ``size`` (bilinear), normalised with ImageNet's mean and std."""
    if not isinstance(X, Tensor) or X.dim() != 4 or X.shape[1] != 1 or not X.is_floating_point():
        got = f"{X.dtype} of shape {list(X.shape)}" if isinstance(X, Tensor) else short(X)
        raise ValueError(f"X must be a batch of grey images [batch, 1, height, width] in [0, 1], got {got}")
    size = as_int(size, "size")
    if X.shape[-2:] != (size, size):
        X = F.interpolate(X, size=(size, size), mode="bilinear", align_corners=False)
    return normalize(X.expand(-1, 3, -1, -1), IMAGENET_MEAN, IMAGENET_STD)


class ImageNetBatches:
    """A loader of grey ``(X, y)`` batches whose ``X`` comes out through :func:`to_imagenet`;
    ``train_ch5`` and ``d2l.predict`` take it like the loader itself (its shuffle per epoch and its
    move to the training device included, where the loader has them)."""

    def __init__(self, loader, size: int) -> None:
        self.loader, self.size = loader, as_int(size, "size")

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch)

    def to(self, device) -> ImageNetBatches:
        return ImageNetBatches(self.loader.to(device) if hasattr(self.loader, "to") else self.loader, self.size)

    def __iter__(self):
        for X, y in self.loader:
            yield to_imagenet(X, self.size), y


def load_torchvision(arch: str, path: str | Path, num_classes: int | None = None) -> nn.Module:
    """The course's model of torchvision's ``arch`` (e.g. ``"resnet18"``) carrying the weights in
    ``path`` (a torchvision ``state_dict``, read with ``weights_only=True``), through
    ``d2l.models.from_torchvision``. ``num_classes``: replace the last linear layer by a new one
    with that many outputs (for fine-tuning)."""
    import torchvision

    if not isinstance(arch, str) or not hasattr(torchvision.models, arch):
        raise ValueError(f"arch must name a torchvision model such as 'resnet18', got {short(arch)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file {path}: save one with "
                                f"torch.save(torchvision.models.{arch}().state_dict(), path)")
    from ..models import from_torchvision

    tv = getattr(torchvision.models, arch)()
    tv.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net = from_torchvision(tv.eval())
    if num_classes is not None:
        name, last = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Linear)][-1]
        parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
        setattr(parent, name.rpartition(".")[2], nn.Linear(last.in_features, as_int(num_classes, "num_classes")))
    return net
