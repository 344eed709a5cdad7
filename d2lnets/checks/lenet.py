"""Chapter 1 checks: the modern LeNet and the output-size formula."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..shapes import num_params
from ._util import call, expect

__all__ = ["check_conv_output_size", "check_modern_lenet"]


def _build(make: Callable | nn.Module, what: str):
    """Call the learner's function (or take their object)."""
    return call(make, what) if callable(make) and not isinstance(make, nn.Module) else make


def _shape_trace(net: nn.Module, X: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    trace = []
    for layer in net:
        X = layer(X)
        trace.append((type(layer).__name__, tuple(X.shape)))
    return trace


# The modern LeNet, layer by layer, on one 1x28x28 image.
_MODERN_LENET_TRACE = [
    ("Conv2d", (1, 6, 28, 28)), ("ReLU", (1, 6, 28, 28)), ("MaxPool2d", (1, 6, 14, 14)),
    ("Conv2d", (1, 16, 10, 10)), ("ReLU", (1, 16, 10, 10)), ("MaxPool2d", (1, 16, 5, 5)),
    ("Flatten", (1, 400)), ("Linear", (1, 120)), ("ReLU", (1, 120)),
    ("Linear", (1, 84)), ("ReLU", (1, 84)), ("Linear", (1, 10)),
]


# The windows of the layers whose output shape other settings could also give.
_MODERN_LENET_SETTINGS = {
    0: {"kernel_size": 5, "stride": 1, "padding": 2}, 3: {"kernel_size": 5, "stride": 1, "padding": 0},
    2: {"kernel_size": 2, "stride": 2, "padding": 0}, 5: {"kernel_size": 2, "stride": 2, "padding": 0},
}


def check_modern_lenet(make_net: Callable[[], nn.Module] | nn.Module) -> None:
    """Chapter 1: the book's LeNet with ReLU and max pooling, as an ``nn.Sequential`` of 12 layers."""
    expect(make_net, "check_modern_lenet", "modern_lenet()", "factory or module")
    net = _build(make_net, "modern_lenet")
    assert isinstance(net, nn.Sequential), (
        f"expected an nn.Sequential of layers, got {type(net).__name__}")
    kinds = {type(m).__name__ for m in net.modules()}
    assert not kinds & {"Sigmoid", "Tanh"}, (
        "this is still the classic LeNet: the modern one replaces every Sigmoid by nn.ReLU()")
    assert "AvgPool2d" not in kinds, (
        "replace nn.AvgPool2d by nn.MaxPool2d(kernel_size=2, stride=2): modern LeNet takes the maximum")
    X = torch.zeros(1, 1, 28, 28)
    try:
        trace = _shape_trace(net, X)
    except RuntimeError as e:
        raise AssertionError(
            f"a 1x1x28x28 image does not go through your network ({e}). Did the first convolution "
            "keep the 28x28 size with padding=2, and does the first Linear take 16*5*5 = 400 inputs?"
        ) from e
    for i, (got, want) in enumerate(zip(trace, _MODERN_LENET_TRACE)):
        assert got == want, (
            f"layer {i} ({got[0]}) outputs shape {got[1]}, expected {want[0]} with output {want[1]}. "
            "Layer by layer the modern LeNet is: " + ", ".join(f"{k} {s}" for k, s in _MODERN_LENET_TRACE))
    assert len(trace) == len(_MODERN_LENET_TRACE), (
        f"your network has {len(trace)} layers; the modern LeNet has {len(_MODERN_LENET_TRACE)}")
    n_params = num_params(net)
    assert n_params == 61_706, f"your network has {n_params:,} parameters; the book's LeNet has 61,706"
    for i, layer in enumerate(net):   # shapes alone let other windows through, e.g. MaxPool2d(3, 2, padding=1)
        for attr, want in _MODERN_LENET_SETTINGS.get(i, {}).items():
            got = getattr(layer, attr)
            got = got if isinstance(got, tuple) else (got, got)
            assert got == (want, want), (
                f"layer {i} ({type(layer).__name__}) has {attr}={got[0]}; the modern LeNet's has {attr}={want}: "
                "it keeps the book's LeNet's windows and changes only the kind of pooling and activation")


# (W, F, P, S) -> N, including AlexNet's first layer with and without the book's padding.
_CONV_CASES = [((28, 5, 2, 1), 28), ((28, 2, 0, 2), 14), ((10, 2, 0, 2), 5), ((227, 11, 0, 4), 55),
               ((224, 11, 1, 4), 54), ((55, 3, 0, 2), 27), ((13, 3, 1, 1), 13), ((7, 3, 0, 2), 3)]


def check_conv_output_size(conv_output_size: Callable[[int, int, int, int], int]) -> None:
    """Chapter 1: N = floor((W - F + 2P) / S) + 1, as an integer."""
    expect(conv_output_size, "check_conv_output_size", "conv_output_size(W, F, P, S)", "function")
    for (W, F, P, S), want in _CONV_CASES:
        got = call(conv_output_size, "conv_output_size", W, F, P, S)
        assert isinstance(got, int), (
            f"conv_output_size({W}, {F}, {P}, {S}) returned {got!r} ({type(got).__name__}); "
            "a size is a whole number: use floor division //")
        assert got == want, (
            f"conv_output_size(W={W}, F={F}, P={P}, S={S}) returned {got}, expected {want}. "
            "Padding adds P pixels on each side; then count the window's first position and "
            "every stride S it can still move without leaving the padded input.")
