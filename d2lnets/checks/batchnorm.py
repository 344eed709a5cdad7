"""Chapter 4 check: batch normalisation from scratch.

The learner writes ``BatchNorm2d(num_features, eps=1e-5, momentum=0.1)``, an ``nn.Module`` with the
parameters ``gamma`` (ones) and ``beta`` (zeros) and the buffers ``running_mean`` (zeros) and
``running_var`` (ones), of ``num_features`` values each (``[1, C, 1, 1]`` is accepted too). In
training it normalises each channel with the batch's mean and biased variance over the batch,
height and width, scales by ``gamma``, shifts by ``beta``, and moves the running statistics
``momentum`` of the way towards the batch's (the variance unbiased); in evaluation it normalises
with the running statistics and leaves them alone. ``num_batches_tracked`` is not needed.

The check runs the learner's layer and ``nn.BatchNorm2d`` (same gamma, beta, eps and momentum) through
the same steps (three training batches, two in evaluation mode, one more in training) and compares
outputs and running statistics after every step, then the gradients. When they differ it runs the
catalogued mistakes through the same steps and names the one that matches (a biased running
variance, the momentum the wrong way round, running statistics in training, batch statistics in
evaluation, statistics per pixel, over the channels or per image, eps outside the square root,
no gamma and beta, running statistics never updated or updated in evaluation, the unbiased variance
in the normalisation); a graph kept in the running statistics and detached batch statistics get
messages of their own.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ._forbid import forbids
from ._util import call, expect
from .hints import see

__all__ = ["check_batch_norm"]

C = 4
_SCALE = torch.tensor([0.1, 0.3, 1.0, 3.0]).view(1, C, 1, 1)      # small variances make eps matter
_SHIFT = torch.tensor([-1.0, 0.5, 2.0, 0.0]).view(1, C, 1, 1)


def _steps() -> list[tuple[bool, Tensor]]:
    """(training?, batch): three training steps, two evaluation steps, one more training step."""
    g = torch.Generator().manual_seed(4)
    batches = [(torch.randn(2, C, 3, 3, generator=g) * (1 + i / 2) + i / 3) * _SCALE + _SHIFT for i in range(6)]
    return list(zip([True, True, True, False, False, True], batches))


_DIMS = {"per pixel": (0,), "over the channels": (1,), "per example": (1, 2, 3), "per image": (2, 3)}

# mistake -> (message, hint)
_MISTAKES = {
    "biased running variance": (
        "your running variance uses the biased variance of the batch (divided by n). torch keeps the "
        "unbiased one (divided by n - 1, n values per channel) in running_var, while it normalises the "
        "batch itself with the biased one", 2),
    "momentum swapped": (
        "your running statistics move the wrong way: momentum is the weight of the NEW batch's "
        "statistic, running = (1 - momentum) * running + momentum * batch", 2),
    "running in training": (
        "in training mode you normalise with the running statistics. Training normalises each batch "
        "with its own mean and variance; the running statistics are only kept for evaluation", 1),
    "updated running in training": (
        "in training mode you normalise with the running statistics you have just updated. Training "
        "normalises each batch with its own mean and variance", 1),
    "batch in eval": (
        "in evaluation mode you normalise with the batch's statistics. After net.eval() the layer uses "
        "running_mean and running_var, so that a prediction does not depend on the other images of the batch", 3),
    "per pixel": (
        "your statistics are per pixel (over the batch only): a channel has one mean and one variance, "
        "over the batch, the height and the width, dims (0, 2, 3)", 1),
    "over the channels": (
        "your statistics run over the channels: batch norm keeps the channels apart and averages over "
        "the batch, the height and the width, dims (0, 2, 3)", 1),
    "per example": (
        "your statistics are per example (over its channels, height and width: that is layer "
        "normalisation). Batch norm averages each channel over the batch, the height and the width, "
        "dims (0, 2, 3)", 1),
    "per image": (
        "your statistics are per image and channel (over the height and width only: that is instance "
        "normalisation). Batch norm averages each channel over the whole batch too, dims (0, 2, 3)", 1),
    "eps outside": (
        "eps is outside the square root: divide by sqrt(var + eps), not by sqrt(var) + eps", 1),
    "no affine": (
        "your output is the normalised batch itself: scale it by gamma and shift it by beta, "
        "gamma * X_hat + beta, one of each per channel", 1),
    "not updated": (
        "your running statistics never change: in training mode move them towards each batch's "
        "statistics, running = (1 - momentum) * running + momentum * batch", 2),
    "updated in eval": (
        "your running statistics change in evaluation mode: only training updates them; after "
        "net.eval() they stay as they are", 3),
    "unbiased normalisation": (
        "you normalise with the unbiased variance (divided by n - 1). torch normalises the batch with "
        "the biased variance (divided by n) and keeps the unbiased one only in running_var", 1),
}


def _simulate(steps, gamma: Tensor, beta: Tensor, eps: float, momentum: float, mistake: str | None = None):
    """[(Y, running_mean, running_var)] after each step, for the right layer or one with ``mistake``
    (running statistics None where the mistake gives them another shape)."""
    rm, rv, out = torch.zeros(C), torch.ones(C), []
    g, b = gamma.view(1, C, 1, 1), beta.view(1, C, 1, 1)
    dims = _DIMS.get(mistake, (0, 2, 3))
    for training, X in steps:
        mean, var = X.mean(dims, keepdim=True), X.var(dims, unbiased=mistake == "unbiased normalisation", keepdim=True)
        old = rm, rv
        if (training and mistake != "not updated") or mistake == "updated in eval":
            batch_var = X.var(dims, unbiased=mistake != "biased running variance", keepdim=True) if training else (
                X.var((0, 2, 3), unbiased=True))
            m = 1 - momentum if mistake == "momentum swapped" else momentum
            if mistake not in _DIMS:
                rm = (1 - m) * rm + m * (mean if training else X.mean((0, 2, 3))).reshape(-1)
                rv = (1 - m) * rv + m * batch_var.reshape(-1)
        use_running = (not training and mistake != "batch in eval") or mistake in ("running in training",
                                                                                  "updated running in training")
        if use_running:
            mean, var = (old if mistake == "running in training" else (rm, rv))
            mean, var = mean.view(1, C, 1, 1), var.view(1, C, 1, 1)
        X_hat = (X - mean) / ((var.sqrt() + eps) if mistake == "eps outside" else (var + eps).sqrt())
        Y = X_hat if mistake == "no affine" else g * X_hat + b
        known = mistake not in _DIMS
        out.append((Y, rm.clone() if known else None, rv.clone() if known else None))
    return out


def _same(a: Tensor | None, b: Tensor | None) -> bool:
    return a is None or b is None or (isinstance(a, Tensor) and a.numel() == b.numel()
                                      and torch.allclose(a.reshape(b.shape).double(), b.double(), rtol=1e-4, atol=1e-5))


def _stat(bn: nn.Module, name: str) -> Tensor:
    value = getattr(bn, name)
    return value.detach().clone() if isinstance(value, Tensor) else value


def _run(bn: nn.Module, steps, what: str) -> tuple[list[tuple[Tensor, Tensor, Tensor]], AssertionError | None]:
    """The learner's outputs and running statistics after each step, up to a step that fails (and its failure)."""
    out = []
    for training, X in steps:
        bn.train(training)
        try:
            with torch.no_grad():
                Y = call(bn, "BatchNorm2d.forward", X.clone())
        except (RuntimeError, ValueError) as e:
            failure = AssertionError(f"{what} fails on a batch of shape {tuple(X.shape)} in "
                                     f"{'training' if training else 'evaluation'} mode ({e}): the statistics have "
                                     "one value per channel" + see("check_batch_norm", 1))
            return out, failure
        assert isinstance(Y, Tensor) and Y.shape == X.shape, (
            f"{what} turned a batch of shape {tuple(X.shape)} into "
            f"{tuple(Y.shape) if isinstance(Y, Tensor) else type(Y).__name__}: batch norm keeps the shape"
            + see("check_batch_norm", 1))
        out.append((Y, _stat(bn, "running_mean"), _stat(bn, "running_var")))
    return out, None


