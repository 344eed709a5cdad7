"""Chapter 6 checks: what came next, as practice. NiN's block and a classifier head without dense
layers; GoogLeNet's Inception block.

The learner writes

- ``nin_block(in_channels, out_channels, kernel_size, strides, padding)``: a convolution with these
  settings and two 1x1 convolutions that keep ``out_channels``, each followed by a ReLU (d2l's NiN
  block), as an ``nn.Sequential``;
- ``nin_head(in_channels, num_classes)``: a NiN block to ``num_classes`` channels (3x3, stride 1,
  padding 1), global average pooling and a flatten: ``[B, in_channels, H, W] -> [B, num_classes]``
  for any H and W, no ``nn.Linear``;
- ``Inception(in_channels, c1, c2, c3, c4)`` (d2l's, GoogLeNet's convention): four branches on the
  same input, a 1x1 convolution to ``c1``; a 1x1 to ``c2[0]`` then a 3x3 (padding 1) to ``c2[1]``; a
  1x1 to ``c3[0]`` then a 5x5 (padding 2) to ``c3[1]``; a 3x3 max pooling (stride 1, padding 1) then
  a 1x1 to ``c4``; a ReLU after every convolution; the four concatenated on the channels in that order.

The references are built here from ``nn.Conv2d``, ``nn.ReLU``, ``nn.MaxPool2d`` and
``nn.AdaptiveAvgPool2d``; their weights are copied into the learner's convolutions and the outputs
compared. The catalogued mistakes get messages of their own: for NiN a missing ReLU, 1x1
convolutions that change the width, dense layers in the head, a pooling that fits one input size,
max instead of average pooling, no flatten; for Inception the branches concatenated in another
order or along another dimension, added instead of concatenated, a missing ReLU, a pooling that
shrinks the map, a 5x5 (or 3x3) convolution without padding.
"""
from __future__ import annotations

from collections.abc import Callable
from itertools import permutations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..analysis.shapes import num_params
from ._forbid import forbids
from ._util import assignments, call, expect
from .hints import see

__all__ = ["check_inception", "check_nin"]


def _leaves(net: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, kind)]


def _run(net: nn.Module, X: Tensor, name: str) -> Tensor:
    net.eval()
    with torch.no_grad():
        return call(net, name, X)


# ----------------------------------------------------------------------------------------------
# NiN
# ----------------------------------------------------------------------------------------------
def _reference_block(c_in: int, c_out: int, k: int, s: int, p: int, relus=(True, True, True)) -> nn.Sequential:
    layers = []
    for i, conv in enumerate([nn.Conv2d(c_in, c_out, k, s, p), nn.Conv2d(c_out, c_out, 1), nn.Conv2d(c_out, c_out, 1)]):
        layers += [conv, nn.ReLU() if relus[i] else nn.Identity()]
    return nn.Sequential(*layers)


