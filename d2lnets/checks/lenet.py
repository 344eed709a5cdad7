"""Chapter 1 checks: the modern LeNet, a layer's cost (parameters and multiply-adds) and the
output-size formula."""
from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch import nn

from ..analysis.shapes import conv_output_size, num_params
from ..analysis.summary import summary
from ..models.lenet import LeNet, lenet
from ._forbid import forbids, guard
from ._util import call, expect
from .hints import see

__all__ = ["check_layer_cost", "check_modern_lenet"]


def _build(make: Callable | nn.Module, what: str):
    """Call the learner's function (or take their object)."""
    return call(make, what) if callable(make) and not isinstance(make, nn.Module) else make


def _shape_trace(net: nn.Module, X: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    trace = []
    with guard("modern_lenet"):
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


@forbids(lenet, LeNet, "d2l.torch.LeNet",
         instead="build it layer by layer from nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Flatten and nn.Linear")
def check_modern_lenet(make_net: Callable[[], nn.Module] | nn.Module) -> None:
    """Chapter 1: the book's LeNet with ReLU and max pooling, as an ``nn.Sequential`` of 12 layers."""
    expect(make_net, "check_modern_lenet", "modern_lenet()", "factory or module")
    net = _build(make_net, "modern_lenet")
    assert isinstance(net, nn.Sequential), (
        f"expected an nn.Sequential of layers, got {type(net).__name__}")
    kinds = {type(m).__name__ for m in net.modules()}
    assert not kinds & {"Sigmoid", "Tanh"}, (
        "this is still the classic LeNet: the modern one replaces every Sigmoid by nn.ReLU()"
        + see("check_modern_lenet", 2))
    assert "AvgPool2d" not in kinds, (
        "replace nn.AvgPool2d by nn.MaxPool2d(kernel_size=2, stride=2): modern LeNet takes the maximum"
        + see("check_modern_lenet", 2))
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
            "Layer by layer the modern LeNet is: " + ", ".join(f"{k} {s}" for k, s in _MODERN_LENET_TRACE)
            + see("check_modern_lenet", 3))
    assert len(trace) == len(_MODERN_LENET_TRACE), (
        f"your network has {len(trace)} layers; the modern LeNet has {len(_MODERN_LENET_TRACE)}"
        + see("check_modern_lenet", 1))
    n_params = num_params(net)
    assert n_params == 61_706, (f"your network has {n_params:,} parameters; the book's LeNet has 61,706"
                                + see("check_modern_lenet", 3))
    for i, layer in enumerate(net):   # shapes alone let other windows through, e.g. MaxPool2d(3, 2, padding=1)
        for attr, want in _MODERN_LENET_SETTINGS.get(i, {}).items():
            got = getattr(layer, attr)
            got = got if isinstance(got, tuple) else (got, got)
            assert got == (want, want), (
                f"layer {i} ({type(layer).__name__}) has {attr}={got[0]}; the modern LeNet's has {attr}={want}: "
                "it keeps the book's LeNet's windows and changes only the kind of pooling and activation"
                + see("check_modern_lenet", 2))



# ----------------------------------------------------------------------------------------------
# a layer's cost
# ----------------------------------------------------------------------------------------------
# (layer, the shape of one input example): LeNet's layers, AlexNet's first layer and one of its
# two-tower (grouped) layers, a depthwise convolution, a strided one without padding or bias, a
# rectangular window, a linear layer without bias.
def _cost_cases() -> list[tuple[nn.Module, tuple[int, ...]]]:
    return [
        (nn.Conv2d(1, 6, kernel_size=5, padding=2), (1, 28, 28)),
        (nn.Conv2d(6, 16, kernel_size=5), (6, 14, 14)),
        (nn.Linear(400, 120), (400,)),
        (nn.Conv2d(64, 128, kernel_size=3, stride=2, bias=False), (64, 15, 15)),
        (nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2), (96, 27, 27)),
        (nn.Conv2d(3, 96, kernel_size=11, stride=4), (3, 227, 227)),
        (nn.Conv2d(32, 32, kernel_size=3, padding=1, groups=32, bias=False), (32, 16, 16)),
        (nn.Conv2d(16, 32, kernel_size=(3, 1), stride=(2, 1), padding=(1, 0)), (16, 9, 6)),
        (nn.Linear(84, 10, bias=False), (84,)),
    ]


def _reference_cost(layer: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int, tuple[int, ...]]:
    """Parameters, multiply-adds and output shape of ``layer`` on one example, as ``d2l.summary`` counts them."""
    if isinstance(layer, nn.Linear):   # summary takes images: flatten an (n, 1, 1) one into n features
        row = summary(nn.Sequential(nn.Flatten(), layer), (input_shape[0], 1, 1)).rows[1]
    else:
        row = summary(nn.Sequential(layer), input_shape).rows[0]
    return row.params, row.macs, row.output_shape[1:]


def _out_side(W: int, F: int, P: int, S: int) -> int:
    return (W - F + 2 * P) // S + 1


