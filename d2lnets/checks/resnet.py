"""Chapter 4 checks: the residual block with an optional 1x1 projection shortcut, and the
bottleneck block (batch normalisation from scratch is in ``batchnorm``).

The learner writes the book's ``Residual(num_channels, use_1x1conv=False, strides=1)``: 3x3 conv,
BN, ReLU, 3x3 conv, BN, plus the input (through a 1x1 convolution with the same stride when
``use_1x1conv``), then ReLU. The check compares it with the package's :class:`Residual`: output
shapes, parameter counts, and -- with the package block's weights copied in -- its outputs, which
also tells the catalogued mistakes apart (no skip connection, ReLU before the addition, no final
ReLU, a projection without the stride, no projection when the width changes).

``check_bottleneck`` checks ResNet-50's block as torchvision builds it (ResNet v1.5),
``Bottleneck(in_channels, channels, stride=1)``, against torchvision's ``Bottleneck`` (see
``_bottleneck``, shared with chapter 7's ResNeXt block).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..analysis.shapes import num_params
from ..models.resnet import BasicBlock
from ..models.resnet import Bottleneck as _PackageBottleneck
from ..models.resnet import Residual as _Residual
from ._bottleneck import Spec, bns, check_block, convs
from ._forbid import forbids
from ._util import call, expect, randomize
from .hints import see

__all__ = ["check_bottleneck", "check_residual"]

# (num_channels, use_1x1conv, strides) on a batch of shape (4, 3, 6, 6), and the output shape.
_CASES = [
    ((3, False, 1), (4, 3, 6, 6)),  # the identity shortcut
    ((6, True, 2), (4, 6, 3, 3)),   # wider and half the resolution: a strided 1x1 projection
    ((6, True, 1), (4, 6, 6, 6)),   # wider, same resolution
]


def _copy_weights(ref: _Residual, block: nn.Module) -> None:
    """Copy ``ref``'s weights into the learner's layers, matched by kind and registration order."""
    pairs = list(zip(convs(block, 3), [ref.conv1, ref.conv2]))
    pairs += list(zip(convs(block, 1), [ref.conv3] if ref.conv3 is not None else []))
    pairs += list(zip(bns(block), [ref.bn1, ref.bn2]))
    with torch.no_grad():
        for mine, theirs in pairs:
            mine.load_state_dict(theirs.state_dict())


def _variants(ref: _Residual, X: torch.Tensor) -> dict[str, torch.Tensor]:
    """The right output and the outputs of the catalogued mistakes, from the reference's weights."""
    Y = F.relu(ref.bn1(ref.conv1(X)))
    Y = ref.bn2(ref.conv2(Y))
    shortcut = ref.conv3(X) if ref.conv3 is not None else X
    return {
        "right": F.relu(Y + shortcut),
        "no skip connection: the output is relu(bn2(conv2(...))) without X added. A residual block "
        "returns relu(Y + X): add the input (through conv3 when use_1x1conv) before the last ReLU"
        + see("check_residual", 2): F.relu(Y),
        "the ReLU comes before the addition (relu(Y) + X). The book's block adds first and applies "
        "the ReLU to the sum: return F.relu(Y + X)" + see("check_residual", 3): F.relu(Y) + shortcut,
        "the last ReLU is missing: return F.relu(Y + X), not Y + X" + see("check_residual", 3): Y + shortcut,
    }


def _describe(args: tuple) -> str:
    num_channels, use_1x1conv, strides = args
    return f"Residual({num_channels}, use_1x1conv={use_1x1conv}, strides={strides})"


def _shape_failure(block: nn.Module, args: tuple, error: Exception) -> AssertionError:
    num_channels, use_1x1conv, strides = args
    what = _describe(args)
    ones = convs(block, 1)
    if use_1x1conv and not ones:
        hint = ("with use_1x1conv=True the shortcut needs a 1x1 convolution, "
                f"nn.LazyConv2d(num_channels, kernel_size=1, stride=strides), applied to X before the "
                "addition: without it X keeps 3 channels while Y has " f"{num_channels}") + see("check_residual", 1)
    elif use_1x1conv and ones[0].stride != (strides, strides):
        hint = (f"the 1x1 convolution on the shortcut has stride {ones[0].stride[0]}, but the first 3x3 "
                f"convolution halves the resolution with strides={strides}: give the 1x1 convolution "
                "the same stride=strides, or X and Y differ in height and width") + see("check_residual", 1)
    elif use_1x1conv:
        hint = ("X must go through the 1x1 convolution before it is added: "
                "if self.conv3: X = self.conv3(X)") + see("check_residual", 2)
    else:
        hint = "the two 3x3 convolutions need padding=1 so that Y keeps the shape of X" + see("check_residual", 1)
    return AssertionError(f"{what} on a batch of shape (4, 3, 6, 6) fails ({error}): {hint}")


