"""Chapter 6 checks: pick a network from a table of costs and accuracies; a convolution's
multiply-adds by hand."""
from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ._util import call, expect

__all__ = ["check_cheapest_above", "check_conv_macs"]


# ----------------------------------------------------------------------------------------------
# the cheapest network above an accuracy
# ----------------------------------------------------------------------------------------------
def _row(name, params, macs, acc):
    return {"name": name, "params": params, "macs": macs, "accuracy": acc}


# Tables the check asks about: parameters and multiply-adds rank the networks differently, and the
# table's order is neither of them.
_TABLES = [
    [_row("A", 7_500_000, 80_000_000, 0.90), _row("B", 60_000, 400_000, 0.85), _row("C", 600_000, 9_600_000, 0.91),
     _row("D", 11_000_000, 35_000_000, 0.92), _row("E", 760_000, 14_000_000, 0.91)],
    [_row("net1", 500, 9_000, 0.70), _row("net2", 9_000, 800, 0.80), _row("net3", 100, 50_000, 0.95)],
]
# (table, min_accuracy); the answer is the name of the row with the fewest multiply-adds whose
# accuracy is at least min_accuracy, None when no row reaches it.
_CASES = [(0, 0.905), (0, 0.91), (0, 0.92), (0, 0.80), (0, 0.95), (1, 0.75), (1, 0.80), (1, 0.85), (1, 0.99)]


def _cheapest(table, min_acc, key="macs", at_least=True):
    ok = [r for r in table if (r["accuracy"] >= min_acc if at_least else r["accuracy"] > min_acc)]
    return min(ok, key=lambda r: r[key])["name"] if ok else None


_PICK_HINTS = [
    (lambda t, a: _cheapest(t, a, key="params"),
     "you compare parameters; the cost asked for is the multiply-adds, r['macs'] (a small network "
     "can compute a lot, and a big one little: the two rank networks differently)"),
    (lambda t, a: _cheapest(t, a, at_least=False),
     "a network whose accuracy equals min_accuracy is above the bar too: use >=, not >"),
    (lambda t, a: max((r for r in t if r["accuracy"] >= a), key=lambda r: r["accuracy"],
                      default={"name": None})["name"],
     "you pick the most accurate network above the bar; the question is the cheapest one"),
    (lambda t, a: min(t, key=lambda r: r["macs"])["name"],
     "you pick the cheapest network of all; only the networks whose accuracy reaches min_accuracy count"),
    (lambda t, a: min((r for r in t if r["accuracy"] < a), key=lambda r: r["macs"], default={"name": None})["name"],
     "the comparison is the wrong way round: keep the networks with accuracy >= min_accuracy"),
]


def check_cheapest_above(cheapest_above: Callable) -> None:
    """Chapter 6: ``cheapest_above(table, min_accuracy)``, the name of the row of ``table`` (dicts
    with ``name``, ``params``, ``macs``, ``accuracy``) with the fewest multiply-adds among those
    whose accuracy is at least ``min_accuracy``; None when there is none."""
    expect(cheapest_above, "check_cheapest_above", "cheapest_above(table, min_accuracy)", "function")
    got = []
    for i, min_acc in _CASES:
        table = [dict(r) for r in _TABLES[i]]
        value = call(cheapest_above, "cheapest_above", table, min_acc)
        assert table == _TABLES[i], "cheapest_above changed the table it was given; read it, do not modify it"
        if isinstance(value, dict) and "name" in value:
            raise AssertionError("cheapest_above returned a whole row; return its name, row['name']")
        got.append(value)
    want = [_cheapest(_TABLES[i], a) for i, a in _CASES]
    if got == want:
        return
    for rule, hint in _PICK_HINTS:
        if got == [rule(_TABLES[i], a) for i, a in _CASES]:
            raise AssertionError(f"cheapest_above picks the wrong network: {hint}")
    if any(w is None and g is not None for g, w in zip(got, want)):
        raise AssertionError("cheapest_above must return None when no network reaches min_accuracy")
    if any(w is not None and g is None for g, w in zip(got, want)):
        raise AssertionError("cheapest_above returned None although some network reaches min_accuracy")
    if not all(g is None or isinstance(g, str) for g in got):
        raise AssertionError("cheapest_above must return a network's name (row['name']), a string, or None")
    raise AssertionError("cheapest_above picks the wrong network for some tables: keep the rows with "
                         "accuracy >= min_accuracy, then take the one with the fewest multiply-adds")