def _conv_variants(conv: nn.Conv2d, input_shape) -> dict[str, tuple[int, int]]:
    """Plausible wrong (params, macs) for a convolution, by mistake."""
    _, H, W = input_shape
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    out, cin, g = conv.out_channels, conv.in_channels, conv.groups
    bias = out if conv.bias is not None else 0
    window = (cin // g) * kh * kw
    pixels = _out_side(H, kh, ph, sh) * _out_side(W, kw, pw, sw)
    return {
        "bias": (out * window + (0 if bias else out), out * window * pixels),
        "groups": (out * cin * kh * kw + bias, out * cin * kh * kw * pixels),
        "input size": (out * window + bias, out * window * H * W),
        "stride": (out * window + bias, out * window * _out_side(H, kh, ph, 1) * _out_side(W, kw, pw, 1)),
        "padding": (out * window + bias, out * window * _out_side(H, kh, 0, sh) * _out_side(W, kw, 0, sw)),
        "bias adds": (out * window + bias, (out * window + (out if bias else 0)) * pixels),
    }


def _linear_variants(linear: nn.Linear, input_shape) -> dict[str, tuple[int, int]]:
    n_in, n_out = linear.in_features, linear.out_features
    bias = n_out if linear.bias is not None else 0
    return {"bias": (n_in * n_out + (0 if bias else n_out), n_in * n_out),
            "bias adds": (n_in * n_out + bias, n_in * n_out + bias)}


# What the check says when a learner's numbers match a catalogued mistake, and the hint that helps.
_PARAM_HINTS = {
    "bias": ("the count is off by exactly one number per output channel (or output feature): the bias. "
             "A layer has a bias, one per output, when layer.bias is not None; with bias=False it has none", 1),
    "groups": ("the count ignores groups: with groups=g every filter sees only in_channels / g input "
               "channels (AlexNet's two towers, a depthwise convolution), so its weight tensor is "
               "g times smaller than an ungrouped one's", 1),
}
_MAC_HINTS = {
    "groups": ("the multiply-adds ignore groups: each filter reads only in_channels / groups channels", 2),
    "input size": ("you count the multiply-adds over the input's pixels. The window is applied once per "
                   "OUTPUT pixel: find the output's height and width first (padding and stride decide them)", 3),
    "stride": ("you ignore the stride: a stride of 2 moves the window two pixels at a time, so the output "
               "has about half as many rows (and columns) as with stride 1", 3),
    "padding": ("you ignore the padding: it adds P pixels on each side of the input before the window slides", 3),
    "twice": ("your multiply-adds are twice what d2l.summary counts. A multiply-add is ONE multiplication "
              "with its addition; FLOPs count the two apart (FLOPs = 2 x MACs)", 2),
    "bias adds": ("d2l.summary counts the multiplications of weights by inputs only, not the bias additions "
                  "(as torch.utils.flop_counter does): leave the bias out of the multiply-adds", 3),
}


def _as_count(value: object, what: str, case: str) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    assert isinstance(value, numbers.Integral) and not isinstance(value, bool), (
        f"{case} returned {value!r} ({type(value).__name__}) as the {what}; a count is a whole "
        "number (an int): multiply whole numbers, and use // where you divide")
    return int(value)


_RUNS = "runs the layer, and the exercise asks for the cost from the layer's settings alone"
_COUNTS = "counts them for you"


@forbids((summary, _COUNTS), (num_params, _COUNTS), (conv_output_size, "is part of what this exercise asks for"),
         *[(name, _COUNTS) for name in ("torch.utils.flop_counter", "torchinfo", "thop", "ptflops", "fvcore")],
         *[(name, _RUNS) for name in ("torch.nn.Conv2d", "torch.nn.Linear", "torch.nn.functional.conv2d",
                                      "torch.nn.functional.linear", "torch.conv2d")],
         instead="count from layer.in_channels, out_channels, kernel_size, stride, padding, groups and bias, "
                 "with the output-size formula")
def check_layer_cost(layer_cost: Callable[[nn.Module, tuple[int, ...]], tuple[int, int]]) -> None:
    """Chapter 1: ``layer_cost(layer, input_shape) -> (params, macs)`` for ``nn.Conv2d`` and
    ``nn.Linear``, on one example of shape ``(C, H, W)`` or ``(in_features,)``: the parameters and
    the multiply-adds that :func:`d2lnets.summary` counts for that layer."""
    expect(layer_cost, "check_layer_cost", "layer_cost(layer, input_shape)", "function")
    for layer, input_shape in _cost_cases():
        want_params, want_macs, _ = _reference_cost(layer, input_shape)
        case = f"layer_cost({layer}, {input_shape})"
        got = call(layer_cost, "layer_cost", layer, input_shape)
        assert isinstance(got, (tuple, list)) and len(got) == 2, (
            f"{case} returned {got!r}; return two numbers, (params, macs)")
        params, macs = _as_count(got[0], "parameters", case), _as_count(got[1], "multiply-adds", case)
        variants = (_conv_variants if isinstance(layer, nn.Conv2d) else _linear_variants)(layer, input_shape)
        variants["twice"] = (want_params, 2 * want_macs)   # after "groups": with groups=2 they agree
        if params != want_params:
            hint = next((_PARAM_HINTS[k][0] + see("check_layer_cost", _PARAM_HINTS[k][1]) for k, (p, _)
                         in variants.items() if k in _PARAM_HINTS and p == params and p != want_params),
                        "count the weights (one per output channel, per input channel it reads, per window "
                        "position) and the bias" + see("check_layer_cost", 1))
            raise AssertionError(f"{case} gives {params:,} parameters, expected {want_params:,}: {hint}")
        if macs != want_macs:
            hint = next((_MAC_HINTS[k][0] + see("check_layer_cost", _MAC_HINTS[k][1]) for k, (_, m)
                         in variants.items() if k in _MAC_HINTS and m == macs and m != want_macs),
                        "one multiply-add per weight of the window (without the bias), for every output value"
                        + see("check_layer_cost", 2))
            raise AssertionError(f"{case} gives {macs:,} multiply-adds, expected {want_macs:,}: {hint}")
