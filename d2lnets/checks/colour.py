"""Appendix (chapter 7) checks: ResNeXt's grouped bottleneck block, and the paper's ten-crop testing.

The learner writes

- ``ResNeXtBlock(in_channels, channels, stride=1, groups=32, width_per_group=4)``: torchvision's
  ``Bottleneck(in_channels, channels, stride, downsample, groups=groups, base_width=width_per_group)``
  -- chapter 4's bottleneck block with ``channels * width_per_group // 64 * groups`` channels inside
  and its 3x3 convolution grouped, AlexNet's two towers grown to 32 -- checked as chapter 4's block
  is (``_bottleneck``), against torchvision's built directly (no weights to download);
- ``ten_crop_predict(net, X, size)``: for images ``X`` [B, C, H, W], the ``size`` x ``size`` crops at the
  four corners and the centre (starting at ``(H - size) // 2``, ``(W - size) // 2``) and their
  horizontal flips; ``net`` on each; the softmax of each over the classes, averaged over the ten:
  ``[B, num_classes]``. The check runs it on generated colour images with a small network that
  sees where things are (no pooling, a dense layer on every pixel), so every catalogued mistake
  changes the answer: logits averaged instead of probabilities, the five crops without their flips,
  flips upside down, corners off by a pixel, a centre off by one, the softmax over the batch.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..models.resnet import Bottleneck as _PackageBottleneck
from ._bottleneck import Spec, check_block
from ._forbid import forbids
from ._util import call, expect
from .hints import see

__all__ = ["check_resnext_block", "check_ten_crop"]


# ----------------------------------------------------------------------------------------------
# ResNeXt's block
# ----------------------------------------------------------------------------------------------
RESNEXT = Spec(
    "check_resnext_block", "ResNeXtBlock",
    "ResNeXtBlock(in_channels, channels, stride=1, groups=32, width_per_group=4)",
    # (in_channels, channels, stride, groups, width_per_group): inner widths 32, 32, 32, 64 (the defaults)
    cases=((64, 16, 1, 8, 16), (32, 16, 2, 4, 32), (64, 16, 2, 32, 4), (128, 32, 1, None, None)),
    hints={"path": 1, "width": 1, "groups": 2, "projection": 3, "add": 3}, grouped=True)


@forbids(_PackageBottleneck, "torchvision.models.resnet.Bottleneck", "d2l.torch.ResNeXtBlock",
         instead="build it from nn.Conv2d (with groups= on the 3x3), nn.BatchNorm2d and nn.ReLU layers")
def check_resnext_block(ResNeXtBlock: Callable[..., nn.Module]) -> None:
    """Chapter 7: ResNeXt's block, torchvision's ``Bottleneck(..., groups, base_width)``, built as
    ``ResNeXtBlock(in_channels, channels, stride=1, groups=32, width_per_group=4)``."""
    check_block(ResNeXtBlock, RESNEXT)


# ----------------------------------------------------------------------------------------------
# ten-crop testing
# ----------------------------------------------------------------------------------------------
def _net(size: int, classes: int = 5, seed: int = 0) -> nn.Module:
    """A small colour network that sees where things are: it tells every crop from the others."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * (size - 2) ** 2, classes))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return net.eval()


