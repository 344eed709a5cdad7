"""Where a network errs: the confusion matrix with its most confident mistakes, and a grid of
predictions that shows wrong answers next to right ones.

- ``show_mistakes(net, test_iter)``: the 10x10 confusion matrix over the whole loader, beside the
  test images the network got wrong with the highest confidence;
- ``show_predictions(net, X, y)``: a batch's images titled with the true and predicted class,
  half of them (where there are so many) wrong ones, marked in red.

Class names come from ``d2l.get_fashion_mnist_labels`` for 10 classes, else ``labels=``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from ..analysis.predictions import Predictions, predict
from ..core.batches import model_device, weight_dtype
from ..core.validate import as_int, instance_of, short
from .show import show_figure

__all__ = ["MistakeReport", "PredictionGrid", "class_names", "draw_confusion", "show_mistakes", "show_predictions"]

WRONG = "#cc0000"


def class_names(num_classes: int, labels: Sequence[str] | Callable | None = None) -> list[str]:
    """Names of classes ``0 .. num_classes - 1``: ``labels`` (a list, or a function of a list of
    indices such as ``d2l.get_fashion_mnist_labels``), Fashion-MNIST's names for 10 classes, else
    the indices."""
    if labels is None:
        if num_classes == 10:
            from ..data.fashion_mnist import get_fashion_mnist_labels

            return get_fashion_mnist_labels(list(range(10)))
        return [str(i) for i in range(num_classes)]
    names = list(labels(list(range(num_classes)))) if callable(labels) else list(labels)
    if len(names) < num_classes:
        raise ValueError(f"labels names {len(names)} classes but net has {num_classes} outputs; give one name "
                         "per class, e.g. labels=d2l.get_fashion_mnist_labels")
    return [str(n) for n in names]


def _image(img: Tensor):
    img = img.detach().float().cpu()
    if img.dim() == 3 and img.shape[0] == 3:
        lo, hi = img.min(), img.max()
        img = (img - lo) / (hi - lo) if (lo < 0 or hi > 1) and hi > lo else img.clamp(0, 1)
        return img.permute(1, 2, 0).numpy(), None
    return img.reshape(img.shape[-2:]).numpy(), "gray"


def _mark(ax, wrong: bool) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(wrong)
        spine.set_edgecolor(WRONG)
        spine.set_linewidth(2)


# ----------------------------------------------------------------------------------------------
# the confusion matrix and the most confident mistakes
# ----------------------------------------------------------------------------------------------
@dataclass
class MistakeReport:
    """What :func:`show_mistakes` drew: ``confusion`` [C, C] (rows: true class, columns:
    predicted), ``accuracy``, and ``shown``: the mistakes drawn, most confident first, each
    ``{"index", "true", "pred", "confidence"}`` (index in the loader's order, classes by name)."""

    fig: Figure
    confusion: Tensor
    accuracy: float
    shown: list[dict]
    predictions: Predictions
    names: list[str]


def draw_confusion(ax, C: Tensor, names: list[str]) -> None:
    rows = C.sum(dim=1, keepdim=True).clamp(min=1)
    frac = (C / rows).numpy()
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    n = len(names)
    size = 7 if n <= 10 else 5
    for i in range(n):
        for j in range(n):
            if C[i, j]:
                ax.text(j, i, str(int(C[i, j])), ha="center", va="center", fontsize=size,
                        color="white" if frac[i, j] > 0.5 else WRONG if i != j else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=7.5)
    ax.set_yticklabels(names, fontsize=7.5)
    ax.set_xlabel("predicted", fontsize=8.5)
    ax.set_ylabel("true", fontsize=8.5)


def show_mistakes(net: nn.Module | Predictions, data_iter=None, *, num_mistakes: int = 8,
                  labels: Sequence[str] | Callable | None = None, device=None,
                  show: bool | None = None) -> MistakeReport:
    """Draw the confusion matrix of ``net`` over ``data_iter`` beside its most confident mistakes.

    ``net``: the network (run in eval mode under ``torch.no_grad()``, its mode restored after), or
    the :class:`~d2lnets.predictions.Predictions` of an earlier ``d2l.predict(net, data_iter)``
    (then leave ``data_iter`` out). Cells hold counts, coloured by the share of their row; wrong
    cells' counts are red. Each mistake is titled with its true and predicted class and the
    confidence of the prediction.
    """
    num_mistakes = as_int(num_mistakes, "num_mistakes", minimum=0)
    if isinstance(net, Predictions):
        preds = net
    else:
        instance_of(net, nn.Module, "net", "the network to look at (an nn.Module), or d2l.predict's result")
        if data_iter is None:
            raise TypeError("show_mistakes(net, data_iter) needs the data too, e.g. show_mistakes(net, test_iter)")
        preds = predict(net, data_iter, device, keep=num_mistakes)
    names = class_names(preds.num_classes, labels)
    C = preds.confusion()
    k = min(num_mistakes, len(preds.mistakes))
    shown = [{"index": int(preds.mistakes[i]), "true": names[int(preds.y[preds.mistakes[i]])],
              "pred": names[int(preds.y_hat[preds.mistakes[i]])],
              "confidence": float(preds.confidence[preds.mistakes[i]])} for i in range(k)]

    ncols = 4 if k > 4 else max(k, 1)
    nrows = max(1, math.ceil(k / ncols))
    fig = Figure(figsize=(10, max(4.8, 1.9 * nrows + 0.8)), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.1, 1])
    draw_confusion(left.add_subplot(), C, names)
    left.suptitle(f"confusion matrix: accuracy {preds.accuracy:.3f}, {preds.num_wrong} of {len(preds.y)} wrong",
                  fontsize=9)
    axes = right.subplots(nrows, ncols, squeeze=False).flatten()
    for ax in axes:
        ax.axis("off")
    for ax, m, img in zip(axes, shown, preds.mistake_images):
        ax.axis("on")
        data, cmap = _image(img)
        ax.imshow(data, cmap=cmap)
        ax.set_title(f"{m['true']}\n→ {m['pred']} {m['confidence']:.0%}", fontsize=8, color=WRONG)
        _mark(ax, True)
    right.suptitle("the most confident mistakes: true class → predicted, confidence" if k else "no mistakes",
                   fontsize=9)
    show_figure(fig, show)
    return MistakeReport(fig, C, preds.accuracy, shown, preds, names)


