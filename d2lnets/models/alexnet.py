"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012, "ImageNet classification with deep
convolutional neural networks").

Five convolutions and three fully connected layers; pooling after the 1st, 2nd and 5th
convolution. Four variants share the class:

============  ==========================  =====================================================
variant       convolutions (channels)     notes
============  ==========================  =====================================================
paper         96-256-384-384-256          227x227 input, conv1 11/4 (no padding); ReLU; LRN
                                          (k=2, n=5, alpha=1e-4, beta=0.75, paper convention)
                                          after the ReLUs of conv1 and conv2, before pooling;
                                          two towers (groups=2 in conv2, conv4, conv5); 60,965,224
                                          parameters (62,378,344 with ``groups=1``); dropout on
                                          the outputs of fc6 and fc7 (Linear, ReLU, Dropout), as
                                          the paper (section 4.2) and Caffe's reference model
torchvision   64-192-384-256-256          ``torchvision.models.alexnet`` exactly (61,100,840
                                          parameters, same module names, so state_dicts load);
                                          torchvision puts each Dropout *before* fc6 and fc7
                                          (on their inputs), and none after fc7
d2l           96-256-384-384-256          the book's Fashion-MNIST AlexNet: conv1 11/4 pad 1 on
                                          224x224, one tower, no LRN, 6400-4096-4096-classes with
                                          dropout after the hidden layers (46,764,746 parameters
                                          with 1 channel and 10 classes), the book's Xavier
                                          initialisation
small         48-128-192-192-128          CPU-sized, for 32x32 images (28-96 px work); Xavier
============  ==========================  =====================================================

``num_classes`` and ``in_channels`` default to 10 and 1 (Fashion-MNIST) for ``d2l`` and
``small``, to 1000 and 3 (ImageNet) for ``paper`` and ``torchvision``.

``small`` halves the widths (and the hidden layers: 2048) and rescales the first layer: 11x11
with stride 4 on 224 px covers about 5% of the image per step; on 32 px the same job is done by a
3x3 convolution with stride 1, so the feature maps go 32 -> 15 -> 7 -> 3 exactly as 224 px goes
55 -> 27 -> 13 -> 6 in the paper. About 80 M multiply-adds per 32x32 image (the paper network:
about 720 M at 227 px), 7.5 M parameters with 1 channel and 10 classes.

Every variant ends its features with an adaptive average pool (6x6, 6x6, 5x5, 3x3) as torchvision
does; at a variant's design resolution it changes nothing, and it lets smaller inputs through
(down to ``net.min_size``). The options the chapters compare are arguments: ``lrn``,
``dropout``, ``overlap`` (3x3 pooling with stride 2, the paper's overlapping pooling, or
non-overlapping 2x2 with stride 2, which gives the same map sizes) and ``groups``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..layers import LocalResponseNorm
from ..shapes import min_input_size
from .._validate import as_float, as_int
from ._common import check_input, check_sizes, init_cnn
from ._registry import check_variant, register_model

__all__ = ["AlexNet"]

# Each variant as plain data. convs: (out_channels, kernel, stride, padding) of conv1..conv5;
# dropout_first: torchvision's Dropout before fc6 and fc7; fashion: Fashion-MNIST defaults (10 classes,
# 1 channel) and the book's Xavier initialisation.
VARIANTS: dict[str, dict] = {
    "paper": dict(convs=[(96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1)],
                  hidden=4096, pool_out=6, lrn=True, groups=2, dropout_first=False, fashion=False),
    "torchvision": dict(convs=[(64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1)],
                        hidden=4096, pool_out=6, lrn=False, groups=1, dropout_first=True, fashion=False),
    "d2l": dict(convs=[(96, 11, 4, 1), (256, 5, 1, 2), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1)],
                hidden=4096, pool_out=5, lrn=False, groups=1, dropout_first=False, fashion=True),
    "small": dict(convs=[(48, 3, 1, 1), (128, 5, 1, 2), (192, 3, 1, 1), (192, 3, 1, 1), (128, 3, 1, 1)],
                  hidden=2048, pool_out=3, lrn=False, groups=1, dropout_first=False, fashion=True),
}
POOL_AFTER = (0, 1, 4)      # max pooling follows conv1, conv2 and conv5
LRN_AFTER = (0, 1)          # ... and LRN (when on) conv1 and conv2
GROUPED = (1, 3, 4)         # the two towers only meet at conv3 (and in the FC layers)


