"""Chapter 4 checks: the residual block with an optional 1x1 projection shortcut, and the
bottleneck block.

The learner writes the book's ``Residual(num_channels, use_1x1conv=False, strides=1)``: 3x3 conv,
BN, ReLU, 3x3 conv, BN, plus the input (through a 1x1 convolution with the same stride when
``use_1x1conv``), then ReLU. The check compares it with the package's :class:`Residual`: output
shapes, parameter counts, and -- with the package block's weights copied in -- its outputs, which
also tells the catalogued mistakes apart (no skip connection, ReLU before the addition, no final
ReLU, a projection without the stride, no projection when the width changes).

``check_bottleneck`` checks ResNet-50's block as torchvision builds it (ResNet v1.5),
``Bottleneck(in_channels, channels, stride=1)``: 1x1 conv to ``channels``, BN, ReLU, 3x3 conv
(the stride), BN, ReLU, 1x1 conv to ``4 * channels``, BN; plus the input, or its projection (1x1
conv with the stride, then BN) when the stride or the width changes; ReLU; no biases. It copies
torchvision's ``Bottleneck`` weights into the learner's block and compares outputs; the catalogued
mistakes get messages of their own (no projection, a projection only when the width changes, a
projection without BN, BN missing, the expansion of 4 missing, the stride on the first 1x1 as in
ResNet v1, ReLU before the addition, no final ReLU, no skip connection, biases).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..analysis.shapes import num_params
from ..models.resnet import Residual as _Residual
from ._util import call, expect, randomize

__all__ = ["check_bottleneck", "check_residual"]

# (num_channels, use_1x1conv, strides) on a batch of shape (4, 3, 6, 6), and the output shape.
_CASES = [
    ((3, False, 1), (4, 3, 6, 6)),  # the identity shortcut
    ((6, True, 2), (4, 6, 3, 3)),   # wider and half the resolution: a strided 1x1 projection
    ((6, True, 1), (4, 6, 6, 6)),   # wider, same resolution
]


def _convs(block: nn.Module, kernel: int) -> list[nn.Conv2d]:
    return [m for m in block.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (kernel, kernel)]


def _bns(block: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]


def _copy_weights(ref: _Residual, block: nn.Module) -> None:
    """Copy ``ref``'s weights into the learner's layers, matched by kind and registration order."""
    pairs = list(zip(_convs(block, 3), [ref.conv1, ref.conv2]))
    pairs += list(zip(_convs(block, 1), [ref.conv3] if ref.conv3 is not None else []))
    pairs += list(zip(_bns(block), [ref.bn1, ref.bn2]))
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
        "returns relu(Y + X): add the input (through conv3 when use_1x1conv) before the last ReLU":
            F.relu(Y),
        "the ReLU comes before the addition (relu(Y) + X). The book's block adds first and applies "
        "the ReLU to the sum: return F.relu(Y + X)": F.relu(Y) + shortcut,
        "the last ReLU is missing: return F.relu(Y + X), not Y + X": Y + shortcut,
    }


def _describe(args: tuple) -> str:
    num_channels, use_1x1conv, strides = args
    return f"Residual({num_channels}, use_1x1conv={use_1x1conv}, strides={strides})"


def _shape_failure(block: nn.Module, args: tuple, error: Exception) -> AssertionError:
    num_channels, use_1x1conv, strides = args
    what = _describe(args)
    ones = _convs(block, 1)
    if use_1x1conv and not ones:
        hint = ("with use_1x1conv=True the shortcut needs a 1x1 convolution, "
                f"nn.LazyConv2d(num_channels, kernel_size=1, stride=strides), applied to X before the "
                "addition: without it X keeps 3 channels while Y has " f"{num_channels}")
    elif use_1x1conv and ones[0].stride != (strides, strides):
        hint = (f"the 1x1 convolution on the shortcut has stride {ones[0].stride[0]}, but the first 3x3 "
                f"convolution halves the resolution with strides={strides}: give the 1x1 convolution "
                "the same stride=strides, or X and Y differ in height and width")
    elif use_1x1conv:
        hint = ("X must go through the 1x1 convolution before it is added: "
                "if self.conv3: X = self.conv3(X)")
    else:
        hint = "the two 3x3 convolutions need padding=1 so that Y keeps the shape of X"
    return AssertionError(f"{what} on a batch of shape (4, 3, 6, 6) fails ({error}): {hint}")


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
            f"the first 3x3 convolution has {num_channels} output channels and stride {strides}, padding 1")

        threes, ones, bns = _convs(block, 3), _convs(block, 1), _bns(block)
        assert len(threes) == 2, (
            f"{what} has {len(threes)} 3x3 convolutions; a residual block has two (conv1 and conv2)")
        assert len(ones) == (1 if use_1x1conv else 0), (
            f"{what} has {len(ones)} 1x1 convolutions; the block has one exactly when use_1x1conv=True "
            "(the projection on the shortcut), none otherwise")
        assert len(bns) == 2, (
            f"{what} has {len(bns)} BatchNorm2d layers; the block has two, one after each 3x3 convolution")
        ref = randomize(_Residual(num_channels, use_1x1conv, strides, in_channels=3), scale=0.5)
        n_mine, n_ref = num_params(block), num_params(ref)
        assert n_mine == n_ref, (
            f"{what} has {n_mine:,} parameters; the package's block has {n_ref:,}. Per 3x3 convolution: "
            "weights and a bias; per BatchNorm2d: a scale and a shift per channel")

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
                "then add X (or conv3(X) when use_1x1conv) and apply a ReLU to the sum")


# -- the bottleneck block ----------------------------------------------------------------------------
# (in_channels, channels, stride) on a batch of shape (2, in_channels, 6, 6), and the output shape.
_BOTTLENECK_CASES = [
    ((16, 4, 1), (2, 16, 6, 6)),   # in_channels == 4 * channels, stride 1: the identity shortcut
    ((8, 4, 2), (2, 16, 3, 3)),    # wider and half the resolution: a strided 1x1 projection
    ((8, 4, 1), (2, 16, 6, 6)),    # wider only, as in the first block of ResNet-50's first stage
    ((16, 4, 2), (2, 16, 3, 3)),   # same width, half the resolution: a projection all the same
]
_BOTTLENECK_SIGNATURE = "Bottleneck(in_channels, channels, stride=1)"


def _reference_bottleneck(in_channels: int, channels: int, stride: int) -> nn.Module:
    """torchvision's Bottleneck (ResNet v1.5) with the projection torchvision's ResNet gives it."""
    from torchvision.models.resnet import Bottleneck as _TVBottleneck

    out = channels * _TVBottleneck.expansion
    downsample = None
    if stride != 1 or in_channels != out:
        downsample = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
    return randomize(_TVBottleneck(in_channels, channels, stride, downsample), scale=0.5)


def _bottleneck_shape_failure(block: nn.Module, args: tuple, error: Exception | None, got=None) -> AssertionError:
    in_channels, channels, stride = args
    out = 4 * channels
    what = f"Bottleneck({in_channels}, {channels}, stride={stride})"
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    project = stride != 1 or in_channels != out
    projections = [m for m in convs if m.kernel_size == (1, 1) and m.in_channels == in_channels
                   and m.out_channels == out]
    if not any(m.out_channels == out for m in convs):
        hint = (f"no convolution outputs {out} channels: the last 1x1 convolution expands the narrow "
                f"{channels} channels back to 4 * channels = {out} (the expansion of 4)")
    elif project and not projections:
        why = "the width changes" if in_channels != out else "the 3x3 convolution halves the resolution"
        hint = (f"here {why}, so the shortcut cannot be X itself: it needs a 1x1 projection from "
                f"{in_channels} to {out} channels with stride {stride} (and batch norm), applied to X before "
                "the addition")
    elif stride != 1 and all(m.stride == (1, 1) for m in convs if m not in projections):
        hint = (f"nothing on the main path halves the resolution: give the 3x3 convolution stride={stride}, "
                "as the projection on the shortcut has")
    elif project and projections[0].stride != (stride, stride):
        hint = (f"the 1x1 projection on the shortcut has stride {projections[0].stride[0]}, but the main path "
                f"halves the resolution: give the projection stride={stride} too")
    else:
        hint = ("the main path is 1x1 (reduce), 3x3 (padding 1, the stride), 1x1 (expand); "
                "the shortcut is X, or its projection when the shape changes")
    shape = "" if error is not None else f" and returns {got}, expected"
    cause = f" ({error})" if error is not None else ""
    return AssertionError(f"{what} on a batch of shape (2, {in_channels}, 6, 6) fails{cause}{shape}: {hint}")


def _assign(block: nn.Module, ref: nn.Module):
    """Every way of copying ``ref``'s layers into the learner's: convolutions matched by weight shape,
    batch norms of the same width in either order (bn3 and the projection's have the same width)."""
    from itertools import permutations, product

    mine_convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    ref_convs = [m for m in ref.modules() if isinstance(m, nn.Conv2d)]
    conv_pairs = []
    for theirs in ref_convs:
        same = [m for m in mine_convs if m.weight.shape == theirs.weight.shape]
        if len(same) != 1:
            return
        conv_pairs.append((same[0], theirs))
    groups = {}
    for m in _bns(ref):
        groups.setdefault(m.num_features, [[], []])[1].append(m)
    for m in _bns(block):
        if m.num_features not in groups:
            return
        groups[m.num_features][0].append(m)
    if any(len(a) != len(b) for a, b in groups.values()):
        return
    for orders in product(*[permutations(b) for _, b in groups.values()]):
        pairs = list(conv_pairs)
        for (mine, _), theirs in zip(groups.values(), orders):
            pairs += list(zip(mine, theirs))
        with torch.no_grad():
            for mine, theirs in pairs:
                mine.load_state_dict(theirs.state_dict())
        yield


def _bottleneck_variants(ref: nn.Module, X: torch.Tensor) -> dict[str, torch.Tensor]:
    Y = F.relu(ref.bn1(ref.conv1(X)))
    Y = F.relu(ref.bn2(ref.conv2(Y)))
    Y = ref.bn3(ref.conv3(Y))
    shortcut = X if ref.downsample is None else ref.downsample(X)
    return {
        "right": F.relu(Y + shortcut),
        "no skip connection: the output is relu(bn3(conv3(...))) without the shortcut added. Add X "
        "(or its projection) before the last ReLU": F.relu(Y),
        "the ReLU comes before the addition (relu(Y) + shortcut): add first, then apply the ReLU to "
        "the sum": F.relu(Y) + shortcut,
        "the last ReLU is missing: return relu(Y + shortcut), not Y + shortcut": Y + shortcut,
        "the third batch norm is followed by a ReLU before the addition: bn3's output goes straight "
        "into the sum": F.relu(F.relu(Y) + shortcut),
    }


def check_bottleneck(Bottleneck: Callable[..., nn.Module]) -> None:
    """Chapter 4: ResNet's bottleneck block (torchvision's, ResNet v1.5), built as
    ``Bottleneck(in_channels, channels, stride=1)``, with a 1x1 projection on the shortcut (and batch
    norm) exactly when the shape changes."""
    expect(Bottleneck, "check_bottleneck", _BOTTLENECK_SIGNATURE, "class")
    for args, want_shape in _BOTTLENECK_CASES:
        in_channels, channels, stride = args
        out = 4 * channels
        project = stride != 1 or in_channels != out
        what = f"Bottleneck({in_channels}, {channels}, stride={stride})"
        block = call(Bottleneck, "Bottleneck", in_channels, channels, stride=stride)
        assert isinstance(block, nn.Module), (
            f"{what} returned a {type(block).__name__}; make Bottleneck a subclass of nn.Module")
        X = torch.randn(2, in_channels, 6, 6, generator=torch.Generator().manual_seed(1))
        block.eval()
        try:
            with torch.no_grad():
                Y = call(block, "Bottleneck.forward", X)
        except (RuntimeError, ValueError) as e:
            raise _bottleneck_shape_failure(block, args, e) from e
        if not isinstance(Y, torch.Tensor) or tuple(Y.shape) != want_shape:
            got = tuple(Y.shape) if isinstance(Y, torch.Tensor) else type(Y).__name__
            raise _bottleneck_shape_failure(block, args, None, f"{got}, expected {want_shape}")

        threes, ones, bns = _convs(block, 3), _convs(block, 1), _bns(block)
        assert len(threes) == 1, (
            f"{what} has {len(threes)} 3x3 convolutions; a bottleneck block has one, between the two 1x1s")
        want_ones = 3 if project else 2
        if len(ones) != want_ones:
            when = ("here the shape changes, so there is a third one on the shortcut, the projection"
                    if project else "here the shape does not change, so the shortcut is X itself, "
                    "without a projection")
            raise AssertionError(f"{what} has {len(ones)} 1x1 convolutions, expected {want_ones}: the 1x1 "
                                 f"that reduces to channels and the 1x1 that expands to 4 * channels; {when}")
        if threes[0].stride != (stride, stride):
            strided = [m for m in ones if m.stride != (1, 1) and m.in_channels == in_channels
                       and m.out_channels == channels]
            where = ("the first 1x1 convolution has the stride (the original ResNet v1 and Caffe do that)"
                     if strided else f"the 3x3 convolution has stride {threes[0].stride[0]}")
            raise AssertionError(f"{what}: {where}. torchvision's block (ResNet v1.5) puts stride={stride} on "
                                 "the 3x3 convolution, so that no 1x1 convolution skips three pixels in four")
        want_bns = 4 if project else 3
        if len(bns) != want_bns:
            raise AssertionError(
                f"{what} has {len(bns)} BatchNorm2d layers, expected {want_bns}: one after each of the three "
                "convolutions of the main path" + (" and one after the projection on the shortcut"
                                                   if project else ""))
        ref = _reference_bottleneck(in_channels, channels, stride)
        n_mine, n_ref = num_params(block), num_params(ref)
        if n_mine != n_ref:
            raise AssertionError(
                f"{what} has {n_mine:,} parameters, torchvision's block {n_ref:,}: its convolutions have no "
                "bias (bias=False), since the batch norm after each one shifts the output anyway")

        outputs = None
        for mode in ("eval", "train"):
            block.train(mode == "train")
            ref.train(mode == "train")
            with torch.no_grad():
                outputs = _bottleneck_variants(ref, X)
                found = None
                for _ in _assign(block, ref):
                    Y = call(block, "Bottleneck.forward", X)
                    if torch.allclose(Y, outputs["right"], atol=1e-5):
                        found = "right"
                        break
                    for mistake, o in outputs.items():
                        if found is None and mistake != "right" and torch.allclose(Y, o, atol=1e-5):
                            found = mistake
            if found == "right":
                continue
            if found is not None:
                raise AssertionError(f"{what}: {found}")
            raise AssertionError(
                f"{what}, with torchvision's weights copied in, computes a different function ({mode} mode). "
                "The order is: 1x1 conv to channels, BN, ReLU; 3x3 conv (padding 1, stride), BN, ReLU; 1x1 "
                "conv to 4 * channels, BN; add the shortcut (X, or its 1x1 projection and BN); ReLU")
