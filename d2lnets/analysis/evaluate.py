"""How often a network is right: ``evaluate_accuracy`` (the book's ``evaluate_accuracy_gpu``)."""
from __future__ import annotations

import torch
from torch import nn

from ..core.batches import (
    check_batch,
    check_not_meta,
    evaluation_batches,
    first_forward,
    iterable,
    model_device,
    on_device,
    weight_dtype,
)
from ..core.config import as_device
from ..core.legacy import Form, legacy_forms
from ..core.memory import reuse_freed_memory
from ..core.precision import autocast, choose_settings
from ..core.validate import instance_of

__all__ = ["accuracy", "evaluate_accuracy"]


def _first_edition(args: tuple, kwargs: dict) -> dict | None:
    if len(args) in (2, 3) and isinstance(args[1], nn.Module) and not isinstance(args[0], nn.Module):
        return {"net": args[1], "data_iter": args[0], **({"device": args[2]} if len(args) == 3 else {})}
    return None


def _said(call: dict) -> str:
    device = call.get("device")
    where = "" if device is None else f", device={str(device)!r}"
    return (f"evaluate_accuracy(data_iter, net{', device' if device is not None else ''}) is the first edition's "
            f"order; it stands for evaluate_accuracy(net, data_iter{where})")


FIRST_EDITION = Form("evaluate_accuracy(data_iter, net, device=None)", "the book's first edition (PyTorch port)",
                     _first_edition, _said, once=True)


@legacy_forms("evaluate_accuracy(net, data_iter, device=None)", FIRST_EDITION,
              looks_old=lambda args: len(args) > 3 or (len(args) >= 2 and not isinstance(args[0], nn.Module)))
def evaluate_accuracy(net: nn.Module, data_iter, device=None, *, precision: str = "fp32") -> float:
    """Fraction of examples in ``data_iter`` that ``net`` classifies correctly (in eval mode).

    The first edition's order, ``evaluate_accuracy(data_iter, net, device)``, works as well (it
    says so in one line, the first time).
    """
    instance_of(net, nn.Module, "net", "the network to evaluate (an nn.Module)")
    check_not_meta(net)
    device = as_device(device) if device is not None else model_device(net)
    check_not_meta(net, device)
    return accuracy(net, data_iter, device, precision, "data_iter")


def accuracy(net: nn.Module, data_iter, device: torch.device, precision: str, name: str) -> float:
    """``net``'s accuracy over ``data_iter`` on ``device``, in eval mode (restored afterwards); the
    first batch is checked and named ``name`` in errors. One read from the device, at the end. On an
    accelerator an in-memory loader is read in batches of at least 1,024 (:func:`evaluation_batches`)."""
    settings = choose_settings(device, precision, "auto" if precision != "fp32" else False)
    weights, data_iter = weight_dtype(net), iterable(data_iter, name, 1)
    was_training = net.training
    net.eval()
    correct, total = torch.zeros((), dtype=torch.long, device=device), 0
    # inference_mode skips autograd's bookkeeping; but a lazy layer's first call creates its weights,
    # which must stay trainable: no_grad then
    lazy = any(isinstance(p, nn.parameter.UninitializedParameter) for p in net.parameters())
    no_autograd = torch.no_grad() if lazy else torch.inference_mode()
    try:
        with no_autograd, autocast(device, settings), reuse_freed_memory(device):
            for i, batch in enumerate(evaluation_batches(on_device(data_iter, device), device)):
                X, y = check_batch(batch, name) if i == 0 else batch
                X, y = X.to(device, weights, non_blocking=True), y.to(device, non_blocking=True)
                if settings.channels_last and X.dim() == 4:
                    X = X.contiguous(memory_format=torch.channels_last)
                y_hat = first_forward(net, None, X, y, name)[0] if i == 0 else net(X)
                correct += (y_hat.argmax(dim=1) == y).sum()
                total += y.numel()
    finally:  # also on an error or Ctrl-C: the network goes back to the mode it was in
        net.train(was_training)
    if total == 0:
        raise ValueError(f"{name} yielded no examples")
    return correct.item() / total