def _same_function(mine: nn.Module, ref: nn.Module, X: Tensor, name: str, variants: dict) -> str | None:
    """With ``ref``'s weights in the learner's layers: "right", the name of the matching variant, or None."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    found = None
    outputs = {"right": _run(ref, X, "reference"), **{k: v() for k, v in variants.items()}}
    for _ in assignments(mine, ref, (nn.Conv2d,)):
        Y = _run(mine, X, name)
        for key, out in outputs.items():
            if isinstance(Y, Tensor) and Y.shape == out.shape and torch.allclose(Y, out, atol=1e-5):
                if key == "right":
                    return key
                found = found or key
    return found


# (in_channels, out_channels, kernel_size, strides, padding) on a batch of 2 images of side H x W
_BLOCK_CASES = [((3, 8, 5, 2, 1), (13, 13)), ((8, 16, 3, 1, 1), (7, 9)), ((16, 6, 1, 1, 0), (4, 5))]


def _check_block(nin_block: Callable, args: tuple, size: tuple[int, int]) -> None:
    what = "nin_block({}, {}, kernel_size={}, strides={}, padding={})".format(*args)
    c_in, c_out, k, s, p = args
    block = call(nin_block, "nin_block", c_in, c_out, kernel_size=k, strides=s, padding=p)
    assert isinstance(block, nn.Module), f"{what} returned a {type(block).__name__}; return an nn.Sequential of layers"
    convs = _leaves(block, nn.Conv2d)
    assert len(convs) == 3, (f"{what} has {len(convs)} convolutions: a NiN block has three, the one with the given "
                             "kernel, stride and padding, then two 1x1 convolutions" + see("check_nin", 1))
    first, ones = convs[0], convs[1:]
    got = (first.in_channels, first.out_channels, first.kernel_size, first.stride, first.padding)
    assert got == (c_in, c_out, (k, k), (s, s), (p, p)), (
        f"{what}: the first convolution is nn.Conv2d({got[0]}, {got[1]}, kernel_size={got[2]}, stride={got[3]}, "
        f"padding={got[4]}); it takes the arguments as they are given" + see("check_nin", 1))
    for conv in ones:
        assert conv.kernel_size == (1, 1) and (conv.in_channels, conv.out_channels) == (c_out, c_out), (
            f"{what}: after the first convolution come two 1x1 convolutions from out_channels to out_channels "
            f"({c_out} to {c_out}), a small dense layer applied at every pixel; yours is {conv}" + see("check_nin", 1))
    X = torch.randn(2, c_in, *size, generator=torch.Generator().manual_seed(1))
    ref = _reference_block(*args)
    variants = {i: (lambda i=i: _run(_copy(ref, _reference_block(*args, relus=[j != i for j in range(3)])), X, "ref"))
                for i in range(3)}
    found = _same_function(block, ref, X, "nin_block", variants)
    if found == "right":
        return
    if found is not None:
        which = ("first", "second", "third")[found]
        raise AssertionError(f"{what}: the ReLU after the {which} convolution is missing: each of the three "
                             "convolutions is followed by a ReLU" + see("check_nin", 1))
    raise AssertionError(f"{what} computes another function than convolution, ReLU, 1x1 convolution, ReLU, 1x1 "
                         "convolution, ReLU, with the same weights" + see("check_nin", 1))


def _copy(src: nn.Module, dst: nn.Module) -> nn.Module:
    """``dst`` with ``src``'s convolutions' weights (same layout), for the variants of a reference."""
    with torch.no_grad():
        for a, b in zip(_leaves(dst, nn.Conv2d), _leaves(src, nn.Conv2d)):
            a.load_state_dict(b.state_dict())
    return dst


def _reference_head(c_in: int, num_classes: int, pool: type = nn.AdaptiveAvgPool2d) -> nn.Sequential:
    return nn.Sequential(_reference_block(c_in, num_classes, 3, 1, 1), pool((1, 1)), nn.Flatten())


_HEAD_CASES = [((16, 10), (5, 5)), ((8, 4), (7, 6)), ((8, 4), (3, 3))]


def _check_head(nin_head: Callable, args: tuple, size: tuple[int, int]) -> None:
    what = "nin_head({}, {})".format(*args)
    c_in, classes = args
    head = call(nin_head, "nin_head", c_in, classes)
    assert isinstance(head, nn.Module), f"{what} returned a {type(head).__name__}; return an nn.Sequential of layers"
    assert not _leaves(head, nn.Linear), (
        f"{what} has an nn.Linear: NiN's head has no dense layer. Its last NiN block makes one map per class, and "
        "global average pooling turns each map into that class's score" + see("check_nin", 3))
    fixed = _leaves(head, (nn.AvgPool2d, nn.MaxPool2d))
    assert not fixed, (
        f"{what} pools with a fixed window, {fixed[0]}: it fits one size of feature map only. "
        "nn.AdaptiveAvgPool2d((1, 1)) averages each map whatever its height and width" + see("check_nin", 3))
    X = torch.randn(2, c_in, *size, generator=torch.Generator().manual_seed(2))
    try:
        Y = _run(head, X, "nin_head")
    except (RuntimeError, ValueError) as e:
        raise AssertionError(f"{what} fails on a batch of shape {tuple(X.shape)} ({e}): the head must take feature "
                             "maps of any height and width; nn.AdaptiveAvgPool2d((1, 1)) averages each map whatever "
                             "its size" + see("check_nin", 3)) from e
    shape = tuple(Y.shape) if isinstance(Y, Tensor) else type(Y).__name__
    if shape == (2, classes, 1, 1):
        raise AssertionError(f"{what} returns shape {shape}: flatten the pooled maps to [batch, num_classes] with "
                             "nn.Flatten()" + see("check_nin", 3))
    unpooled = isinstance(Y, Tensor) and Y.dim() == 4 and Y.shape[:2] == (2, classes)
    if unpooled or shape == (2, classes * size[0] * size[1]):   # the maps kept, or flattened without pooling
        raise AssertionError(f"{what} returns shape {shape}: each class's map keeps its height and width. "
                             "Average each map to one number, the class's score (global average pooling)"
                             + see("check_nin", 2))
    assert shape == (2, classes), (
        f"{what} turns a batch of shape {tuple(X.shape)} into {shape}, expected (2, {classes}): one score per class"
        + see("check_nin", 2))
    ref = _reference_head(c_in, classes)
    variants = {"max": lambda: _run(_copy(ref, _reference_head(c_in, classes, nn.AdaptiveMaxPool2d)), X, "ref")}
    found = _same_function(head, ref, X, "nin_head", variants)
    if found == "max":
        raise AssertionError(f"{what} takes the maximum of each map: NiN averages it, nn.AdaptiveAvgPool2d((1, 1))"
                             + see("check_nin", 3))
    if found is None:
        raise AssertionError(f"{what} computes another function than a NiN block (3x3, stride 1, padding 1) to "
                             "num_classes channels followed by global average pooling, with the same weights"
                             + see("check_nin", 2))


@forbids("torchvision.ops.misc.Conv2dNormActivation", "torchvision.models.googlenet.BasicConv2d",
         instead="build it from nn.Conv2d and nn.ReLU layers (and nn.AdaptiveAvgPool2d, nn.Flatten for the head)")
def check_nin(nin_block: Callable[..., nn.Module], nin_head: Callable[..., nn.Module]) -> None:
    """Chapter 6: NiN's block and a head with global average pooling instead of dense layers; on
    success, prints the head's parameters next to those of the book's AlexNet's dense layers."""
    expect(nin_block, "check_nin", "nin_block(in_channels, out_channels, kernel_size, strides, padding)", "factory")
    expect(nin_head, "check_nin", "nin_head(in_channels, num_classes)", "factory")
    for args, size in _BLOCK_CASES:
        _check_block(nin_block, args, size)
    for args, size in _HEAD_CASES:
        _check_head(nin_head, args, size)
    from ..models.alexnet import alexnet

    with torch.device("meta"):
        dense = num_params(alexnet(10, 1, variant="d2l").classifier)
    head = num_params(call(nin_head, "nin_head", 256, 10))
    print(f"On the book's AlexNet (256 maps of 5x5 at 224 px, 10 classes) your head has {head:,} parameters, "
          f"its three dense layers {dense:,}: {dense / head:,.0f} times as many.")