def _structure(bn: object, what: str) -> None:
    assert isinstance(bn, nn.Module), f"{what} returned a {type(bn).__name__}; make BatchNorm2d a subclass of nn.Module"
    params, buffers = dict(bn.named_parameters()), dict(bn.named_buffers())
    for name, kind, init, where in (("gamma", "parameter", 1.0, params), ("beta", "parameter", 0.0, params),
                                    ("running_mean", "buffer", 0.0, buffers), ("running_var", "buffer", 1.0, buffers)):
        value = getattr(bn, name, None)
        assert isinstance(value, Tensor), (
            f"{what} has no tensor {name}: the exercise names the layer's {kind}s gamma, beta, running_mean and "
            "running_var" + see("check_batch_norm", 3))
        assert name in where, (
            f"{what}.{name} is a plain tensor attribute; register it as a {kind} ("
            + ("nn.Parameter, so that the optimizer trains it" if kind == "parameter" else
               "self.register_buffer, so that it is saved and moved with the layer") + ")" + see("check_batch_norm", 3))
        assert value.numel() == C, (
            f"{what}.{name} has {value.numel()} values; it needs one per channel, num_features = {C}"
            + see("check_batch_norm", 3))
        assert torch.all(value == init), (
            f"{what}.{name} starts at {value.reshape(-1).tolist()}; it starts at {init:g} for every channel "
            "(as torch's, so that a new layer changes nothing but the normalisation)" + see("check_batch_norm", 3))


