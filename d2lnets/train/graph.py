"""Whole training steps replayed from a CUDA graph: the forward pass, the backward pass and the SGD
step recorded once, then launched as one unit at every step (only on CUDA).

A small network's step is hundreds of tiny kernels, and launching each from Python costs more
than running it: the GPU waits on the host. A CUDA graph (``torch.cuda.CUDAGraph``) records the
kernels of one step with their memory addresses and replays them all in one launch. So it works
on fixed buffers: each batch is copied into ``X`` and ``y``, and the scores, the loss and the
gradients come out at the same addresses every time. A batch of another shape (an epoch's last,
partial batch) is trained eagerly, as the loop always does.

What a graph cannot see is a Python number: the learning rate and the momentum, which the
one-cycle schedule changes at every step, would be frozen at their values during the capture. So
the captured step does SGD's arithmetic itself (:func:`sgd_step`) with the learning rate and the
momentum in device tensors, filled from the optimizer's parameter groups before each replay (a
fill launches a kernel with the number in it: no copy, no waiting). It is the arithmetic of
``torch.optim.SGD`` operation for operation: on the CPU the two agree bit for bit
(``tests/test_graph.py``). The momentum buffers are the optimizer's own, so checkpoints,
``state_dict`` and an eager step in between see one optimizer.

:func:`why_not_captured` says when a run is not captured: off CUDA, in the exact mode, fp16 with a
gradient scaler, a compiled model, several processes, a network spread over devices, or an
optimizer other than plain ``torch.optim.SGD`` (Adam's runs stay eager). The first
:data:`WARM_UP` steps run eagerly (cuDNN's autotuning, the momentum buffers, lazy set-up); a capture
that fails (a network that reads a number from the device in its forward pass) is reported once,
and the run goes on eagerly.
"""
from __future__ import annotations

import warnings

import torch

from ..core.precision import autocast

__all__ = ["WARM_UP", "CudaGraphs", "GraphStep", "sgd_step", "why_not_captured"]

WARM_UP = 3  # eager steps before the capture


def why_not_captured(run, capture: bool | str) -> str | None:
    """Why ``run``'s steps are not replayed from a CUDA graph, in a few words (None: they are).
    ``capture``: ``"auto"`` (or True) where it can, False never."""
    if capture not in (True, False, "auto"):
        raise ValueError(f"capture must be 'auto', True or False, got {capture!r}")
    optimizer = run.optimizer
    reasons = [
        (capture is False, "capture=False"),
        (run.device.type != "cuda", f"not on CUDA ({run.device.type})"),
        (run.settings.exact, "the exact mode"),
        (run.settings.scaler, "fp16 with a gradient scaler"),
        (run.model is not run.net, "a compiled or wrapped model"),
        (run.group is not None, "several processes"),
        (getattr(run.net, "devices", None) is not None, "a network spread over devices"),
        (type(optimizer) is not torch.optim.SGD, f"the optimizer is {type(optimizer).__name__}, not SGD"),
    ]
    why = next((what for bad, what in reasons if bad), None)
    if why is None and any(g.get("differentiable") for g in optimizer.param_groups):
        why = "a differentiable optimizer"
    return why


@torch.no_grad()
def sgd_step(params: list[torch.Tensor], grads: list[torch.Tensor], bufs: list[torch.Tensor] | None,
             lr: torch.Tensor, momentum: torch.Tensor, *, weight_decay: float = 0.0, dampening: float = 0.0,
             nesterov: bool = False, maximize: bool = False) -> None:
    """One step of ``torch.optim.SGD`` over one parameter group, with the learning rate ``lr`` and the
    ``momentum`` in 0-dim tensors (on the parameters' device), in place. ``bufs``: the momentum
    buffers (already made by an earlier step), or None without momentum.

    The same operations as torch's SGD, so the same numbers: ``grad + weight_decay * param``, then
    ``buf = momentum * buf + (1 - dampening) * grad`` (Nesterov: ``grad + momentum * buf``), then
    ``param - lr * step`` as one fused multiply-add, as ``param.add_(step, alpha=-lr)`` computes it.
    """
    if maximize:
        grads = torch._foreach_neg(grads)
    if weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    if bufs is not None:
        torch._foreach_mul_(bufs, momentum)
        torch._foreach_add_(bufs, grads, alpha=1 - dampening)
        if nesterov:
            grads = torch._foreach_addcmul(grads, bufs, [momentum.expand_as(b) for b in bufs])
        else:
            grads = bufs
    torch._foreach_addcmul_(params, grads, [lr.expand_as(p) for p in params], value=-1)


