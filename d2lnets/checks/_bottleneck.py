"""ResNet's bottleneck block (chapter 4) and ResNeXt's grouped one (chapter 7), checked alike.

Both are torchvision's ``Bottleneck`` (ResNet v1.5): a 1x1 convolution from ``in_channels`` to
``width``, BN, ReLU; a 3x3 convolution (padding 1, the ``stride``, ``groups``), BN, ReLU; a 1x1
convolution to ``4 * channels``, BN; plus the input, or its projection (1x1 convolution with the
stride, then BN) when the stride or the width changes; ReLU; no biases. ResNet's block has
``width = channels`` and one group; ResNeXt's ``width = channels * width_per_group // 64 * groups``.
The check copies torchvision's weights into the learner's block and compares outputs; the
catalogued mistakes get messages of their own (no projection, a projection only when the width
changes, a projection without BN, BN missing, the expansion of 4 missing, the stride on the first
1x1 as in ResNet v1, ReLU before the addition, no final ReLU, no skip connection, an extra ReLU on
the third BN, biases; for ResNeXt also an ungrouped 3x3, grouped 1x1s, the wrong inner width).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..analysis.shapes import num_params
from ._util import assignments, call, expect, randomize
from .hints import see


@dataclass(frozen=True)
class Spec:
    check: str                      # the check's name, for its hints
    name: str                       # the learner's class
    signature: str
    cases: tuple                    # (in_channels, channels, stride, groups, width_per_group); ResNeXt: None
                                    # for the last two means "not passed": the defaults, 32 and 4
    hints: dict                     # kind of mistake ("path", "projection", "add", "groups", "width") -> hint
    grouped: bool = False           # ResNeXt's block takes groups and width_per_group

    def describe(self, case: tuple) -> str:
        in_channels, channels, stride, groups, width = case
        extra = f", groups={groups}, width_per_group={width}" if self.grouped and width is not None else ""
        return f"{self.name}({in_channels}, {channels}, stride={stride}{extra})"

    def build(self, Block: Callable, case: tuple) -> nn.Module:
        in_channels, channels, stride, groups, width = case
        kwargs = {"groups": groups, "width_per_group": width} if self.grouped and width is not None else {}
        return call(Block, self.name, in_channels, channels, stride=stride, **kwargs)

    def see(self, kind: str) -> str:
        return see(self.check, self.hints[kind])


def resolved(case: tuple) -> tuple[int, int, int, int, int]:
    """A case with ResNeXt's defaults filled in: groups=32, width_per_group=4."""
    return case if case[4] is not None else (*case[:3], 32, 4)


def inner_width(case: tuple) -> int:
    _, channels, _, groups, width = resolved(case)
    return channels * width // 64 * groups


def convs(block: nn.Module, kernel: int) -> list[nn.Conv2d]:
    return [m for m in block.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (kernel, kernel)]


def bns(block: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]


def reference(case: tuple) -> nn.Module:
    """torchvision's Bottleneck with the projection torchvision's ResNet gives it, random weights, eval mode."""
    from torchvision.models.resnet import Bottleneck as _TVBottleneck

    in_channels, channels, stride, groups, base_width = resolved(case)
    out = channels * _TVBottleneck.expansion
    downsample = None
    if stride != 1 or in_channels != out:
        downsample = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
    return randomize(_TVBottleneck(in_channels, channels, stride, downsample, groups=groups, base_width=base_width),
                     scale=0.5)


