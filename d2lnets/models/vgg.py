"""VGG (Simonyan and Zisserman, 2014, "Very deep convolutional networks for large-scale image
recognition"); batch-norm variants after Ioffe and Szegedy (2015).

A VGG network is a stack of blocks -- a few 3x3 convolutions (padding 1) with ReLUs, then a 2x2
max pool that halves the resolution -- followed by three fully connected layers (4096, 4096,
classes, dropout 0.5 on the hidden ones). The paper's configurations (its Table 1) are plain data
in ``cfgs``: an int is a 3x3 convolution with that many channels, ``(c, 1)`` a 1x1 convolution
(configuration C), ``"M"`` a max pool and ``"LRN"`` local response normalisation (A-LRN).

Parameters at 1000 classes: A 132,863,336; A-LRN 132,863,336; B 133,047,848; C 133,638,952;
D 138,357,544; E 143,667,240. ``vgg11`` ... ``vgg19_bn`` are torchvision's models exactly (same
module names, so state_dicts load). The book's VGG-11 for Fashion-MNIST is
``vgg("A", num_classes=10, in_channels=1, width_ratio=4)``: channels divided by 4, classifier kept
at 4096, 43,093,322 parameters on 224x224 inputs.
"""
from __future__ import annotations

from typing import Union

import torch
from torch import Tensor, nn

from ..layers import LocalResponseNorm
from ..summary import min_input_size
from .._validate import as_float, as_int
from ._common import check_input, check_sizes

__all__ = ["VGG", "cfgs", "vgg", "vgg_block", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn",
           "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]

Entry = Union[int, tuple, str]
cfgs: dict[str, list[Entry]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M",
          512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def vgg_block(num_convs: int, out_channels: int, in_channels: int | None = None) -> nn.Sequential:
    """The book's VGG block: ``num_convs`` 3x3 convolutions (padding 1) with ReLU, then 2x2 max pool.

    ``vgg_block(num_convs, out_channels)`` is the book's call and uses ``nn.LazyConv2d`` (the
    input channels are fixed by the first forward pass; count parameters after it). Pass
    ``in_channels`` to get ordinary ``nn.Conv2d`` layers.
    """
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        conv = (nn.LazyConv2d(out_channels, kernel_size=3, padding=1) if in_channels is None
                else nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers += [conv, nn.ReLU(inplace=True)]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def make_features(cfg: list[Entry], in_channels: int = 3, batch_norm: bool = False,
                  width_ratio: float = 1.0) -> nn.Sequential:
    """The convolutional part of a configuration, flat like torchvision's (``features.0``, ...)."""
    layers: list[nn.Module] = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "LRN":  # A-LRN: as in Krizhevsky et al., after the first ReLU
            layers.append(LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0, convention="paper"))
        elif isinstance(v, int) or (isinstance(v, tuple) and len(v) == 2):
            channels, kernel = (v, 3) if isinstance(v, int) else v
            channels = int(channels / width_ratio)
            layers.append(nn.Conv2d(in_channels, channels, kernel, padding=kernel // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(channels))
            layers.append(nn.ReLU(inplace=True))
            in_channels = channels
        else:
            raise ValueError(f"VGG configuration entries are channels (int), (channels, kernel), "
                             f"'M' or 'LRN'; got {v!r}")
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG from a configuration (a key of ``cfgs`` or a list in the same format).

    Args:
        cfg: ``"A"``, ``"A-LRN"``, ``"B"``, ``"C"``, ``"D"``, ``"E"`` or a list of entries.
        num_classes, in_channels: output classes and input channels.
        batch_norm: batch normalisation after every convolution (torchvision's ``_bn`` models).
        width_ratio: divide every convolution's channels by this (the book uses 4); the hidden
            FC layers keep ``hidden`` units.
        dropout: dropout probability on the two hidden FC layers.
        hidden: width of the two hidden FC layers.

    The features end in an adaptive 7x7 average pool (as torchvision), a no-op at 224 px; inputs
    of 32 px and more work.
    """

    def __init__(
        self,
        cfg: str | list[Entry] = "D",
        num_classes: int = 1000,
        in_channels: int = 3,
        *,
        batch_norm: bool = False,
        width_ratio: float = 1.0,
        dropout: float = 0.5,
        hidden: int = 4096,
    ) -> None:
        super().__init__()
        if isinstance(cfg, str):
            if cfg not in cfgs:
                raise ValueError(f"unknown VGG configuration {cfg!r}; choose one of {list(cfgs)}")
            self.config = cfg
            cfg = cfgs[cfg]
        else:
            self.config = "custom"
        num_classes, in_channels = check_sizes(num_classes, in_channels)
        width_ratio = as_float(width_ratio, "width_ratio", above=0)
        narrowest = min(v if isinstance(v, int) else v[0] for v in cfg if not isinstance(v, str))
        if int(narrowest / width_ratio) < 1:
            raise ValueError(f"width_ratio={width_ratio:g} leaves the narrowest convolution ({narrowest} channels) "
                             f"with none; divide the widths by at most {narrowest} (the book uses 4)")
        dropout = as_float(dropout, "dropout", at_least=0, at_most=1)
        hidden = as_int(hidden, "hidden")
        self.in_channels = in_channels
        self.features = make_features(cfg, in_channels, batch_norm, width_ratio)
        last = [m for m in self.features if isinstance(m, nn.Conv2d)][-1].out_channels
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(last * 7 * 7, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        self.min_size = min_input_size(self.features)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, f"VGG ({self.config})", min_size=self.min_size)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg(config: str | list[Entry], num_classes: int = 1000, in_channels: int = 3, *,
        batch_norm: bool = False, width_ratio: float = 1.0, dropout: float = 0.5,
        hidden: int = 4096) -> VGG:
    """VGG of a configuration; ``vgg("A", 10, 1, width_ratio=4)`` is the book's VGG-11."""
    return VGG(config, num_classes, in_channels, batch_norm=batch_norm, width_ratio=width_ratio,
               dropout=dropout, hidden=hidden)


def vgg11(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-11 (configuration A), as ``torchvision.models.vgg11``."""
    return vgg("A", num_classes, in_channels, **kwargs)


def vgg13(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-13 (configuration B), as ``torchvision.models.vgg13``."""
    return vgg("B", num_classes, in_channels, **kwargs)


def vgg16(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-16 (configuration D), as ``torchvision.models.vgg16``."""
    return vgg("D", num_classes, in_channels, **kwargs)


def vgg19(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-19 (configuration E), as ``torchvision.models.vgg19``."""
    return vgg("E", num_classes, in_channels, **kwargs)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-11 with batch norm, as ``torchvision.models.vgg11_bn``."""
    return vgg("A", num_classes, in_channels, batch_norm=True, **kwargs)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-13 with batch norm, as ``torchvision.models.vgg13_bn``."""
    return vgg("B", num_classes, in_channels, batch_norm=True, **kwargs)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-16 with batch norm, as ``torchvision.models.vgg16_bn``."""
    return vgg("D", num_classes, in_channels, batch_norm=True, **kwargs)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-19 with batch norm, as ``torchvision.models.vgg19_bn``."""
    return vgg("E", num_classes, in_channels, batch_norm=True, **kwargs)
