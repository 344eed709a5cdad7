"""Small pieces shared by every model file: input checks with errors a learner can act on, and
the book's initialisation."""
from __future__ import annotations

import torch
from torch import nn

from ..core.validate import as_int


def check_sizes(num_classes: int, in_channels: int) -> tuple[int, int]:
    """``num_classes`` and ``in_channels`` as positive ints (0 would build empty layers)."""
    return (as_int(num_classes, "num_classes", hint=" (the number of outputs, one per class)"),
            as_int(in_channels, "in_channels", hint=" (1 for grey images, 3 for colour)"))


def check_input(
    x: torch.Tensor,
    in_channels: int,
    name: str,
    min_size: int | None = None,
    exact_size: int | None = None,
) -> None:
    """Raise ``ValueError`` that says what ``name`` expected when ``x`` cannot go through it.

    Without this, a wrong input reaches a linear layer and torch says only
    "mat1 and mat2 shapes cannot be multiplied".
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = f"{x.dtype} images" if isinstance(x, torch.Tensor) else type(x).__name__
        uint8 = getattr(x, "dtype", None) == torch.uint8
        fix = "X.float() / 255 (0-255 to [0, 1])" if uint8 else "torch.as_tensor(X).float()"
        raise ValueError(f"{name} takes a floating-point image tensor, got {got}: convert with {fix}")
    if x.dim() != 4:
        raise ValueError(
            f"{name} expects a batch of images shaped [batch, {in_channels}, height, width], "
            f"got a tensor of shape {tuple(x.shape)}; add a batch dimension with X.unsqueeze(0) "
            "for a single image"
        )
    if x.shape[1] != in_channels and x.shape[-1] == in_channels:
        raise ValueError(
            f"{name} takes images [batch, channels, height, width] with {in_channels} channel(s), but got shape "
            f"{tuple(x.shape)}, which looks channels-last [batch, height, width, channels]: "
            "move the channels forward with X.permute(0, 3, 1, 2)"
        )
    if x.shape[1] != in_channels:
        raise ValueError(
            f"{name} was built for {in_channels}-channel input but got {x.shape[1]} channels "
            f"(input shape {tuple(x.shape)}); build it with in_channels={x.shape[1]} "
            "or convert the images"
        )
    h, w = x.shape[-2:]
    if exact_size is not None and (h, w) != (exact_size, exact_size):
        raise ValueError(
            f"{name} expects {exact_size}x{exact_size} inputs but got {h}x{w}; "
            f"resize the data (e.g. load_data_fashion_mnist(..., resize={exact_size}))"
        )
    if min_size is not None and min(h, w) < min_size:
        raise ValueError(
            f"{name} needs inputs of at least {min_size}x{min_size} pixels but got {h}x{w}: "
            "its convolutions and poolings would shrink the feature maps to nothing; "
            f"resize the data (e.g. load_data_fashion_mnist(..., resize={min_size}))"
        )


def init_cnn(module: nn.Module) -> None:
    """The book's initialisation (``d2l.init_cnn`` in d2l 1.0): Xavier uniform on the weights of
    convolutions and linear layers; biases and batch norm keep PyTorch's defaults.
    Use as ``net.apply(init_cnn)``."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
