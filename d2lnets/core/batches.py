"""What the loops read and run: checked batches, a network's device and dtype, a loader on a device.

``train_ch5``, ``evaluate_accuracy`` and ``predict`` share these, so that a bad loader or a
network that does not fit its data gets the same clear message wherever it is met.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from torch import nn

from .validate import short

__all__ = ["END", "EVAL_BATCH", "check_batch", "check_not_meta", "check_outputs", "evaluation_batches",
           "first_forward", "iterable", "length", "model_device", "on_device", "weight_dtype"]

END = object()  # what next(iterator, END) gives when an iterator is used up
EVAL_BATCH = 1024  # on an accelerator, evaluation takes batches at least this large: fewer, fuller launches


def length(data) -> int | None:
    try:
        return len(data)
    except TypeError:  # no len(), or a torch IterableDataset's loader, whose len() raises
        return None


def iterable(data, name: str, passes: int, peek: bool = False):
    """``data`` ready to give ``passes`` passes of batches, or a clear error before any work.

    A one-shot iterator (a generator, ``zip``, ``iter(loader)``) gives one pass only. Emptiness is
    found by ``len()``, or by taking the first batch (of an iterator, which is then put back; of
    other iterables without ``len()`` only when ``peek``).
    """
    if isinstance(data, (str, bytes, dict, torch.Tensor, nn.Module)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{name} must be an iterable of (X, y) batches (a loader, a list of (X, y) pairs, "
                        f"a generator), got {short(data)}")
    one_shot = isinstance(data, Iterator)
    if one_shot and passes > 1:
        raise ValueError(f"{name} is an iterator ({type(data).__name__}): it is used up after one pass, but "
                         f"train_ch5 goes over it {passes} times (once per epoch). Pass something that can be "
                         "iterated again: a loader, or a list of its batches, list(...)")
    if length(data) == 0:
        raise ValueError(f"{name} is empty: it has no batches")
    if one_shot or (peek and length(data) is None):
        first = next(iter(data), END)
        if first is END:
            raise ValueError(f"{name} yielded no batches")
        if one_shot:
            data = itertools.chain([first], data)
    return data


def check_batch(batch, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The first batch of ``name`` as ``(X, y)``, with a clear error for what the loop cannot use."""
    where = f"the first batch of {name}"
    if isinstance(batch, dict):
        raise TypeError(f"{where} is a dict with keys {list(batch)[:5]}; batches must be (X, y) pairs of "
                        "images and labels: yield (batch[images_key], batch[labels_key]) instead")
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        what = (f"a {type(batch).__name__} of {len(batch)} items" if isinstance(batch, (tuple, list))
                else f"a tensor of shape {list(batch.shape)}" if isinstance(batch, torch.Tensor) else short(batch))
        raise TypeError(f"{where} is {what}; batches must be (X, y) pairs of images and labels. For "
                        "(X, y, ...) batches pass ((X, y) for X, y, *_ in loader); for a single batch, [(X, y)]")
    X, y = batch
    for label, t in (("X (the images)", X), ("y (the labels)", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"in {where}, {label} is {short(t)}, not a tensor; convert it with torch.as_tensor")
    if not X.is_floating_point():
        fix = "X.float() / 255 (pixels 0-255 to [0, 1])" if X.dtype == torch.uint8 else "X.float()"
        raise ValueError(f"in {where}, the images X are {X.dtype}; networks take floating-point images: "
                         f"convert with {fix}")
    if y.dim() == 2 and len(y) == len(X) and y.shape[1] > 1:
        raise ValueError(f"in {where}, the labels y have shape {list(y.shape)}: one-hot vectors or "
                         "probabilities; train_ch5 and evaluate_accuracy take class indices: y.argmax(dim=1)")
    if y.dtype != torch.int64 or y.dim() != 1:
        fix = "y" + (".long()" if y.dtype != torch.int64 else "") + (".reshape(-1)" if y.dim() != 1 else "")
        raise ValueError(f"in {where}, the labels y are {y.dtype} of shape {list(y.shape)}; labels are class "
                         f"indices, int64 of shape [batch]: convert with {fix}")
    if len(y) != len(X):
        raise ValueError(f"in {where}, X holds {len(X)} images but y {len(y)} labels")
    if len(X) == 0:
        raise ValueError(f"{where} holds no examples (X of shape {list(X.shape)}): leave empty batches out")
    return X, y


def check_outputs(y_hat, y: torch.Tensor, name: str) -> None:
    """On the first batch: ``net`` returns a score per class and the labels are among its classes."""
    if not isinstance(y_hat, torch.Tensor) or y_hat.dim() != 2 or len(y_hat) != len(y):
        got = f"shape {list(y_hat.shape)}" if isinstance(y_hat, torch.Tensor) else short(y_hat)
        raise ValueError(f"net must return class scores of shape [batch, classes], here [{len(y)}, classes]; "
                         f"it returned {got}")
    if y.numel() == 0:
        return
    classes, lo, hi = y_hat.shape[1], int(y.min()), int(y.max())
    said = f"the labels in the first batch of {name} go from {lo} to {hi}"
    if lo < 0:
        raise ValueError(f"{said}, but class indices start at 0 (net has {classes} outputs, classes 0 to "
                         f"{classes - 1}): map the labels to 0..{classes - 1}")
    if hi >= classes:
        from_one = " or, if the labels count from 1, use y - 1" if lo >= 1 and hi == classes else ""
        raise ValueError(f"{said}, but net has {classes} outputs (classes 0 to {classes - 1}): build the network "
                         f"with num_classes={hi + 1}{from_one}")


def first_forward(net: nn.Module, loss, X: torch.Tensor, y: torch.Tensor, name: str):
    """The first batch's scores (and loss, if ``loss``), with errors that say which call failed on what."""
    try:
        y_hat = net(X)
    except RuntimeError as e:  # torch's words; the course's models raise ValueErrors that say more
        raise ValueError(f"net failed on the first batch of {name}, images X of shape {list(X.shape)}: {e}. Does "
                         "the network take images of this size and number of channels?") from e
    check_outputs(y_hat, y, name)
    if loss is None:
        return y_hat, None
    try:
        l = loss(y_hat, y)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ValueError(f"the loss failed on the first batch ({e}); train_ch5 calls loss(y_hat, y) with the "
                         "scores y_hat [batch, classes] and the int64 labels y [batch], as nn.CrossEntropyLoss "
                         "takes them") from e
    if not isinstance(l, torch.Tensor) or not l.requires_grad:
        raise TypeError(f"the loss returned {short(l)}; it must return a tensor computed from the network's "
                        "output, so that it has a gradient")
    return y_hat, l


def on_device(data_iter, device: torch.device):
    """Let an in-memory loader make its batches on ``device`` (resize and augment there too)."""
    return data_iter.to(device) if hasattr(data_iter, "to") and hasattr(data_iter, "set_epoch") else data_iter


def evaluation_batches(data_iter, device: torch.device):
    """On an accelerator, an in-memory loader (one with ``batched``) in batches of at least
    :data:`EVAL_BATCH`; any other loader, and any loader on the CPU, as it is."""
    if device.type == "cpu" or not hasattr(data_iter, "batched"):
        return data_iter
    return data_iter.batched(max(EVAL_BATCH, data_iter.batch_size))


def model_device(net: nn.Module) -> torch.device:
    """Where ``net``'s (initialised) parameters are; the CPU when it has none."""
    p = next((p for p in net.parameters() if not isinstance(p, nn.parameter.UninitializedParameter)), None)
    return p.device if p is not None else torch.device("cpu")


def check_not_meta(net: nn.Module | None, device: torch.device | None = None) -> None:
    """Refuse a network whose weights are on the ``meta`` device, or ``device`` meta: shapes without values."""
    if device is not None and device.type == "meta":
        raise ValueError("device='meta' holds shapes without values, so nothing can be computed there: use 'cpu' "
                         "or 'cuda' (or leave device out)")
    if net is not None and any(t.is_meta for t in (*net.parameters(), *net.buffers())
           if not isinstance(t, nn.parameter.UninitializedTensorMixin)):
        raise ValueError("net's weights are on the meta device: they have shapes but no values (it was built "
                         "under torch.device('meta'), or moved there), so it cannot compute. Build it on the CPU "
                         "instead, or give it memory and then values: net.to_empty(device='cpu'), then load "
                         "weights (net.load_state_dict(...)) or initialise them")


def weight_dtype(net: nn.Module) -> torch.dtype:
    """The floating dtype of ``net``'s weights (float32 when it has none yet)."""
    dtypes = {p.dtype for p in net.parameters()
              if not isinstance(p, nn.parameter.UninitializedParameter) and p.is_floating_point()}
    if len(dtypes) > 1:
        raise ValueError(f"net mixes weights of dtypes {sorted(map(str, dtypes))}; convert them to one, "
                         "e.g. net.float()")
    return dtypes.pop() if dtypes else torch.float32
