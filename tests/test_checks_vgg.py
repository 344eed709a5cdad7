"""Chapter 3's checks accept the reference answers and reject the stub and catalogued wrong answers."""
import pytest
from torch import nn

import d2lnets as d2l
from d2lnets.checks.hints import named
from d2lnets.checks.vgg import check_receptive_field, check_vgg_block


def _stub(*args, **kwargs):
    raise NotImplementedError


# --- receptive field ---------------------------------------------------------------------------

def _rf(layers):
    f = 1
    for k, s in reversed(layers):
        f = (f - 1) * s + k
    return f


def _rf_forward(layers):
    """The same quantity computed from the input side: 1 + sum (K - 1) * (product of earlier strides)."""
    f, jump = 1, 1
    for k, s in layers:
        f += (k - 1) * jump
        jump *= s
    return f


@pytest.mark.parametrize("solution", [_rf, _rf_forward])
def test_receptive_field_check_accepts(solution):
    check_receptive_field(solution)


def _by_import(layers):
    from d2lnets import receptive_field as helper  # an alias, imported inside the answer

    return helper(layers)


@pytest.mark.parametrize("delegating, call", [
    (lambda layers: d2l.receptive_field(layers), r"calls d2lnets[.\w]*\.shapes\.receptive_field \(d2l[.\w]*\)"),
    (d2l.receptive_field, r"is d2lnets[.\w]*\.shapes\.receptive_field \(d2l.receptive_field\)"),
    (_by_import, r"imports d2lnets[.\w]*\.shapes\.receptive_field \(d2l[.\w]*\)"),
])
def test_receptive_field_check_rejects_delegation(delegating, call):
    with pytest.raises(AssertionError, match=f"your receptive_field {call}, which is the thing"):
        check_receptive_field(delegating)


def _walk_forward(layers):
    f = 1
    for k, s in layers:
        f = (f - 1) * s + k
    return f


def _adds_k(layers):
    f = 1
    for k, s in reversed(layers):
        f = f * s + k
    return f


def _starts_at_zero(layers):
    f = 0
    for k, s in reversed(layers):
        f = (f - 1) * s + k
    return f


def _forward_sum_ignoring_later_stride(layers):
    """Multiplies by the stride of the layer itself, not of the layers below it."""
    f, jump = 1, 1
    for k, s in layers:
        jump *= s
        f += (k - 1) * jump
    return f


@pytest.mark.parametrize("wrong, message, hint", [
    (_stub, "not written yet", None),
    (lambda layers: 1 + sum(k - 1 for k, _ in layers), "ignore the strides", 2),
    (lambda layers: sum(k for k, _ in layers), "add up the kernel sizes", 2),
    (_walk_forward, "walk the layers from the input to the output", 1),
    (_adds_k, "off by one", 2),
    (_starts_at_zero, r"off by one: start from a single output pixel", 1),
    (_forward_sum_ignoring_later_stride, "expected", None),
    (lambda layers: float(_rf(layers)), "whole number", None),
    (lambda layers: 7, "expected", None),
])
def test_receptive_field_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_receptive_field(wrong)
    assert hint is None or named(str(failure.value)) == ("03", "1", hint)


# --- VGG block -----------------------------------------------------------------------------------

def _block(num_convs, in_channels, out_channels, *, relu=True, pool_every=False, padding=1,
           final_pool=True, kernel=3, batch_norm=False):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=kernel, padding=padding))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        if relu:
            layers.append(nn.ReLU())
        if pool_every:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        in_channels = out_channels
    if final_pool and not pool_every:
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def test_vgg_block_check_accepts_the_solution():
    check_vgg_block(_block)


def test_vgg_block_check_rejects_delegation():
    with pytest.raises(AssertionError, match=r"your vgg_block calls d2lnets.models.vgg.vgg_block, which is the"):
        check_vgg_block(lambda num_convs, in_channels, out_channels:
                        d2l.models.vgg_block(num_convs, out_channels, in_channels=in_channels))


def _same_in_channels(num_convs, in_channels, out_channels):
    return nn.Sequential(*[m for _ in range(num_convs)
                           for m in (nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU())],
                         nn.MaxPool2d(2, 2))


@pytest.mark.parametrize("wrong, message, hint", [
    (_stub, "not written yet", None),
    (lambda num_convs, in_channels, out_channels: _block(num_convs, in_channels, out_channels, relu=False),
     "no nn.ReLU", 2),
    (lambda num_convs, in_channels, out_channels: _block(num_convs, in_channels, out_channels, pool_every=True),
     "pooling after every convolution", 3),
    (lambda num_convs, in_channels, out_channels: _block(num_convs, in_channels, out_channels, padding=0),
     "shrinks the feature map.*padding=1", 2),
    (lambda num_convs, in_channels, out_channels: _block(num_convs, in_channels, out_channels, final_pool=False),
     "no nn.MaxPool2d", 3),
    (lambda num_convs, in_channels, out_channels: _block(num_convs, in_channels, out_channels, kernel=5, padding=2),
     "only 3x3 kernels", 2),
    (lambda num_convs, in_channels, out_channels: _block(1, in_channels, out_channels), "nn.Conv2d layers", 2),
    (_same_in_channels, "the first takes in_channels|fails on an input", None),
    (lambda num_convs, in_channels, out_channels: _block(num_convs, in_channels, out_channels, batch_norm=True),
     "has the layers", 2),
    (lambda num_convs, in_channels, out_channels: [nn.Conv2d(in_channels, out_channels, 3)], "nn.Sequential", None),
])
def test_vgg_block_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_vgg_block(wrong)
    assert hint is None or named(str(failure.value)) == ("03", "2", hint)