class CudaGraphs:
    """How a step is recorded and replayed: ``torch.cuda.CUDAGraph`` (the only way on a GPU; a test
    on the CPU puts in a stand-in that runs the recorded step eagerly at each replay)."""

    @staticmethod
    def record(body):
        """A graph of what ``body()`` launches (capturing runs nothing on the GPU)."""
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            body()
        return graph

    @staticmethod
    def replay(graph) -> None:
        graph.replay()


class GraphStep:
    """The run's training step, captured in a CUDA graph after :data:`WARM_UP` eager steps and
    replayed for every batch of the captured shape (see the module's docstring)."""

    backend = CudaGraphs

    def __init__(self, run) -> None:
        self.run, self.graph, self.eager = run, None, 0
        self.failed: str | None = None

    def __call__(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Train on ``(X, y)`` by replaying the graph: the scores and the loss (overwritten by the
        next replay), or None when this step must run eagerly."""
        if self.failed is not None:
            return None
        if self.graph is None:
            if self.eager < WARM_UP:
                self.eager += 1
                return None
            try:
                self._capture(X, y)
            except RuntimeError as e:  # e.g. a network that reads a number in its forward pass
                self.graph, self.failed = None, str(e).splitlines()[0]
                warnings.warn(f"train_ch5 could not capture the training step in a CUDA graph ({self.failed}); "
                              "the run goes on eagerly", RuntimeWarning, stacklevel=3)
                return None
        if X.shape != self.X.shape or y.shape != self.y.shape or self._groups() != self.groups:
            return None  # a partial batch, or an optimizer changed since the capture: eagerly
        self.X.copy_(X, non_blocking=True)
        self.y.copy_(y, non_blocking=True)
        for (lr, momentum), group in zip(self.numbers, self.run.optimizer.param_groups):
            lr.fill_(group["lr"])
            momentum.fill_(group["momentum"])
        self.backend.replay(self.graph)
        return self.y_hat, self.l

    def _groups(self) -> list[tuple]:
        """What the captured arithmetic fixed of each parameter group (all but lr and momentum's value)."""
        return [(len(g["params"]), g["momentum"] != 0, g["weight_decay"], g["dampening"], g["nesterov"],
                 g["maximize"]) for g in self.run.optimizer.param_groups]

    def _capture(self, X: torch.Tensor, y: torch.Tensor) -> None:
        run, optimizer = self.run, self.run.optimizer
        self.X, self.y = torch.empty_like(X), torch.empty_like(y)  # (empty_like keeps channels_last)
        self.groups = self._groups()
        self.numbers = [(torch.zeros((), device=run.device), torch.zeros((), device=run.device))
                        for _ in optimizer.param_groups]
        # what SGD updates: the parameters the eager steps gave gradients to, with their momentum buffers
        plan = []
        for group in optimizer.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            bufs = [optimizer.state[p].get("momentum_buffer") for p in params] if group["momentum"] != 0 else None
            if bufs is not None and any(b is None for b in bufs):
                raise RuntimeError("SGD has no momentum buffers yet")
            plan.append((group, params, bufs))

        def step() -> None:  # what the graph records: forward, backward, SGD
            optimizer.zero_grad(set_to_none=True)  # (at the capture: the backward writes the gradients afresh)
            with autocast(run.device, run.settings, cache=False):  # (autocast's cache cannot live in a graph)
                self.y_hat, self.l = run.forward(self.X, self.y)
            self.l.backward()
            for (group, params, bufs), (lr, momentum) in zip(plan, self.numbers):
                sgd_step(params, [p.grad for p in params], bufs, lr, momentum, weight_decay=group["weight_decay"],
                         dampening=group["dampening"], nesterov=group["nesterov"], maximize=group["maximize"])

        self.graph = self.backend.record(step)
