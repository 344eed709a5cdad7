"""Theoretical vs effective receptive field: which input pixels one output pixel depends on.

The theoretical receptive field of a plain stack of convolutions and poolings is a square
(``d2l.receptive_field``). How much each pixel in it matters is ``|d y / d X|``, the gradient of
the centre output pixel ``y`` with respect to the input: Luo et al. (2016, "Understanding the
effective receptive field in deep convolutional neural networks") found it concentrated in a
small, roughly Gaussian, centre of the square -- the *effective* receptive field.
:func:`show_receptive_field` computes that gradient image and draws it with the square on top.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor, nn

from ..analysis.shapes import _windows, receptive_field
from ..core.batches import model_device
from ..core.validate import as_float, as_int, input_shape, instance_of
from .show import show_figure

__all__ = ["ReceptiveField", "input_gradient", "show_receptive_field", "theoretical_box"]


@dataclass
class ReceptiveField:
    """What :func:`show_receptive_field` computed and drew.

    ``grad``: ``|d y / d X|`` [H, W] summed over input channels (averaged over the samples);
    ``size``: the theoretical receptive field (pixels on a side); ``box``: the part of it inside
    the image, ``(top, left, bottom, right)``, inclusive pixel indices; ``centre``: the output
    pixel's centre in input pixels ``(row, col)``; ``inside``: the fraction of the gradient inside the
    box (1 for a plain stack); ``effective``: the side of the smallest square around the centre
    that holds ``mass`` of the gradient.
    """

    fig: Figure
    grad: Tensor
    size: int
    box: tuple[int, int, int, int]
    centre: tuple[float, float]
    inside: float
    effective: int
    mass: float


def theoretical_box(net: nn.Module, input_hw: tuple[int, int], output_hw: tuple[int, int]
                    ) -> tuple[int, tuple[int, int, int, int], tuple[float, float]]:
    """Size, box (clipped to the image) and centre of the receptive field of the centre output
    pixel ``(H_out // 2, W_out // 2)``. Going from the input: ``jump *= stride``,
    ``size += (kernel - 1) * jump``, ``start += ((kernel - 1) / 2 - padding) * jump``."""
    size = receptive_field(net)  # raises for networks that branch
    jump, start = 1, 0.0
    for k, s, p in _windows(net):
        start += ((k - 1) / 2 - p) * jump
        jump *= s
    centre = tuple(start + (o // 2) * jump for o in output_hw)
    half = (size - 1) / 2
    (h, w) = input_hw
    top, left = max(0, round(centre[0] - half)), max(0, round(centre[1] - half))
    bottom, right = min(h - 1, round(centre[0] + half)), min(w - 1, round(centre[1] + half))
    return size, (top, left, bottom, right), centre


def input_gradient(net: nn.Module, X: Tensor) -> tuple[Tensor, tuple[int, int]]:
    """``|d y / d X|`` summed over input channels and the batch, where ``y`` is the sum over the
    output channels of the centre pixel of ``net(X)``; and the output's height and width.

    ``net`` runs in eval mode (its mode is restored afterwards); its parameters' ``.grad`` are
    left alone (the gradient is taken with respect to ``X`` only).
    """
    X = X.detach().clone().requires_grad_(True)
    was_training = net.training
    try:
        net.eval()
        with torch.enable_grad():
            out = net(X)
            if not isinstance(out, Tensor) or out.dim() != 4:
                got = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(f"net must output feature maps [batch, channels, height, width], got {got}: pass "
                                 "its convolutional part, e.g. net.features, or an nn.Sequential of the conv stack")
            h, w = out.shape[-2:]
            (g,) = torch.autograd.grad(out[:, :, h // 2, w // 2].sum(), X)
    finally:
        net.train(was_training)
    return g.abs().sum(dim=(0, 1)).float().cpu(), (h, w)


def _effective(grad: Tensor, centre: tuple[float, float], mass: float) -> int:
    """Side of the smallest square around ``centre`` holding ``mass`` of ``grad``."""
    total = float(grad.sum())
    if total == 0:
        return 0
    H, W = grad.shape
    rows, cols = torch.arange(H).float(), torch.arange(W).float()
    dist = torch.maximum((rows[:, None] - centre[0]).abs(), (cols[None, :] - centre[1]).abs())
    order = torch.argsort(dist.flatten())
    cum = torch.cumsum(grad.flatten()[order], 0) / total
    reach = float(dist.flatten()[order][int(torch.searchsorted(cum, torch.tensor(mass - 1e-9)))])
    return int(round(2 * reach + 1))


def show_receptive_field(net: nn.Module, input_size: Sequence[int], *, X: Tensor | None = None,
                         num_samples: int = 4, seed: int = 0, mass: float = 0.95, log: bool = False,
                         show: bool | None = None) -> ReceptiveField:
    """Draw ``|d y / d X|`` for the centre output pixel ``y`` of a conv stack, and its theoretical
    receptive field as a rectangle.

    Args:
        net: a plain stack of convolutions and poolings (``nn.Sequential``, ``net.features``) whose
            output is a feature map; a network that branches (ResNet) raises ``ValueError``.
        input_size: ``(C, H, W)``, e.g. ``(1, 64, 64)``: large enough for the field to fit.
        X: the input images [B, C, H, W] (default: ``num_samples`` standard-normal images, seeded).
        mass: the share of the gradient the effective receptive field holds.
        log: draw ``log(1 + |grad| / max)`` to show the faint tails.
    """
    instance_of(net, nn.Module, "net", "a stack of convolutions and poolings (an nn.Module)")
    mass = as_float(mass, "mass", above=0, at_most=1)
    shape = input_shape(input_size)
    receptive_field(net)  # a network that branches has no single field: say so before any work
    device = model_device(net)
    if X is None:
        g = torch.Generator().manual_seed(as_int(seed, "seed", minimum=None))
        X = torch.randn((as_int(num_samples, "num_samples"), *shape[1:]), generator=g)
    elif not isinstance(X, Tensor) or X.dim() != 4 or tuple(X.shape[1:]) != shape[1:]:
        got = list(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ValueError(f"X must be a batch of images [batch, {', '.join(map(str, shape[1:]))}] to match "
                         f"input_size, got {got}")
    grad, out_hw = input_gradient(net, X.to(device, torch.float32))
    size, box, centre = theoretical_box(net, tuple(shape[-2:]), out_hw)
    top, left, bottom, right = box
    total = float(grad.sum())
    inside = float(grad[top:bottom + 1, left:right + 1].sum()) / total if total else 1.0
    effective = _effective(grad, centre, mass)

    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.add_subplot()
    img = grad / grad.max() if total else grad
    ax.imshow(torch.log1p(img * 100).numpy() if log else img.numpy(), cmap="magma", interpolation="nearest")
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                           edgecolor="#33ccff", linewidth=1.6, label=f"theoretical: {size}×{size}"))
    if effective:
        half = effective / 2
        ax.add_patch(Rectangle((centre[1] - half, centre[0] - half), effective, effective, fill=False,
                               edgecolor="#66ff66", linestyle="--", linewidth=1.2,
                               label=f"effective ({mass:.0%} of |grad|): {effective}×{effective}"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), fontsize=8, ncol=1, frameon=False)
    ax.set_title(f"|d output centre / d input|{' (log scale)' if log else ''}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    show_figure(fig, show)
    return ReceptiveField(fig, grad, size, box, centre, inside, effective, mass)