# ----------------------------------------------------------------------------------------------
# Inception
# ----------------------------------------------------------------------------------------------
class _Inception(nn.Module):
    """d2l's Inception block (GoogLeNet's), from torch's layers; ``relus`` says which ReLUs it has."""

    def __init__(self, c_in: int, c1: int, c2: tuple, c3: tuple, c4: int, relus=(True,) * 6) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(c_in, c1, 1)
        self.b2a, self.b2b = nn.Conv2d(c_in, c2[0], 1), nn.Conv2d(c2[0], c2[1], 3, padding=1)
        self.b3a, self.b3b = nn.Conv2d(c_in, c3[0], 1), nn.Conv2d(c3[0], c3[1], 5, padding=2)
        self.pool, self.b4 = nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(c_in, c4, 1)
        self.relus = relus

    def branches(self, X: Tensor) -> list[Tensor]:
        r = [F.relu if on else (lambda t: t) for on in self.relus]
        return [r[0](self.b1(X)), r[2](self.b2b(r[1](self.b2a(X)))), r[4](self.b3b(r[3](self.b3a(X)))),
                r[5](self.b4(self.pool(X)))]

    def forward(self, X: Tensor) -> Tensor:
        return torch.cat(self.branches(X), dim=1)


_RELUS = ["after the 1x1 branch's convolution", "between the 3x3 branch's 1x1 and 3x3 convolutions",
          "after the 3x3 convolution", "between the 5x5 branch's 1x1 and 5x5 convolutions",
          "after the 5x5 convolution", "after the pooling branch's 1x1 convolution"]

# (in_channels, c1, c2, c3, c4) on 2 images of 6 x 8: every branch has its own width, every 1x1 its own shape
_INCEPTION_CASES = [(4, 2, (3, 5), (1, 4), 6), (6, 3, (4, 7), (2, 1), 5)]
_SUMMABLE = (4, 3, (2, 3), (1, 3), 3)   # the branches' widths are equal: a sum goes through


