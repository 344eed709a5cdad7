"""A grid of images."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.figure import Figure

from ..core.validate import as_int, short
from .show import show_figure

__all__ = ["show_images"]


def show_images(imgs, num_rows: int, num_cols: int, titles: Sequence[str] | None = None,
                scale: float = 1.5, cmap: str = "gray", vmin: float | None = None, vmax: float | None = None):
    """A grid of images (tensors [C, H, W] or [H, W], or arrays); returns the figure's axes.

    A grey image is drawn from its own darkest to its brightest pixel unless ``vmin`` and ``vmax``
    fix the scale (e.g. 0 and 1): fix it where brightness is the point. Colour images are drawn as
    they are, clipped to [0, 1].
    """
    num_rows, num_cols = as_int(num_rows, "num_rows"), as_int(num_cols, "num_cols")
    shown = min(len(imgs), num_rows * num_cols)
    for i, img in enumerate(list(imgs)[:shown]):
        if not (torch.is_tensor(img) or hasattr(img, "__array__")) or isinstance(img, str):
            raise TypeError(f"image {i} is {short(img)}; show_images takes images as tensors [C, H, W] or [H, W], "
                            "or arrays")
    if titles is not None and len(titles) < shown:
        raise ValueError(f"{len(titles)} titles for the {shown} images shown: give one title per image")
    fig = Figure(figsize=(num_cols * scale, num_rows * scale))
    axes = fig.subplots(num_rows, num_cols, squeeze=False).flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        if torch.is_tensor(img):
            img = img.detach().float().cpu()
            img = img.squeeze(0) if img.dim() == 3 and img.shape[0] == 1 else img
            img = img.permute(1, 2, 0) if img.dim() == 3 else img
            img = img.clamp(0, 1).numpy() if img.dim() == 3 else img.numpy()
        ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.axis("off")
        if titles is not None and i < len(titles):
            ax.set_title(titles[i], fontsize=8)
    for ax in axes[len(imgs):]:
        ax.axis("off")
    show_figure(fig, dpi=80)
    return axes
