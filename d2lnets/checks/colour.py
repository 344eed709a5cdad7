"""Appendix (chapter 7) checks: a grouped convolution's parameters, the two towers by hand, and
AlexNet's feature-map sizes at 224 and 227 pixels.

The learner writes

- ``grouped_conv_params(c_in, c_out, kernel, groups, bias=True)``: the parameter count of
  ``nn.Conv2d(c_in, c_out, kernel, groups=groups, bias=bias)``;
- ``two_towers(X, weight, bias, padding)``: a convolution with ``groups=2`` as the two GPUs of
  2012 computed it, two ordinary convolutions on the two halves of the channels;
- ``alexnet_sizes(size, padding)``: the side of the feature maps after conv1, pool1, conv2, pool2,
  conv3, conv4, conv5 and pool5 of the paper's network for a ``size`` x ``size`` input and
  ``padding`` in conv1.

Every right answer is computed by torch (``nn.Conv2d``, ``F.conv2d``, layers run on an empty
input); each check says what is wrong, naming the usual mistake when it recognises one, and
never prints the answer.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._util import call, expect

__all__ = ["check_alexnet_sizes", "check_grouped_conv_params", "check_two_towers"]


# ----------------------------------------------------------------------------------------------
# a grouped convolution's parameters
# ----------------------------------------------------------------------------------------------
# (c_in, c_out, kernel, groups, bias): the paper's conv2, conv4 and conv5 among them
_PARAM_CASES = [(96, 256, 5, 2, True), (384, 384, 3, 2, True), (384, 256, 3, 2, False),
                (12, 18, 3, 3, True), (8, 8, 1, 4, True), (6, 4, 5, 1, True), (16, 32, 3, 8, False)]


def _conv_params(c_in: int, c_out: int, k: int, groups: int, bias: bool) -> int:
    conv = nn.Conv2d(c_in, c_out, k, groups=groups, bias=bias, device="meta")
    return sum(p.numel() for p in conv.parameters())


def _same(got, want: int) -> bool:
    return isinstance(got, numbers.Real) and not isinstance(got, bool) and got == want


def check_grouped_conv_params(fn: Callable) -> None:
    """``fn(c_in, c_out, kernel, groups, bias=True)`` must count ``nn.Conv2d``'s parameters."""
    expect(fn, "check_grouped_conv_params", "grouped_conv_params(c_in, c_out, kernel, groups, bias=True)",
           "function")
    name = "grouped_conv_params"
    for c_in, c_out, k, g, b in _PARAM_CASES:
        got = call(fn, name, c_in, c_out, k, g, bias=b)
        if isinstance(got, Tensor) and got.numel() == 1:
            got = got.item()
        shown = f"{name}({c_in}, {c_out}, {k}, {g}, bias={b})"
        assert isinstance(got, numbers.Real) and not isinstance(got, bool), (
            f"{shown} must return a number (the count of weights and biases), got {type(got).__name__}")
        want = _conv_params(c_in, c_out, k, g, b)
        if _same(got, want):
            continue
        weights, biases = c_in // g * c_out * k * k, c_out if b else 0
        hints = [
            (c_in * c_out * k * k + biases, "it ignores groups: each of the c_out kernels sees only "
                                            "c_in / groups input channels (its own tower's)"),
            (c_in * g * c_out * k * k + biases, "it multiplies by groups: a kernel sees c_in / groups "
                                                "channels, fewer than c_in, not more"),
            ((c_in // g) * (c_out // g) * k * k + biases,
             "it divides c_out by groups too: every one of the c_out kernels still exists, each "
             "tower has c_out / groups of them, and together they make c_out"),
            (weights + (c_out // g if b else 0), "it divides the biases by groups: every output channel has "
                                                 "its own bias"),
            (weights, "the biases are missing: with bias=True each output channel adds one"),
            (weights + c_out, "with bias=False there are no biases"),
            (c_in // g * c_out * k + biases, "the kernel is kernel x kernel: count k * k weights per input "
                                             "channel, not k"),
        ]
        for value, why in hints:
            if value != want and _same(got, value):
                raise AssertionError(f"{shown} is wrong: {why}")
        raise AssertionError(f"{shown} returned {got}, which is not the number of parameters of "
                             f"nn.Conv2d({c_in}, {c_out}, {k}, groups={g}, bias={b}). Count the weight "
                             "tensor's elements (out channels x in channels per group x k x k), then the biases.")


# ----------------------------------------------------------------------------------------------
# the two towers by hand
# ----------------------------------------------------------------------------------------------
def _tower_cases(gen: torch.Generator):
    # (X, weight, bias, padding): weight [c_out, c_in / 2, k, k] as nn.Conv2d(..., groups=2) holds it
    for c_in, c_out, k, p, size in ((4, 6, 3, 1, 5), (6, 4, 5, 2, 7), (8, 10, 3, 0, 6)):
        X = torch.randn(2, c_in, size, size, generator=gen)
        weight = torch.randn(c_out, c_in // 2, k, k, generator=gen)
        bias = torch.randn(c_out, generator=gen)
        yield X, weight, bias, p


def _halves(t: Tensor, dim: int = 1) -> tuple[Tensor, Tensor]:
    h = t.shape[dim] // 2
    return t.narrow(dim, 0, h), t.narrow(dim, h, t.shape[dim] - h)


def _towers(X, weight, bias, padding, *, x_swap=False, out_swap=False, interleave=False, no_bias=False):
    """The catalogued ways of getting the two towers wrong, and (with no switch) the right way."""
    if interleave:
        x0, x1 = X[:, 0::2], X[:, 1::2]
    else:
        x0, x1 = _halves(X)
    if x_swap:
        x0, x1 = x1, x0
    w0, w1 = _halves(weight, 0)
    b0, b1 = (None, None) if no_bias else _halves(bias, 0)
    y0, y1 = F.conv2d(x0, w0, b0, padding=padding), F.conv2d(x1, w1, b1, padding=padding)
    return torch.cat([y1, y0] if out_swap else [y0, y1], dim=1)


def check_two_towers(fn: Callable) -> None:
    """``fn(X, weight, bias, padding)`` must equal ``F.conv2d(X, weight, bias, padding=padding, groups=2)``."""
    signature = "two_towers(X, weight, bias, padding)"
    expect(fn, "check_two_towers", signature, "function")
    name = "two_towers"
    gen = torch.Generator().manual_seed(7)
    for X, weight, bias, padding in _tower_cases(gen):
        want = F.conv2d(X, weight, bias, padding=padding, groups=2)
        keep = X.clone()
        try:
            got = call(fn, name, X, weight, bias, padding)
        except RuntimeError as e:
            raise AssertionError(
                f"{name} raised RuntimeError on X {list(X.shape)} and weight {list(weight.shape)}: "
                f"{str(e).splitlines()[0]}. Each tower's kernels have c_in / 2 input channels: give each "
                "F.conv2d only its own half of X's channels (and of the kernels and biases)") from e
        assert torch.equal(X, keep), f"{name} changed X in place; return a new tensor"
        assert isinstance(got, Tensor), f"{name} must return a tensor, got {type(got).__name__}"
        assert got.shape == want.shape, (
            f"{name} returned shape {list(got.shape)} for X {list(X.shape)}, weight {list(weight.shape)} and "
            f"padding={padding}; a convolution with these has {want.shape[1]} output channels "
            f"{'and pads by padding on every side' if got.dim() == 4 and got.shape[1] == want.shape[1] else 'in all'}: "
            "concatenate the two towers' maps along the channels (dim=1)")
        if torch.allclose(got, want, rtol=1e-4, atol=1e-4):
            continue
        for switches, why in (
            (dict(x_swap=True), "each tower reads the wrong half of the input: the first half of the "
                                "kernels (tower 0) reads the first half of X's channels"),
            (dict(out_swap=True), "the towers' outputs are concatenated in the wrong order: tower 0's maps "
                                  "(made by the first half of the kernels) come first"),
            (dict(interleave=True), "the towers hold contiguous halves of the channels (0 .. C/2 - 1 and "
                                    "C/2 .. C - 1), not every other channel"),
            (dict(no_bias=True), "the biases are missing: tower i adds its half of bias"),
            (dict(x_swap=True, out_swap=True), "the two towers are swapped: tower 0 (the first half of the "
                                               "kernels) reads the first half of X's channels and its maps "
                                               "come first"),
        ):
            if torch.allclose(got, _towers(X, weight, bias, padding, **switches), rtol=1e-4, atol=1e-4):
                raise AssertionError(f"{name} is wrong: {why}")
        raise AssertionError(
            f"{name} differs from nn.Conv2d(..., groups=2) on X {list(X.shape)} (max difference "
            f"{(got - want).abs().max().item():.3g}). Split X's channels and the kernels (and biases) into "
            "two halves, convolve each half of X with its half of the kernels, and concatenate")


# ----------------------------------------------------------------------------------------------
# AlexNet's feature-map sizes
# ----------------------------------------------------------------------------------------------
# (kernel, stride, padding) after conv1 of the paper's network: pool1, conv2, pool2, conv3..5, pool5
_LAYERS = [("pool1", 3, 2, 0), ("conv2", 5, 1, 2), ("pool2", 3, 2, 0), ("conv3", 3, 1, 1),
           ("conv4", 3, 1, 1), ("conv5", 3, 1, 1), ("pool5", 3, 2, 0)]
NAMES = ["conv1"] + [n for n, *_ in _LAYERS]
_SIZE_CASES = [(227, 0), (224, 2), (224, 0), (256, 0), (231, 1), (195, 3)]


def _true_sizes(size: int, padding: int) -> list[int]:
    """Run an empty image through conv1 (11/4) and the paper's layers: torch says the sizes."""
    layers = [nn.Conv2d(1, 1, 11, stride=4, padding=padding, device="meta")]
    for name, k, s, p in _LAYERS:
        layers.append(nn.MaxPool2d(k, s, p) if name.startswith("pool") else nn.Conv2d(1, 1, k, s, p, device="meta"))
    X, sizes = torch.empty(1, 1, size, size, device="meta"), []
    for layer in layers:
        X = layer(X)
        sizes.append(X.shape[-1])
    return sizes


def _formula_sizes(size, padding, rounding=math.floor, plus_one=True, double_pad=True, pad_later=True):
    one = 1 if plus_one else 0
    out, w = [], size
    for k, s, p in [(11, 4, padding)] + [(k, s, p if pad_later else 0) for _, k, s, p in _LAYERS]:
        w = rounding((w - k + (2 * p if double_pad else p)) / s) + one
        out.append(w)
    return out


def check_alexnet_sizes(fn: Callable) -> None:
    """``fn(size, padding)`` must list the 8 map sides after conv1, pool1, conv2, pool2, conv3..5, pool5."""
    expect(fn, "check_alexnet_sizes", "alexnet_sizes(size, padding)", "function")
    name = "alexnet_sizes"
    for size, padding in _SIZE_CASES:
        got = call(fn, name, size, padding)
        shown = f"{name}({size}, {padding})"
        if isinstance(got, Tensor):
            got = got.tolist()
        assert isinstance(got, (list, tuple)) and len(got) == len(NAMES), (
            f"{shown} must return a list of {len(NAMES)} sizes, one after each of {', '.join(NAMES)}; "
            f"got {type(got).__name__}{f' of {len(got)}' if isinstance(got, (list, tuple)) else ''}")
        want = _true_sizes(size, padding)
        if list(got) == want and all(isinstance(v, numbers.Integral) for v in got):
            continue
        if any(isinstance(v, float) and not v.is_integer() for v in got):
            raise AssertionError(f"{shown} returned fractional sizes: a kernel that does not fit at the "
                                 "last step is not applied there, so the size is rounded down (floor, //)")
        if [float(v) for v in got] == [float(v) for v in want]:
            raise AssertionError(f"{shown}: return whole numbers (int), e.g. with // instead of /")
        for kwargs, why in (
            (dict(rounding=math.ceil), "it rounds up: a window that does not fit at the last step is not "
                                       "applied, so round down"),
            (dict(plus_one=False), "it forgets the + 1: the first window position counts too"),
            (dict(double_pad=False), "padding is added on both sides: W - F + 2P"),
            (dict(pad_later=False), "only conv1's padding is counted: conv2 (padding 2) and conv3-5 "
                                    "(padding 1) keep the size of their input"),
        ):
            if list(got) == _formula_sizes(size, padding, **kwargs):
                raise AssertionError(f"{shown} is wrong: {why}")
        wrong = next(n for n, g, w in zip(NAMES, got, want) if g != w)
        raise AssertionError(f"{shown} is wrong from {wrong} on. Apply N = floor((W - F + 2P) / S) + 1 "
                             "layer by layer: conv1 11/4 with the given padding, 3x3 pools with stride 2, "
                             "conv2 5x5 with padding 2, conv3-5 3x3 with padding 1")