# ----------------------------------------------------------------------------------------------
# a convolution's multiply-adds
# ----------------------------------------------------------------------------------------------
# Convolutions of the five networks (in, out, kernel, stride, padding, input size, groups).
_CONVS = [
    (6, 16, 5, 1, 0, 14, 1),        # LeNet's second convolution
    (1, 96, 11, 4, 1, 224, 1),      # the book's AlexNet, first convolution
    (48, 128, 5, 1, 2, 27, 2),      # the paper's AlexNet, conv2 in two towers (groups=2)
    (64, 128, 3, 1, 1, 112, 1),     # VGG-11's second convolution
    (128, 256, 3, 2, 1, 8, 1),      # ResNet-18, the first convolution of stage 3 at 32 px
    (128, 256, 1, 2, 0, 8, 1),      # ... and its 1x1 projection
    (192, 96, 1, 1, 0, 8, 1),       # DenseNet's first transition at 32 px
]


def _out(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def _macs(c_in, c_out, k, s, p, n, g):
    return c_out * _out(n, k, s, p) ** 2 * (c_in // g) * k * k


_MACS_HINTS = [
    (lambda c_in, c_out, k, s, p, n, g: 2 * _macs(c_in, c_out, k, s, p, n, g),
     "twice the answer: that counts FLOPs (a multiply and an add each); count multiply-adds"),
    (lambda c_in, c_out, k, s, p, n, g: c_out * _out(n, k, s, p) ** 2 * c_in * k * k,
     "right for groups=1 only: with groups=g each output channel sees in_channels / g input channels"),
    (lambda c_in, c_out, k, s, p, n, g: _macs(c_in, c_out, k, s, p, n, g) + c_out * _out(n, k, s, p) ** 2,
     "you add the biases: summary (and the convention) counts the multiply-adds of the weights only"),
    (lambda c_in, c_out, k, s, p, n, g: c_out * n * n * (c_in // g) * k * k,
     "you use the input's height and width; the kernel is applied once per OUTPUT pixel, "
     "(input_size + 2 * padding - kernel_size) // stride + 1 of them per side"),
    (lambda c_in, c_out, k, s, p, n, g: c_out * _out(n, k, s, 0) ** 2 * (c_in // g) * k * k,
     "the output size leaves out the padding: (input_size + 2 * padding - kernel_size) // stride + 1"),
    (lambda c_in, c_out, k, s, p, n, g: c_out * _out(n, k, 1, p) ** 2 * (c_in // g) * k * k,
     "the output size leaves out the stride: (input_size + 2 * padding - kernel_size) // stride + 1"),
    (lambda c_in, c_out, k, s, p, n, g: c_out * _out(n, k, s, p) ** 2 * (c_in // g) * k,
     "the kernel has kernel_size x kernel_size weights per input channel: multiply by kernel_size ** 2"),
    (lambda c_in, c_out, k, s, p, n, g: c_out * (c_in // g) * k * k,
     "that is the number of weights; each is used once per output pixel"),
]


def _reference(c_in, c_out, k, s, p, n, g) -> int:
    """The layer's multiply-adds as torch counts them (half its FLOPs), which is what ``d2l.summary``
    counts (the tests compare the two)."""
    layer = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, groups=g, bias=False, device="meta")
    with FlopCounterMode(display=False) as counter:
        layer(torch.zeros(1, c_in, n, n, device="meta"))
    return counter.get_total_flops() // 2


def check_conv_macs(conv_macs: Callable) -> None:
    """Chapter 6: ``conv_macs(in_channels, out_channels, kernel_size, stride, padding, input_size,
    groups=1)``, the multiply-adds of one ``nn.Conv2d`` on one square image, as ``d2l.summary``
    counts them, for convolutions of the five networks."""
    expect(conv_macs, "check_conv_macs",
           "conv_macs(in_channels, out_channels, kernel_size, stride, padding, input_size, groups=1)", "function")
    got, want = [], []
    for c_in, c_out, k, s, p, n, g in _CONVS:
        args = (c_in, c_out, k, s, p, n)
        value = call(conv_macs, "conv_macs", *args, groups=g) if g != 1 else call(conv_macs, "conv_macs", *args)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        assert isinstance(value, numbers.Integral) and not isinstance(value, bool), (
            f"conv_macs{args} returned {value!r} ({type(value).__name__}); multiply-adds are a whole "
            "number: use // for the output size")
        got.append(int(value))
        want.append(_reference(c_in, c_out, k, s, p, n, g))
    if got == want:
        return
    first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
    layer = "conv_macs({}, {}, {}, {}, {}, {}, groups={})".format(*_CONVS[first])
    for rule, hint in _MACS_HINTS:
        if all(v == rule(*c) for v, c in zip(got, _CONVS)):
            raise AssertionError(f"{layer} is not what summary counts: {hint}")
    raise AssertionError(f"{layer} is not what summary counts. Per output channel and output pixel, a "
                         "convolution multiplies and adds (in_channels / groups) * kernel_size ** 2 weights")
