"""Chapter 1's layer-cost check accepts the reference answers and rejects the stub and the catalogued
mistakes, each with its own hint; its reference is d2l.summary."""
import pytest
import torch
from torch import nn

import d2lnets as d2l
from d2lnets.checks.hints import named
from d2lnets.checks.lenet import _cost_cases, check_layer_cost

pytestmark = pytest.mark.usefixtures("one_thread")


def _stub(layer, input_shape):
    raise NotImplementedError


def make_cost(bias="right", groups=True, pixels="output", stride=True, padding=True, mac_factor=1,
              bias_adds=False, divide=lambda a, b: a // b):
    """layer_cost from the formula, with switches for the catalogued mistakes.

    bias: "right", "never" (forgotten) or "always" (counted even when bias=False); pixels: count
    the multiply-adds over the "output" or the "input" pixels."""
    def cost(layer, input_shape):
        has_bias = {"right": layer.bias is not None, "never": False, "always": True}[bias]
        if isinstance(layer, nn.Linear):
            n_bias = layer.out_features if has_bias else 0
            macs = layer.in_features * layer.out_features + (n_bias if bias_adds else 0)
            return layer.in_features * layer.out_features + n_bias, mac_factor * macs
        _, H, W = input_shape
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
        sh, sw = (sh, sw) if stride else (1, 1)
        ph, pw = (ph, pw) if padding else (0, 0)
        if pixels == "output":
            H, W = divide(H - kh + 2 * ph, sh) + 1, divide(W - kw + 2 * pw, sw) + 1
        window = divide(layer.in_channels, layer.groups if groups else 1) * kh * kw
        n_bias = layer.out_channels if has_bias else 0
        macs = (layer.out_channels * window + (n_bias if bias_adds else 0)) * H * W
        return layer.out_channels * window + n_bias, mac_factor * macs
    return cost


def _by_running(layer, input_shape):
    """Counting the parameters, and running the layer once to get the output's size."""
    params = sum(p.numel() for p in layer.parameters())
    out = layer(torch.zeros(1, *input_shape))
    per_output = layer.weight[0].numel()    # the weights that make one output value
    return params, out.numel() * per_output


def _by_summary(layer, input_shape):
    if isinstance(layer, nn.Linear):
        row = d2l.summary(nn.Sequential(nn.Flatten(), layer), (input_shape[0], 1, 1)).rows[1]
    else:
        row = d2l.summary(nn.Sequential(layer), input_shape).rows[0]
    return row.params, row.macs


@pytest.mark.parametrize("solution", [make_cost(), lambda layer, shape: list(make_cost()(layer, shape)),
                                      lambda layer, shape: tuple(torch.tensor(v) for v in make_cost()(layer, shape))],
                         ids=["formula", "a list", "int tensors"])
def test_layer_cost_check_accepts(solution):
    check_layer_cost(solution)


def _by_flop_counter(layer, input_shape):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        layer(torch.zeros(1, *input_shape))
    return sum(p.numel() for p in layer.parameters()), counter.get_total_flops() // 2


@pytest.mark.parametrize("delegating, call", [
    (_by_running, "runs a torch.nn.Conv2d, which runs the layer"),
    (_by_summary, r"calls d2lnets[.\w]*\.summary\.summary \(d2l.summary\)"),
    (_by_flop_counter, "imports torch.utils.flop_counter.FlopCounterMode, which counts them for you"),
    (lambda layer, shape: (d2l.num_params(layer), 0), r"calls d2lnets[.\w]*\.shapes\.num_params \(d2l.num_params\)"),
])
def test_layer_cost_check_rejects_delegation(delegating, call):
    with pytest.raises(AssertionError, match=f"your layer_cost {call}"):
        check_layer_cost(delegating)


@pytest.mark.parametrize("wrong, message, hint", [
    (_stub, "layer_cost is not written yet", None),
    (make_cost(bias="never"), r"one number per output channel .*: the bias", 1),
    (make_cost(bias="always"), r"with bias=False it has none", 1),
    (make_cost(groups=False), r"ignores groups: with groups=g every filter sees only in_channels / g", 1),
    (lambda layer, shape: (make_cost()(layer, shape)[0], make_cost(groups=False)(layer, shape)[1]),
     r"multiply-adds ignore groups", 2),
    (make_cost(pixels="input"), r"over the input's pixels.*OUTPUT pixel", 3),
    (make_cost(stride=False), r"you ignore the stride", 3),
    (make_cost(padding=False), r"you ignore the padding", 3),
    (make_cost(mac_factor=2), r"twice what d2l.summary counts.*FLOPs = 2 x MACs", 2),
    (make_cost(bias_adds=True), r"not the bias additions", 3),
    (make_cost(divide=lambda a, b: a / b), r"a count is a whole number.*use //", None),
    (lambda layer, shape: make_cost()(layer, shape)[0], r"return two numbers, \(params, macs\)", None),
    (lambda layer, shape: make_cost()(layer, shape)[::-1], r"parameters, expected 156", None),
    (lambda layer, shape: (156, 117_600), r"gives 156 parameters, expected 2,416", None),
    (lambda layer: (0, 0), r"raised TypeError", None),
])
def test_layer_cost_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_layer_cost(wrong)
    assert hint is None or named(str(failure.value)) == ("01", "2", hint)


@pytest.mark.parametrize("given, message", [
    (None, "got None: run the cell that defines layer_cost first"),
    ("layer_cost", "without quotes"),
    (nn.Conv2d, "got the class Conv2d"),
    (nn.Conv2d(1, 6, 5), "got a built Conv2d layer"),
    ((156, 117_600), "pass layer_cost itself, not a value it returned"),
])
def test_layer_cost_check_names_what_it_was_given(given, message):
    with pytest.raises(AssertionError, match=message):
        check_layer_cost(given)


def test_the_cases_cover_what_the_mistakes_need():
    """Grouped, bias-free, strided-without-padding, rectangular and linear layers, with figures known
    from outside the package: LeNet's and AlexNet's layers."""
    cases = _cost_cases()
    convs = [layer for layer, _ in cases if isinstance(layer, nn.Conv2d)]
    assert any(c.groups > 1 and c.groups < c.in_channels for c in convs)          # AlexNet's two towers
    assert any(c.groups == c.in_channels for c in convs)                          # depthwise
    assert any(c.bias is None for c in convs) and any(isinstance(layer, nn.Linear) and layer.bias is None
                                                      for layer, _ in cases)
    assert any(c.stride[0] > 1 and c.padding[0] == 0 for c in convs)
    assert any(c.kernel_size[0] != c.kernel_size[1] for c in convs)
    # the reference against counts made without the package: LeNet's C1, AlexNet's conv1 (paper: 55x55x96)
    assert make_cost()(*cases[0]) == (156, 6 * 28 * 28 * 25)
    assert make_cost()(*cases[5]) == (34_944, 96 * 55 * 55 * 363)


def test_summary_agrees_with_torch_flop_counter():
    """The check's reference, d2l.summary, counts what torch.utils.flop_counter counts (FLOPs / 2)."""
    from torch.utils.flop_counter import FlopCounterMode

    for layer, shape in _cost_cases():
        X = torch.zeros(1, *shape)
        with FlopCounterMode(display=False) as counter:
            layer(X)
        assert 2 * _by_summary(layer, shape)[1] == counter.get_total_flops(), layer