@forbids(_Residual, BasicBlock, "torchvision.models.resnet.BasicBlock", "d2l.torch.Residual",
         instead="build it from nn.LazyConv2d (or nn.Conv2d), nn.LazyBatchNorm2d and F.relu")
def check_residual(Residual: Callable[..., nn.Module]) -> None:
    """Chapter 4: the book's residual block, built as ``Residual(num_channels, use_1x1conv, strides)``."""
    expect(Residual, "check_residual", "Residual(num_channels, use_1x1conv=False, strides=1)", "class")
    for args, want_shape in _CASES:
        num_channels, use_1x1conv, strides = args
        what = _describe(args)
        block = call(Residual, "Residual", num_channels, use_1x1conv=use_1x1conv, strides=strides)
        assert isinstance(block, nn.Module), (
            f"{what} returned a {type(block).__name__}; make Residual a subclass of nn.Module")
        X = torch.randn(4, 3, 6, 6, generator=torch.Generator().manual_seed(1))
        block.train()
        try:
            with torch.no_grad():
                Y = call(block, "Residual.forward", X)
        except (RuntimeError, ValueError) as e:
            raise _shape_failure(block, args, e) from e
        assert isinstance(Y, torch.Tensor) and tuple(Y.shape) == want_shape, (
            f"{what} turns a batch of shape (4, 3, 6, 6) into "
            f"{tuple(Y.shape) if isinstance(Y, torch.Tensor) else type(Y).__name__}, expected {want_shape}: "
            f"the first 3x3 convolution has {num_channels} output channels and stride {strides}, padding 1"
            + see("check_residual", 1))

        threes, ones, norms = convs(block, 3), convs(block, 1), bns(block)
        assert len(threes) == 2, (
            f"{what} has {len(threes)} 3x3 convolutions; a residual block has two (conv1 and conv2)"
            + see("check_residual", 1))
        assert len(ones) == (1 if use_1x1conv else 0), (
            f"{what} has {len(ones)} 1x1 convolutions; the block has one exactly when use_1x1conv=True "
            "(the projection on the shortcut), none otherwise" + see("check_residual", 1))
        assert len(norms) == 2, (
            f"{what} has {len(norms)} BatchNorm2d layers; the block has two, one after each 3x3 convolution"
            + see("check_residual", 1))
        ref = randomize(_Residual(num_channels, use_1x1conv, strides, in_channels=3), scale=0.5)
        n_mine, n_ref = num_params(block), num_params(ref)
        assert n_mine == n_ref, (
            f"{what} has {n_mine:,} parameters; the package's block has {n_ref:,}. Per 3x3 convolution: "
            "weights and a bias; per BatchNorm2d: a scale and a shift per channel" + see("check_residual", 1))

        _copy_weights(ref, block)
        for mode in ("eval", "train"):
            block.train(mode == "train")
            ref.train(mode == "train")
            with torch.no_grad():
                Y = call(block, "Residual.forward", X)
                outputs = _variants(ref, X)
            if torch.allclose(Y, outputs["right"], atol=1e-5):
                continue
            for mistake, out in outputs.items():
                if mistake != "right" and torch.allclose(Y, out, atol=1e-5):
                    raise AssertionError(f"{what}: {mistake}")
            raise AssertionError(
                f"{what}, with the package block's weights copied in, computes a different function "
                f"({mode} mode). The order is: conv1 (3x3, stride strides), bn1, ReLU, conv2 (3x3), bn2; "
                "then add X (or conv3(X) when use_1x1conv) and apply a ReLU to the sum" + see("check_residual", 2))


# -- the bottleneck block ----------------------------------------------------------------------------
# (in_channels, channels, stride, groups, width_per_group) on a batch of shape (2, in_channels, 6, 6).
BOTTLENECK = Spec(
    "check_bottleneck", "Bottleneck", "Bottleneck(in_channels, channels, stride=1)",
    cases=((16, 4, 1, 1, 64),    # in_channels == 4 * channels, stride 1: the identity shortcut
           (8, 4, 2, 1, 64),     # wider and half the resolution: a strided 1x1 projection
           (8, 4, 1, 1, 64),     # wider only, as in the first block of ResNet-50's first stage
           (16, 4, 2, 1, 64)),   # same width, half the resolution: a projection all the same
    hints={"path": 1, "width": 1, "groups": 1, "projection": 2, "add": 3})


@forbids(_PackageBottleneck, "torchvision.models.resnet.Bottleneck", "d2l.torch.ResNeXtBlock",
         instead="build it from nn.Conv2d, nn.BatchNorm2d and nn.ReLU layers")
def check_bottleneck(Bottleneck: Callable[..., nn.Module]) -> None:
    """Chapter 4: ResNet's bottleneck block (torchvision's, ResNet v1.5), built as
    ``Bottleneck(in_channels, channels, stride=1)``, with a 1x1 projection on the shortcut (and batch
    norm) exactly when the shape changes."""
    check_block(Bottleneck, BOTTLENECK)
