"""What every check shares."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def not_written(name: str) -> AssertionError:
    """The failure for a learner's unsolved stub (it raised NotImplementedError)."""
    return AssertionError(f"{name} is not written yet: replace the `raise NotImplementedError` line "
                          "with your solution and run its cell again")


def call(fn: Callable, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``fn``, turning the stub's NotImplementedError into a clear failure."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise not_written(name) from e


def randomize(ref: nn.Module, seed: int = 0, scale: float = 0.3) -> nn.Module:
    """``ref`` in eval mode with random weights and batch-norm statistics (seeded), so that every
    mistake in a learner's copy of it changes the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return ref.eval()


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