def _inception_failure(block: nn.Module, what: str, e: Exception) -> AssertionError:
    pools = _leaves(block, nn.MaxPool2d)
    convs = {c.kernel_size: c for c in _leaves(block, nn.Conv2d)}
    if "must match" in str(e) and "size" in str(e) and any(p.stride not in (1, (1, 1)) or p.padding not in (1, (1, 1))
                                                         for p in pools):
        why = ("the pooling branch changes the height and width: the max pooling needs stride=1 and padding=1 "
               "(nn.MaxPool2d's stride is its kernel size unless you say otherwise)")
    elif (5, 5) in convs and convs[(5, 5)].padding != (2, 2):
        why = "the 5x5 convolution needs padding=2 to keep the height and width"
    elif (3, 3) in convs and convs[(3, 3)].padding != (1, 1):
        why = "the 3x3 convolution needs padding=1 to keep the height and width"
    elif "size of tensor a" in str(e) or "except in dimension 1" not in str(e) and "except in dimension" in str(e):
        why = ("the branches are added or joined along another dimension than the channels: concatenate them "
               "with torch.cat on dim=1")
        return AssertionError(f"{what} fails on a batch of 6x8 images ({e}): {why}" + see("check_inception", 3))
    else:
        why = "every branch must keep the height and width, and the four are joined along the channels"
    return AssertionError(f"{what} fails on a batch of 6x8 images ({e}): {why}" + see("check_inception", 2))


def _inception_case(Inception: Callable, args: tuple) -> None:
    c_in, c1, c2, c3, c4 = args
    what = f"Inception({c_in}, {c1}, {c2}, {c3}, {c4})"
    block = call(Inception, "Inception", c_in, c1, c2, c3, c4)
    assert isinstance(block, nn.Module), (
        f"{what} returned a {type(block).__name__}; make Inception a subclass of nn.Module")
    X = torch.randn(2, c_in, 6, 8, generator=torch.Generator().manual_seed(5))
    try:
        Y = _run(block, X, "Inception.forward")
    except (RuntimeError, ValueError) as e:
        raise _inception_failure(block, what, e) from e
    want = (2, c1 + c2[1] + c3[1] + c4, 6, 8)
    shape = tuple(Y.shape) if isinstance(Y, Tensor) else type(Y).__name__
    if shape != want:
        if shape == (2, c1, 6, 8) and c1 == c2[1] == c3[1] == c4:
            why = "as many channels as one branch: you add the four branches. Concatenate them along the channels"
        elif shape in ((8, c1, 6, 8), (2, c1, 24, 8), (2, c1, 6, 32)):
            why = (f"the branches are joined along dim {[8, 2, 24, 32].index(max(shape[0], shape[2], shape[3]))}; "
                   "join them along the channels, dim=1")
        else:
            why = "the four branches' channels, c1 + c2[1] + c3[1] + c4, at the input's height and width"
        raise AssertionError(f"{what} turns a batch of shape {tuple(X.shape)} into {shape}, expected {want}: {why}"
                             + see("check_inception", 3))
    convs = sorted((c.kernel_size[0], c.in_channels, c.out_channels) for c in _leaves(block, nn.Conv2d))
    ref = _Inception(*args)
    want_convs = sorted((c.kernel_size[0], c.in_channels, c.out_channels) for c in _leaves(ref, nn.Conv2d))
    assert convs == want_convs, (
        f"{what} has the convolutions (kernel, in, out) {convs}; the block has {want_convs}: one 1x1 per branch "
        "reading the input (the 3x3 and 5x5 branches' 1x1 reduce to c2[0] and c3[0]), then the 3x3 and the 5x5"
        + see("check_inception", 1))
    order = {perm: (lambda perm=perm: torch.cat([ref.branches(X)[i] for i in perm], dim=1))
             for perm in permutations(range(4)) if perm != (0, 1, 2, 3)}
    relus = {i: (lambda i=i: _copy(ref, _Inception(*args, relus=[j != i for j in range(6)]))(X)) for i in range(6)}
    found = _same_function(block, ref, X, "Inception.forward", {**order, **relus})
    if found == "right":
        return
    if isinstance(found, tuple):
        raise AssertionError(f"{what}: the branches are concatenated in another order. Join them as the block lists "
                             "them: the 1x1 branch, the 3x3, the 5x5, the pooling branch" + see("check_inception", 3))
    if found is not None:
        raise AssertionError(f"{what}: the ReLU {_RELUS[found]} is missing: a ReLU follows every convolution"
                             + see("check_inception", 2))
    raise AssertionError(f"{what}, with the reference's weights copied in, computes another function: each branch "
                         "is its convolutions each followed by a ReLU (the pooling branch pools first), and the "
                         "four are concatenated on the channels" + see("check_inception", 1))


@forbids("torchvision.models.googlenet", "torchvision.models.inception",
         instead="build the four branches from nn.Conv2d and nn.MaxPool2d, and join them with torch.cat")
def check_inception(Inception: Callable[..., nn.Module]) -> None:
    """Chapter 6: GoogLeNet's (d2l's) ``Inception(in_channels, c1, c2, c3, c4)``."""
    expect(Inception, "check_inception", "Inception(in_channels, c1, c2, c3, c4)", "class")
    for args in (*_INCEPTION_CASES, _SUMMABLE):
        _inception_case(Inception, args)
