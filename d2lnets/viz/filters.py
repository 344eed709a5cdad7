"""What a network learned: its first layer's filters, and the feature maps of one image.

``show_filters(net)`` draws the kernels of a convolution (by default the first) as small images;
``show_feature_maps(net, X)`` runs one image through ``net`` and draws a few channels of what
each convolution and pooling layer made of it. Both return what they drew.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from ..core.batches import model_device
from ..core.validate import as_float, as_int, instance_of, short
from .show import show_figure

__all__ = ["FeatureMaps", "Filters", "show_feature_maps", "show_filters"]

_MAPPED = (nn.modules.conv._ConvNd, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


@dataclass
class Filters:
    """What :func:`show_filters` drew: ``weights`` [out_channels, in_channels, kh, kw] (on the CPU),
    of the layer ``layer`` (its name in ``net``), one image per output channel (up to the maximum)."""

    fig: Figure
    layer: str
    weights: Tensor
    shown: int


@dataclass
class FeatureMaps:
    """What :func:`show_feature_maps` drew: ``maps[name]`` is the output of layer ``name`` for the
    image, [channels, height, width] (all channels; ``shown`` of them were drawn)."""

    fig: Figure
    image: Tensor
    maps: dict[str, Tensor]
    shown: int


def _layer(net: nn.Module, layer, kinds: tuple[type, ...], what: str) -> tuple[str, nn.Module]:
    """``layer`` (a name in ``net``, a module of it, or None for the first of ``kinds``)."""
    instance_of(net, nn.Module, "net", "a network (an nn.Module)")
    named = [(n, m) for n, m in net.named_modules() if isinstance(m, kinds)]
    if layer is None:
        if not named:
            raise ValueError(f"net ({type(net).__name__}) has no {what}; pass a network that has one")
        return named[0]
    if isinstance(layer, str):
        found = dict(net.named_modules()).get(layer)
        if found is None or not isinstance(found, kinds):
            names = ", ".join(repr(n) for n, _ in named[:6]) or "none"
            raise ValueError(f"layer={layer!r} is not a {what} of net; its {what}s are: {names}")
        return layer, found
    for n, m in named:
        if m is layer:
            return n, m
    raise ValueError(f"layer must be the name of a {what} in net (e.g. {named[0][0]!r}) or such a module of "
                     f"net, got {short(layer)}" if named else f"net has no {what}")


def show_filters(net: nn.Module, layer: str | nn.Module | None = None, *, max_filters: int = 96,
                 ncols: int | None = None, scale: float | None = None, show: bool | None = None) -> Filters:
    """Draw the kernels of a convolution of ``net`` (default: the first one), one per output channel.

    A kernel with one input channel is drawn in grey, one with three in colour (RGB); with more,
    the mean over the input channels is drawn. Each is scaled to its own range (black/dark = most
    negative weight, white/bright = most positive), so the patterns show whatever their size.
    """
    name, conv = _layer(net, layer, (nn.modules.conv._ConvNd,), "convolution")
    max_filters = as_int(max_filters, "max_filters")
    W = conv.weight.detach().float().cpu()
    if W.dim() != 4:
        raise ValueError(f"layer {name!r} is not a 2-D convolution (weights of shape {list(W.shape)}); "
                         "show_filters draws the kernels of an nn.Conv2d")
    n = min(len(W), max_filters)
    ncols = as_int(ncols, "ncols") if ncols is not None else min(n, 16)
    nrows = math.ceil(n / ncols)
    scale = (1.0 if n <= 16 else 0.6) if scale is None else as_float(scale, "scale", above=0)
    fig = Figure(figsize=(max(ncols * scale, 3.0), nrows * scale + 0.45))
    axes = fig.subplots(nrows, ncols, squeeze=False).flatten()
    colour = W.shape[1] == 3
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        w = W[i]
        img = w if colour else w.mean(0, keepdim=True)
        lo, hi = img.min(), img.max()
        img = (img - lo) / (hi - lo) if hi > lo else torch.full_like(img, 0.5)
        ax.imshow(img.permute(1, 2, 0).numpy() if colour else img[0].numpy(), cmap=None if colour else "gray",
                  vmin=0, vmax=1, interpolation="nearest")
    how = "RGB" if colour else "grey" if W.shape[1] == 1 else f"mean over {W.shape[1]} input channels"
    fig.suptitle(f"{name}: {n} of {len(W)} filters, {W.shape[2]}×{W.shape[3]} ({how})", fontsize=9)
    show_figure(fig, show)
    return Filters(fig, name, W, n)


def _one_image(X) -> Tensor:
    if not isinstance(X, Tensor) or X.dim() not in (2, 3, 4) or (X.dim() == 4 and len(X) != 1):
        got = f"a tensor of shape {list(X.shape)}" if isinstance(X, Tensor) else short(X)
        raise ValueError(f"X must be one image, [channels, height, width] or [1, channels, height, width] "
                         f"(e.g. X[0] of a batch), got {got}")
    if not X.is_floating_point():
        raise ValueError(f"X must be a floating-point image, got {X.dtype}: convert with X.float() / 255")
    return X[None, None] if X.dim() == 2 else X[None] if X.dim() == 3 else X


def show_feature_maps(net: nn.Module, X: Tensor, layers: Sequence[str] | None = None, *, max_maps: int = 8,
                      scale: float = 1.1, show: bool | None = None) -> FeatureMaps:
    """Run the image ``X`` through ``net`` and draw ``max_maps`` channels of each layer's output.

    ``layers``: names of layers in ``net`` (``[n for n, _ in net.named_modules()]``); default:
    every convolution and pooling layer with a 2-D output. ``net`` runs in eval mode under
    ``torch.no_grad()``; its mode is restored afterwards, also on an error.
    """
    instance_of(net, nn.Module, "net", "a network (an nn.Module)")
    image = _one_image(X)
    max_maps = as_int(max_maps, "max_maps")
    modules = dict(net.named_modules())
    if layers is None:
        chosen = [n for n, m in modules.items() if n and isinstance(m, _MAPPED)]
    else:
        if isinstance(layers, str):
            layers = [layers]
        chosen = list(layers)
        unknown = [n for n in chosen if n not in modules or not n]
        if unknown:
            names = ", ".join(repr(n) for n, m in modules.items() if isinstance(m, _MAPPED))
            raise ValueError(f"layers: {unknown[0]!r} is not a layer of net; layers with feature maps: {names}")
    maps: dict[str, Tensor] = {}

    def keep(name: str):
        def hook(module, args, out) -> None:
            if isinstance(out, Tensor) and out.dim() == 4 and name not in maps:
                maps[name] = out[0].detach().float().cpu()
        return hook

    handles = [modules[n].register_forward_hook(keep(n)) for n in chosen]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(image.to(model_device(net)))
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    if not maps:
        raise ValueError(f"none of the layers {chosen[:5]} gave a 2-D feature map ([batch, channels, height, "
                         "width]) for this image; pass the names of convolution or pooling layers")
    shown = min(max_maps, max(len(m) for m in maps.values()))
    rows = 1 + len(maps)
    fig = Figure(figsize=(max(2.0, (shown + 1) * scale), rows * scale))
    axes = fig.subplots(rows, shown + 1, squeeze=False)
    for ax in axes.flatten():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    img = image[0].cpu().float()
    axes[0, 0].imshow(img.permute(1, 2, 0).clamp(0, 1).numpy() if len(img) == 3 else img[0].numpy(), cmap="gray")
    axes[0, 0].set_title("input", fontsize=8)
    for r, (name, fmap) in enumerate(maps.items(), start=1):
        kind = type(modules[name]).__name__
        axes[r, 0].text(0.95, 0.5, f"{name} ({kind})\n{'×'.join(map(str, fmap.shape))}", ha="right", va="center",
                        fontsize=7.5, transform=axes[r, 0].transAxes)
        for c in range(min(shown, len(fmap))):
            axes[r, c + 1].imshow(fmap[c].numpy(), cmap="viridis", interpolation="nearest")
            if r == 1:
                axes[r, c + 1].set_title(f"ch {c}", fontsize=7)
    fig.suptitle(f"feature maps of one image: up to {shown} channels per layer", fontsize=9)
    show_figure(fig, show)
    return FeatureMaps(fig, img, maps, shown)