def _shape_failure(spec: Spec, block: nn.Module, case: tuple, error: Exception | None, got=None) -> AssertionError:
    in_channels, channels, stride, _, _ = case
    out = 4 * channels
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    project = stride != 1 or in_channels != out
    ones = [m for m in convs if m.kernel_size == (1, 1)]
    projections = [m for m in ones if m.in_channels == in_channels and m.out_channels == out] if len(ones) > 2 else []
    if not any(m.out_channels == out for m in convs):
        hint = (f"no convolution outputs {out} channels: the last 1x1 convolution expands the narrow "
                f"inner channels to 4 * channels = {out} (the expansion of 4)") + spec.see("path")
    elif project and not projections:
        why = "the width changes" if in_channels != out else "the 3x3 convolution halves the resolution"
        hint = (f"here {why}, so the shortcut cannot be X itself: it needs a 1x1 projection from "
                f"{in_channels} to {out} channels with stride {stride} (and batch norm), applied to X before "
                "the addition") + spec.see("projection")
    elif stride != 1 and all(m.stride == (1, 1) for m in convs if m not in projections):
        hint = (f"nothing on the main path halves the resolution: give the 3x3 convolution stride={stride}, "
                "as the projection on the shortcut has") + spec.see("path")
    elif project and all(m.stride != (stride, stride) for m in projections):
        hint = (f"the 1x1 projection on the shortcut has stride {projections[0].stride[0]}, but the main path "
                f"halves the resolution: give the projection stride={stride} too") + spec.see("projection")
    else:
        hint = ("the main path is 1x1 (reduce), 3x3 (padding 1, the stride), 1x1 (expand); "
                "the shortcut is X, or its projection when the shape changes") + spec.see("path")
    shape = "" if error is not None else f" and returns {got}, expected"
    cause = f" ({error})" if error is not None else ""
    return AssertionError(f"{spec.describe(case)} on a batch of shape (2, {in_channels}, 6, 6) fails{cause}{shape}: "
                          f"{hint}")


def _variants(spec: Spec, ref: nn.Module, X: torch.Tensor) -> dict[str, torch.Tensor]:
    Y = F.relu(ref.bn1(ref.conv1(X)))
    Y = F.relu(ref.bn2(ref.conv2(Y)))
    Y = ref.bn3(ref.conv3(Y))
    shortcut = X if ref.downsample is None else ref.downsample(X)
    add = spec.see("add")
    return {
        "right": F.relu(Y + shortcut),
        "no skip connection: the output is relu(bn3(conv3(...))) without the shortcut added. Add X "
        "(or its projection) before the last ReLU" + add: F.relu(Y),
        "the ReLU comes before the addition (relu(Y) + shortcut): add first, then apply the ReLU to "
        "the sum" + add: F.relu(Y) + shortcut,
        "the last ReLU is missing: return relu(Y + shortcut), not Y + shortcut" + add: Y + shortcut,
        "the third batch norm is followed by a ReLU before the addition: bn3's output goes straight "
        "into the sum" + add: F.relu(F.relu(Y) + shortcut),
    }


def _width_and_groups(spec: Spec, block: nn.Module, case: tuple, what: str) -> None:
    """ResNeXt's inner width and its grouped 3x3 (ResNet's block: width = channels, one group)."""
    in_channels, channels, _, groups, wpg = resolved(case)
    width = inner_width(case)
    three, out = convs(block, 3)[0], 4 * channels
    reducing = [m.out_channels for m in convs(block, 1) if m.in_channels == in_channels]   # and the projection
    if reducing and width not in reducing:
        got = next((c for c in reducing if c != out), reducing[0])
        known = {channels: "that is ResNet's width, channels; ResNeXt's block is wider inside",
                 channels * wpg * groups: "divide by 64: width_per_group counts channels per group for "
                                          "every 64 of channels",
                 wpg * groups: "the width grows with channels: channels * width_per_group // 64 * groups"}
        why = known.get(got, "width = channels * width_per_group // 64 * groups")
        raise AssertionError(f"{what}: the first 1x1 convolution outputs {got} channels, expected "
                             f"the inner width {width}: {why}" + spec.see("width"))
    if three.groups != groups:
        raise AssertionError(f"{what}: the 3x3 convolution has groups={three.groups}, expected groups={groups}: "
                             "ResNeXt splits it into groups that each see only their own channels, as AlexNet's "
                             "towers did" + spec.see("groups"))
    if any(m.groups != 1 for m in convs(block, 1)):
        raise AssertionError(f"{what}: a 1x1 convolution is grouped. Only the 3x3 convolution is; the 1x1 "
                             "convolutions mix all the channels, and that is what joins the groups again"
                             + spec.see("groups"))