def _crops(X: Tensor, size: int, *, corner=0, centre=0, flip_dim=-1) -> list[Tensor]:
    H, W = X.shape[-2:]
    a, b = corner, corner
    tops_lefts = [(a, b), (a, W - size - b), (H - size - a, b), (H - size - a, W - size - b),
                  ((H - size) // 2 + centre, (W - size) // 2 + centre)]
    five = [X[..., t:t + size, l:l + size] for t, l in tops_lefts]
    return five + ([c.flip(flip_dim) for c in five] if flip_dim is not None else [])


def _average(net: nn.Module, crops: list[Tensor], how: str = "softmax") -> Tensor:
    with torch.no_grad():
        logits = torch.stack([net(c) for c in crops])
    if how == "logits":
        return logits.mean(0)
    if how == "votes":
        return nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float().mean(0)
    return logits.softmax(dim=1 if how == "batch" else -1).mean(0)


# The catalogued mistakes: how _average and _crops compute each, what the check says, the hint that helps.
_CROP_MISTAKES = [
    ({"how": "logits"}, "you averaged the logits: turn each crop's logits into probabilities with a softmax "
     "over the classes first, then average", 2),
    ({"how": "votes"}, "you averaged the predicted classes: average the probabilities themselves", 3),
    ({"how": "batch"}, "your softmax runs over the batch (dim 0): each image's probabilities add up to one over "
     "the classes, dim=1", 2),
    ({"flip_dim": None}, "these are the five crops only: add their horizontal flips, mirrored left to right", 1),
    ({"flip_dim": -2}, "your flips turn the crops upside down: a horizontal flip mirrors left and right, the last "
     "axis (dims=[-1])", 1),
    ({"corner": 1}, "your corner crops start a pixel in from the edges: the bottom-right crop ends at the last "
     "row and column, X[..., H - size:, W - size:]", 1),
    ({"centre": 1}, "your centre crop is off by one: it starts at ((H - size) // 2, (W - size) // 2)", 1),
]

# (batch, height, width, size): the centre at an even offset, rectangles, a crop that fills one side
_CROP_CASES = [(3, 12, 16, 8), (2, 11, 9, 7), (2, 10, 14, 10)]


@forbids(*[f"torchvision.transforms.{name}" for name in (
             "TenCrop", "FiveCrop", "functional.ten_crop", "functional.five_crop", "v2.TenCrop", "v2.FiveCrop",
             "v2.functional.ten_crop", "v2.functional.five_crop", "v2.functional.ten_crop_image",
             "v2.functional.five_crop_image")],
         instead="cut the five crops with slices of X's last two axes and flip them with torch.flip")
def check_ten_crop(ten_crop_predict: Callable[[nn.Module, Tensor, int], Tensor]) -> None:
    """Chapter 7: ``ten_crop_predict(net, X, size)``, the paper's ten-crop averaged softmax."""
    expect(ten_crop_predict, "check_ten_crop", "ten_crop_predict(net, X, size)", "function")
    for i, (B, H, W, size) in enumerate(_CROP_CASES):
        X = torch.rand(B, 3, H, W, generator=torch.Generator().manual_seed(i))
        net, keep = _net(size, seed=i), X.clone()
        what = f"ten_crop_predict(net, X of shape {(B, 3, H, W)}, size={size})"
        try:
            got = call(ten_crop_predict, "ten_crop_predict", net, X, size)
        except (RuntimeError, ValueError) as e:
            raise AssertionError(f"{what} fails ({e}): every crop must be size x size pixels, the input the "
                                 "network takes" + see("check_ten_crop", 1)) from e
        assert torch.equal(X, keep), f"{what} changed X in place; cut and flip copies" + see("check_ten_crop", 1)
        assert isinstance(got, Tensor) and tuple(got.shape) == (B, 5), (
            f"{what} returned {tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__}, expected a "
            f"tensor of shape {(B, 5)}: for each image, one probability per class" + see("check_ten_crop", 3))
        want = _average(net, _crops(X, size))
        if torch.allclose(got, want, atol=1e-5):
            continue
        for mistake, why, hint in _CROP_MISTAKES:
            how = mistake.get("how", "softmax")
            try:
                wrong = _average(net, _crops(X, size, **{k: v for k, v in mistake.items() if k != "how"}), how)
            except RuntimeError:   # a crop that does not fit this image
                continue
            if torch.allclose(got, wrong, atol=1e-5):
                raise AssertionError(f"{what}: {why}" + see("check_ten_crop", hint))
        raise AssertionError(f"{what} differs from the average of the ten crops' softmax outputs by up to "
                             f"{(got - want).abs().max().item():.3g}: four corners, the centre, their horizontal "
                             "flips; a softmax over the classes for each; the mean of the ten"
                             + see("check_ten_crop", 1))