def _diagnose(run, want, steps, gamma, beta, eps, momentum, what, defaults=False) -> None:
    """Fail at the first step where the learner's layer and torch's differ, naming the mistake if known."""
    mine, failure = run
    names = [("training" if t else "evaluation") + f" step {i + 1}" for i, (t, _) in enumerate(steps)]
    for i, ((Y, rm, rv), (tY, trm, trv)) in enumerate(zip(mine, want)):
        if _same(Y, tY) and _same(rm, trm) and _same(rv, trv):
            continue
        if defaults:   # right with eps and momentum given, so the defaults are off
            raise AssertionError(f"{what}, {names[i]}, differs from nn.BatchNorm2d({C}): give eps and momentum "
                                 "torch's defaults, eps=1e-5 and momentum=0.1" + see("check_batch_norm", 2))
        for mistake, (message, hint) in _MISTAKES.items():
            sim = _simulate(steps, gamma, beta, eps, momentum, mistake)
            if all(_same(a[0], b[0]) and _same(a[1], b[1]) and _same(a[2], b[2]) for a, b in zip(mine[:i + 1], sim)):
                raise AssertionError(f"{what}, {names[i]}: {message}" + see("check_batch_norm", hint))
        part = "output" if not _same(Y, tY) else "running_mean" if not _same(rm, trm) else "running_var"
        hint = 1 if part == "output" and steps[i][0] else 2 if steps[i][0] else 3
        raise AssertionError(f"{what}, {names[i]}: your {part} differs from nn.BatchNorm2d's with the same gamma, "
                             "beta, eps and momentum" + see("check_batch_norm", hint))
    if failure is not None:
        raise failure


@forbids("torch.nn.modules.batchnorm._NormBase", "torch.nn.LayerNorm", "torch.nn.GroupNorm",
         *[f"torch.nn.functional.{f}" for f in ("batch_norm", "instance_norm", "layer_norm", "group_norm")],
         *[f"torch.{f}" for f in ("batch_norm", "native_batch_norm", "instance_norm", "layer_norm", "group_norm")],
         *[f"torch.ops.aten.{f}" for f in ("batch_norm", "native_batch_norm", "_native_batch_norm_legit",
                                           "_native_batch_norm_legit_no_training")],
         instead="compute the batch's mean and variance with tensor operations (X.mean, X.var) and "
                 "normalise yourself")
def check_batch_norm(BatchNorm2d: Callable[..., nn.Module]) -> None:
    """Chapter 4: ``BatchNorm2d(num_features, eps=1e-5, momentum=0.1)`` from scratch, against ``nn.BatchNorm2d``."""
    expect(BatchNorm2d, "check_batch_norm", "BatchNorm2d(num_features, eps=1e-5, momentum=0.1)", "class")
    steps = _steps()
    for kwargs in ({"eps": 0.05, "momentum": 0.3}, {}):
        what = f"BatchNorm2d({C}" + "".join(f", {k}={v}" for k, v in kwargs.items()) + ")"
        bn = call(BatchNorm2d, "BatchNorm2d", C, **kwargs)
        _structure(bn, what)
        ref = nn.BatchNorm2d(C, **kwargs)
        g = torch.Generator().manual_seed(len(kwargs))
        gamma, beta = torch.rand(C, generator=g) + 0.5, torch.randn(C, generator=g)
        with torch.no_grad():
            for mine, theirs, value in ((bn.gamma, ref.weight, gamma), (bn.beta, ref.bias, beta)):
                mine.copy_(value.view_as(mine))
                theirs.copy_(value)
        mine, want = _run(bn, steps, what), _reference(ref, steps)
        _diagnose(mine, want, steps, gamma, beta, kwargs.get("eps", 1e-5), kwargs.get("momentum", 0.1), what,
                  defaults=not kwargs)
        _gradients(bn, ref, steps[0][1], what)


def _reference(ref: nn.Module, steps) -> list:
    out = []
    for training, X in steps:
        ref.train(training)
        with torch.no_grad():
            out.append((ref(X.clone()), ref.running_mean.clone(), ref.running_var.clone()))
    return out


def _gradients(bn: nn.Module, ref: nn.Module, X: Tensor, what: str) -> None:
    """One more training step with gradients: those of the input, gamma and beta are torch's, and the
    running statistics keep no graph."""
    W = torch.randn(X.shape, generator=torch.Generator().manual_seed(9))
    grads = []
    for layer, name in ((bn, "BatchNorm2d.forward"), (ref, "nn.BatchNorm2d")):
        layer.train()
        layer.zero_grad()
        Xg = X.clone().requires_grad_()
        Y = call(layer, name, Xg) if layer is bn else layer(Xg)
        (Y * W).sum().backward()
        grads.append((Xg.grad, *(p.grad for p in ((bn.gamma, bn.beta) if layer is bn else (ref.weight, ref.bias)))))
    for stat in ("running_mean", "running_var"):
        assert not getattr(bn, stat).requires_grad, (
            f"{what}.{stat} keeps a computation graph after a training step: update the running statistics "
            "under torch.no_grad() (or from mean.detach()), or every step's graph stays in memory"
            + see("check_batch_norm", 2))
    for part, mine, theirs in zip(("the input", "gamma", "beta"), *grads):
        assert mine is not None and _same(mine, theirs), (
            f"{what}: the gradient of {part} differs from nn.BatchNorm2d's"
            + (" (it has none: is it a parameter that takes part in the output?)" if mine is None else
               ": the batch's mean and variance must stay in the graph in training; only the running "
               "statistics are updated without gradients") + see("check_batch_norm", 2))