def check_block(Block: Callable[..., nn.Module], spec: Spec) -> None:
    """Check the learner's ``Block`` against torchvision's Bottleneck for every case of ``spec``."""
    expect(Block, spec.check, spec.signature, "class")
    for case in spec.cases:
        in_channels, channels, stride, _, _ = case
        out = 4 * channels
        project = stride != 1 or in_channels != out
        what = spec.describe(case)
        want_shape = (2, out, 6 // stride, 6 // stride)
        block = spec.build(Block, case)
        assert isinstance(block, nn.Module), (
            f"{what} returned a {type(block).__name__}; make {spec.name} a subclass of nn.Module")
        X = torch.randn(2, in_channels, 6, 6, generator=torch.Generator().manual_seed(1))
        block.eval()
        try:
            with torch.no_grad():
                Y = call(block, f"{spec.name}.forward", X)
        except (RuntimeError, ValueError) as e:
            raise _shape_failure(spec, block, case, e) from e
        if not isinstance(Y, torch.Tensor) or tuple(Y.shape) != want_shape:
            got = tuple(Y.shape) if isinstance(Y, torch.Tensor) else type(Y).__name__
            raise _shape_failure(spec, block, case, None, f"{got}, expected {want_shape}")

        threes, ones, norms = convs(block, 3), convs(block, 1), bns(block)
        assert len(threes) == 1, (
            f"{what} has {len(threes)} 3x3 convolutions; the block has one, between the two 1x1s" + spec.see("path"))
        want_ones = 3 if project else 2
        if len(ones) != want_ones:
            when = ("here the shape changes, so there is a third one on the shortcut, the projection"
                    if project else "here the shape does not change, so the shortcut is X itself, "
                    "without a projection")
            raise AssertionError(f"{what} has {len(ones)} 1x1 convolutions, expected {want_ones}: the 1x1 "
                                 f"that reduces and the 1x1 that expands to 4 * channels; {when}"
                                 + spec.see("projection"))
        if threes[0].stride != (stride, stride):
            strided = [m for m in ones if m.stride != (1, 1) and m.in_channels == in_channels
                       and m.out_channels != out]
            where = ("the first 1x1 convolution has the stride (the original ResNet v1 and Caffe do that)"
                     if strided else f"the 3x3 convolution has stride {threes[0].stride[0]}")
            raise AssertionError(f"{what}: {where}. torchvision's block (ResNet v1.5) puts stride={stride} on "
                                 "the 3x3 convolution, so that no 1x1 convolution skips three pixels in four"
                                 + spec.see("path"))
        want_bns = 4 if project else 3
        if len(norms) != want_bns:
            raise AssertionError(
                f"{what} has {len(norms)} BatchNorm2d layers, expected {want_bns}: one after each of the three "
                "convolutions of the main path" + (" and one after the projection on the shortcut"
                                                   if project else "") + spec.see("projection" if project else "path"))
        _width_and_groups(spec, block, case, what)
        ref = reference(case)
        n_mine, n_ref = num_params(block), num_params(ref)
        if n_mine != n_ref:
            raise AssertionError(
                f"{what} has {n_mine:,} parameters, torchvision's block {n_ref:,}: its convolutions have no "
                "bias (bias=False), since the batch norm after each one shifts the output anyway" + spec.see("path"))
        _compare_outputs(spec, block, ref, X, what)


def _compare_outputs(spec: Spec, block: nn.Module, ref: nn.Module, X: torch.Tensor, what: str) -> None:
    for mode in ("eval", "train"):
        block.train(mode == "train")
        ref.train(mode == "train")
        with torch.no_grad():
            outputs = _variants(spec, ref, X)
            found = None
            for _ in assignments(block, ref):
                Y = call(block, f"{spec.name}.forward", X)
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
            "The order is: 1x1 conv, BN, ReLU; 3x3 conv (padding 1, stride), BN, ReLU; 1x1 "
            "conv to 4 * channels, BN; add the shortcut (X, or its 1x1 projection and BN); ReLU" + spec.see("path"))
