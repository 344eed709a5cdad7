"""A network's predictions over a whole loader, and the confusion matrix they make.

``predict(net, test_iter)`` runs ``net`` in eval mode under ``torch.no_grad()`` (its mode is
restored afterwards, also on an error) over any iterable of ``(X, y)`` batches --
``d2l.load_data_fashion_mnist``'s loaders, a list, a generator -- and keeps every label, every
prediction and its confidence, plus the images of the most confidently wrong predictions
(only those: a resized test set would not fit in memory).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..core.batches import check_batch, check_outputs, iterable, model_device, on_device, weight_dtype
from ..core.config import as_device
from ..core.validate import as_int, instance_of, short

__all__ = ["Predictions", "confusion_matrix", "predict"]


@dataclass
class Predictions:
    """Labels ``y``, predictions ``y_hat`` and ``confidence`` (softmax probability of the predicted
    class), one each per example in the order of the loader, on the CPU; ``mistakes``: indices of the
    most confidently wrong examples, most confident first, with their images ``mistake_images``."""

    y: Tensor
    y_hat: Tensor
    confidence: Tensor
    num_classes: int
    mistakes: Tensor
    mistake_images: Tensor

    @property
    def accuracy(self) -> float:
        return float((self.y == self.y_hat).float().mean())

    @property
    def num_wrong(self) -> int:
        return int((self.y != self.y_hat).sum())

    def confusion(self) -> Tensor:
        """The ``num_classes x num_classes`` confusion matrix (rows: true class, columns: predicted)."""
        return confusion_matrix(self.y, self.y_hat, self.num_classes)


def confusion_matrix(y: Tensor, y_hat: Tensor, num_classes: int | None = None) -> Tensor:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as class ``j`` (int64).

    ``y`` and ``y_hat`` are class indices of the same length; ``num_classes`` defaults to the
    largest index + 1. The diagonal holds the correct predictions; each row sums to the examples
    of its class.
    """
    for name, t in (("y", y), ("y_hat", y_hat)):
        if not isinstance(t, Tensor) or t.dim() != 1 or t.is_floating_point() or t.dtype == torch.bool:
            got = f"{t.dtype} of shape {list(t.shape)}" if isinstance(t, Tensor) else short(t)
            fix = " (scores? take y_hat.argmax(dim=1))" if isinstance(t, Tensor) and t.dim() == 2 else ""
            raise ValueError(f"{name} must be a 1-D tensor of integer class indices, got {got}{fix}")
    if len(y) != len(y_hat):
        raise ValueError(f"y holds {len(y)} labels but y_hat {len(y_hat)} predictions; they must pair up")
    y, y_hat = y.long().cpu(), y_hat.long().cpu()
    top = int(max(y.max(), y_hat.max())) + 1 if len(y) else 0
    C = top if num_classes is None else as_int(num_classes, "num_classes")
    if len(y) and (min(int(y.min()), int(y_hat.min())) < 0 or top > C):
        raise ValueError(f"class indices must lie in 0..{C - 1} for num_classes={C}; got indices from "
                         f"{min(int(y.min()), int(y_hat.min()))} to {top - 1}")
    return torch.bincount(y * C + y_hat, minlength=C * C).reshape(C, C)


def predict(net: nn.Module, data_iter, device: torch.device | str | None = None, *, keep: int = 16) -> Predictions:
    """``net``'s predictions over ``data_iter``; ``keep`` the images of that many most confident mistakes.

    ``device``: where to run (default: where ``net``'s parameters are; ``net`` is not moved, so
    give the device it is on). An in-memory loader of this package makes its batches there.
    """
    instance_of(net, nn.Module, "net", "the network whose predictions to take (an nn.Module)")
    keep = as_int(keep, "keep", minimum=0)
    data_iter = iterable(data_iter, "data_iter", 1)
    device = as_device(device) if device is not None else model_device(net)
    data_iter, dtype = on_device(data_iter, device), weight_dtype(net)
    ys, preds, confs = [], [], []
    kept_idx, kept_conf, kept_img = torch.empty(0, dtype=torch.long), torch.empty(0), None
    offset, num_classes = 0, None
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            for i, batch in enumerate(data_iter):
                X, y = check_batch(batch, "data_iter") if i == 0 else batch
                logits = net(X.to(device, dtype))
                if i == 0:
                    check_outputs(logits, y.to(logits.device) if isinstance(logits, Tensor) else y, "data_iter")
                num_classes = logits.shape[1]
                conf, y_hat = torch.softmax(logits.float(), dim=1).max(dim=1)
                y, y_hat, conf = y.cpu(), y_hat.cpu(), conf.cpu()
                ys.append(y)
                preds.append(y_hat)
                confs.append(conf)
                wrong = (y_hat != y).nonzero().flatten()
                if keep and len(wrong):
                    idx = torch.cat([kept_idx, wrong + offset])
                    cf = torch.cat([kept_conf, conf[wrong]])
                    imgs = X[wrong.to(X.device)].detach().float().cpu()
                    imgs = imgs if kept_img is None else torch.cat([kept_img, imgs])
                    order = torch.argsort(cf, descending=True, stable=True)[:keep]
                    kept_idx, kept_conf, kept_img = idx[order], cf[order], imgs[order]
                offset += len(y)
    finally:  # also on an error or Ctrl-C: the network goes back to the mode it was in
        net.train(was_training)
    if not ys:
        raise ValueError("data_iter yielded no batches")
    y, y_hat = torch.cat(ys), torch.cat(preds)
    if int(y.max()) >= num_classes or int(y.min()) < 0:
        raise ValueError(f"the labels go from {int(y.min())} to {int(y.max())}, but net has {num_classes} outputs")
    if kept_img is None:
        kept_img = torch.empty(0)
    return Predictions(y, y_hat, torch.cat(confs), num_classes, kept_idx, kept_img)