# ----------------------------------------------------------------------------------------------
# a grid of predictions, right and wrong
# ----------------------------------------------------------------------------------------------
@dataclass
class PredictionGrid:
    """What :func:`show_predictions` drew, one entry per image in the order drawn: ``index`` (the
    position in ``X``), ``y`` (true class), ``y_hat`` (predicted) and ``correct``."""

    fig: Figure
    index: list[int]
    y: list[int]
    y_hat: list[int]
    correct: list[bool]

    @property
    def num_wrong(self) -> int:
        return self.correct.count(False)


def show_predictions(net: nn.Module, X: Tensor, y: Tensor, *, n: int = 8, num_wrong: int | None = None,
                     labels: Sequence[str] | Callable | None = None, ncols: int | None = None,
                     scale: float = 1.25, show: bool | None = None) -> PredictionGrid:
    """Draw ``n`` images of the batch ``X`` titled "true" over "pred", wrong ones in red.

    ``num_wrong`` of them (default ``n // 2``) are mistakes where the batch has that many; the rest
    are correct predictions (and more mistakes if there are too few correct ones). They keep their
    order in ``X``. ``net`` runs in eval mode under ``torch.no_grad()``; its mode is restored after.
    """
    instance_of(net, nn.Module, "net", "the network whose predictions to show (an nn.Module)")
    if not isinstance(X, Tensor) or X.dim() != 4 or not X.is_floating_point():
        got = f"{X.dtype} of shape {list(X.shape)}" if isinstance(X, Tensor) else short(X)
        raise ValueError(f"X must be a batch of floating-point images [batch, channels, height, width] (e.g. from "
                         f"X, y = next(iter(test_iter))), got {got}")
    if not isinstance(y, Tensor) or y.dim() != 1 or len(y) != len(X) or y.is_floating_point():
        got = f"{y.dtype} of shape {list(y.shape)}" if isinstance(y, Tensor) else short(y)
        raise ValueError(f"y must be the {len(X)} integer labels of X, shape [{len(X)}], got {got}")
    n = min(as_int(n, "n"), len(X))
    num_wrong = n // 2 if num_wrong is None else min(as_int(num_wrong, "num_wrong", minimum=0), n)
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            scores = net(X.to(model_device(net), weight_dtype(net)))
    finally:
        net.train(was_training)
    y_hat = scores.argmax(dim=1).cpu()
    y = y.cpu()
    wrong = (y_hat != y).nonzero().flatten().tolist()
    right = (y_hat == y).nonzero().flatten().tolist()
    take_wrong = min(num_wrong, len(wrong))
    take_right = min(n - take_wrong, len(right))
    take_wrong = min(len(wrong), n - take_right)
    index = sorted(wrong[:take_wrong] + right[:take_right])
    names = class_names(scores.shape[1], labels)

    ncols = as_int(ncols, "ncols") if ncols is not None else min(len(index), 8) or 1
    nrows = max(1, math.ceil(len(index) / ncols))
    fig = Figure(figsize=(ncols * scale, nrows * (scale + 0.35) + 0.25), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, index):
        ax.axis("on")
        data, cmap = _image(X[i])
        ax.imshow(data, cmap=cmap)
        bad = bool(y_hat[i] != y[i])
        ax.set_title(f"{names[int(y[i])]}\n→ {names[int(y_hat[i])]}", fontsize=8, color=WRONG if bad else "black")
        _mark(ax, bad)
    got = sum(bool(y_hat[i] != y[i]) for i in index)
    fig.suptitle(f"true class → predicted class; red: wrong ({got} of {len(index)} shown)", fontsize=8.5)
    show_figure(fig, show)
    return PredictionGrid(fig, index, [int(y[i]) for i in index], [int(y_hat[i]) for i in index],
                          [bool(y_hat[i] == y[i]) for i in index])
