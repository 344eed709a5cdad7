"""The positional call forms of ``train_ch5`` that the write-ups use, recognised by their arguments' types.

- ``train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs)``: the book's
  first edition (PyTorch port); the loaders set the batch size.
- ``train_ch5(net, train_iter, test_iter, criterion, num_epochs, batch_size, device, lr)``: the
  AlexNet write-up; SGD with ``lr``.

Each trains exactly as the keyword call it stands for, which a line names (unless ``verbose=False``).
"""
from __future__ import annotations

import torch
from torch import nn

from ..core.legacy import Form

__all__ = ["ALEXNET_WRITEUP", "CURRENT", "FIRST_EDITION", "looks_old"]

CURRENT = "train_ch5(net, train_iter, test_iter, num_epochs, lr=None, device=None, *, optimizer=None, loss=None, ...)"


def _is_count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_loss(x) -> bool:
    return (isinstance(x, nn.Module) or callable(x)) and not isinstance(x, (type, torch.optim.Optimizer))


def _device(device) -> str:
    return repr(str(device)) if device is not None else "None"


def looks_old(args: tuple) -> bool:
    """A call is in an older form when it has more positional arguments than this package's form
    takes, or an optimizer or a loss where that form has numbers."""
    return len(args) > 6 or (len(args) > 4 and isinstance(args[4], torch.optim.Optimizer)) or (
        len(args) > 3 and _is_loss(args[3]))


def _first_edition(args: tuple, kwargs: dict) -> dict | None:
    if len(args) != 7 or kwargs.get("optimizer") is not None:
        return None
    net, train_iter, test_iter, batch_size, optimizer, device, num_epochs = args
    if isinstance(optimizer, torch.optim.Optimizer) and _is_count(batch_size) and _is_count(num_epochs):
        return dict(net=net, train_iter=train_iter, test_iter=test_iter, num_epochs=num_epochs, optimizer=optimizer,
                    device=device)
    return None


def _alexnet_writeup(args: tuple, kwargs: dict) -> dict | None:
    if len(args) not in (7, 8) or kwargs.get("loss") is not None:
        return None
    net, train_iter, test_iter, criterion, num_epochs, batch_size, device, *lr = args
    if _is_loss(criterion) and _is_count(num_epochs) and (batch_size is None or _is_count(batch_size)):
        return dict(net=net, train_iter=train_iter, test_iter=test_iter, num_epochs=num_epochs,
                    lr=lr[0] if lr else None, loss=criterion, device=device)
    return None


FIRST_EDITION = Form(
    "train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs)",
    "the book's first edition (PyTorch port)", _first_edition,
    lambda c: ("train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs) is the book's "
               "first edition's call; it stands for train_ch5(net, train_iter, test_iter, "
               f"num_epochs={c['num_epochs']}, optimizer=optimizer, device={_device(c['device'])}) (the loaders set "
               "the batch size)"))

ALEXNET_WRITEUP = Form(
    "train_ch5(net, train_iter, test_iter, criterion, num_epochs, batch_size, device, lr)",
    "the AlexNet write-up", _alexnet_writeup,
    lambda c: ("train_ch5(net, train_iter, test_iter, criterion, num_epochs, batch_size, device, lr) is the "
               "AlexNet write-up's call; it stands for train_ch5(net, train_iter, test_iter, "
               f"num_epochs={c['num_epochs']}, lr={c['lr']}, loss=criterion, device={_device(c['device'])}) (SGD with "
               "lr; the loaders set the batch size)"))