def paper_lrn() -> LocalResponseNorm:
    """The paper's LRN: k=2, n=5, alpha=1e-4, beta=0.75 (alpha applied to the plain sum)."""
    return LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0, convention="paper")


class AlexNet(nn.Module):
    """AlexNet; see the module docstring for the variants.

    Args:
        num_classes, in_channels: output classes and input channels (default: 10 and 1 for
            ``"d2l"`` and ``"small"``, 1000 and 3 otherwise).
        variant: ``"torchvision"``, ``"paper"``, ``"d2l"`` or ``"small"``.
        lrn: LRN after conv1 and conv2 (default: only for ``"paper"``).
        dropout: dropout probability of the two hidden FC layers (0 keeps the layers as no-ops).
        overlap: 3x3 max pooling with stride 2 (True, the paper) or 2x2 with stride 2.
        groups: groups of conv2, conv4 and conv5 (default: 2 for ``"paper"``, else 1).
    """

    def __init__(
        self,
        num_classes: int | None = None,
        in_channels: int | None = None,
        *,
        variant: str = "torchvision",
        lrn: bool | None = None,
        dropout: float = 0.5,
        overlap: bool = True,
        groups: int | None = None,
    ) -> None:
        super().__init__()
        cfg = VARIANTS[check_variant("alexnet", variant, tuple(VARIANTS))]
        num_classes = (10 if cfg["fashion"] else 1000) if num_classes is None else num_classes
        in_channels = (1 if cfg["fashion"] else 3) if in_channels is None else in_channels
        num_classes, in_channels = check_sizes(num_classes, in_channels)
        lrn = cfg["lrn"] if lrn is None else lrn
        groups = cfg["groups"] if groups is None else as_int(groups, "groups")
        dropout = as_float(dropout, "dropout", at_least=0, at_most=1)
        for i in GROUPED:
            c_in, c_out = cfg["convs"][i - 1][0], cfg["convs"][i][0]
            if c_in % groups or c_out % groups:
                raise ValueError(f"groups={groups} must divide the channels of conv{i + 1} ({c_in} in, {c_out} out) "
                                 "in the two-tower split; the paper uses groups=2")
        self.in_channels, self.variant = in_channels, variant

        layers: list[nn.Module] = []
        c_in = in_channels
        for i, (c_out, k, s, p) in enumerate(cfg["convs"]):
            layers += [nn.Conv2d(c_in, c_out, k, stride=s, padding=p, groups=groups if i in GROUPED else 1),
                       nn.ReLU(inplace=True)]
            if lrn and i in LRN_AFTER:
                layers.append(paper_lrn())
            if i in POOL_AFTER:
                layers.append(nn.MaxPool2d(kernel_size=3 if overlap else 2, stride=2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(cfg["pool_out"])
        n_in, hidden = c_in * cfg["pool_out"] ** 2, cfg["hidden"]
        if cfg["dropout_first"]:  # torchvision's order: dropout on the inputs of fc6 and fc7
            self.classifier = nn.Sequential(
                nn.Dropout(dropout), nn.Linear(n_in, hidden), nn.ReLU(inplace=True),
                nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, num_classes),
            )
        else:  # the paper's, Caffe's and the book's order: dropout on the outputs of fc6 and fc7
            self.classifier = nn.Sequential(
                nn.Linear(n_in, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, num_classes),
            )
        self.min_size = min_input_size(self.features)
        if cfg["fashion"]:  # the book initialises its CNNs with Xavier
            self.apply(init_cnn)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, f"AlexNet ({self.variant})", min_size=self.min_size)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


@register_model(book=True)
def alexnet(
    num_classes: int | None = None,
    in_channels: int | None = None,
    *,
    variant: str = "torchvision",
    lrn: bool | None = None,
    dropout: float = 0.5,
    overlap: bool = True,
    groups: int | None = None,
) -> AlexNet:
    """AlexNet; by default exactly ``torchvision.models.alexnet()`` (61,100,840 parameters).

    ``alexnet(variant="paper")`` is the 2012 network, ``alexnet(variant="d2l")`` the book's (10
    classes, 1 channel), ``alexnet(variant="small")`` the CPU-sized one for 32x32 Fashion-MNIST.
    """
    return AlexNet(num_classes, in_channels, variant=variant, lrn=lrn, dropout=dropout,
                   overlap=overlap, groups=groups)
