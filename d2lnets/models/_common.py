"""Small pieces shared by every model file: input checks with errors a learner can act on."""
from __future__ import annotations

import torch


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
    if x.dim() != 4:
        raise ValueError(
            f"{name} expects a batch of images shaped [batch, {in_channels}, height, width], "
            f"got a tensor of shape {tuple(x.shape)}; add a batch dimension with X.unsqueeze(0) "
            "for a single image"
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
