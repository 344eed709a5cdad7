"""DenseNet (Huang, Liu, van der Maaten and Weinberger, 2016, "Densely connected convolutional
networks"), with batch normalisation (Ioffe and Szegedy, 2015) in BN-ReLU-conv order.

Inside a dense block every layer sees the concatenation of all earlier outputs and adds
``growth_rate`` new channels; transition layers (BN, ReLU, 1x1 conv halving the channels, 2x2
average pool) sit between blocks. DenseNet-BC (torchvision's ``densenet121`` ... ``densenet201``)
puts a 1x1 "bottleneck" convolution to ``bn_size * growth_rate`` channels in front of each 3x3.

``densenet121`` ... ``densenet201`` are torchvision's models exactly (same state_dict keys;
121: 7,978,856 parameters). ``densenet()`` (= ``densenet(variant="d2l")``) is the book's small
DenseNet for Fashion-MNIST: stem 64 (7x7/2, BN, ReLU, 3x3/2 max pool), four blocks of four
BN-ReLU-3x3 convolutions (growth 32, no bottleneck, convolutions with biases), transitions
halving the channels, BN-ReLU, global average pool, linear -- 758,226 parameters with 1 channel
and 10 classes. The book's building
blocks are ``conv_block``, ``DenseBlock`` and ``transition_block``.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..analysis.shapes import min_input_size
from ..core.validate import as_int
from ._common import check_input, check_sizes, init_cnn
from ._registry import check_variant, register_model

__all__ = ["DenseBlock", "DenseNet", "conv_block", "transition_block"]


class _DenseLayer(nn.Sequential):
    """BN-ReLU-1x1 conv (the bottleneck, unless ``bn_size`` is None), BN-ReLU-3x3 conv.

    Returns only the ``growth_rate`` new channels; the block concatenates them.
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int | None = 4,
                 drop_rate: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        if bn_size:  # DenseNet-BC: torchvision's names norm1/conv1 (1x1), norm2/conv2 (3x3)
            self.add_module("norm1", nn.BatchNorm2d(in_channels))
            self.add_module("relu1", nn.ReLU(inplace=True))
            self.add_module("conv1", nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=bias))
            in_channels = bn_size * growth_rate
            suffix = "2"
        else:
            suffix = "1"
        self.add_module("norm" + suffix, nn.BatchNorm2d(in_channels))
        self.add_module("relu" + suffix, nn.ReLU(inplace=True))
        self.add_module("conv" + suffix, nn.Conv2d(in_channels, growth_rate, 3, padding=1, bias=bias))
        if drop_rate > 0:
            self.add_module("drop", nn.Dropout(drop_rate))


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers; each one's output is concatenated to its input."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int | None = 4,
                 drop_rate: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate, bias)
            self.add_module(f"denselayer{i + 1}", layer)
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.values():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _Transition(nn.Sequential):
    """BN, ReLU, 1x1 convolution to ``out_channels``, 2x2 average pool with stride 2."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False) -> None:
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(in_channels))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(in_channels, out_channels, 1, bias=bias))
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


# --- the book's building blocks, with explicit input channels ---------------------------------
def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """The book's ``conv_block``: BN, ReLU, 3x3 convolution (padding 1, with bias)."""
    return _DenseLayer(in_channels, out_channels, bn_size=None, bias=True)


class DenseBlock(_DenseBlock):
    """The book's dense block: ``num_convs`` conv_blocks, each adding ``growth_rate`` channels.

    Output channels: ``in_channels + num_convs * growth_rate`` (also ``.out_channels``).
    """

    def __init__(self, num_convs: int, in_channels: int, growth_rate: int) -> None:
        super().__init__(num_convs, in_channels, growth_rate, bn_size=None, bias=True)


def transition_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """The book's transition: BN, ReLU, 1x1 convolution (with bias), 2x2 average pool."""
    return _Transition(in_channels, out_channels, bias=True)


class DenseNet(nn.Module):
    """DenseNet: stem, dense blocks joined by transitions, BN, ReLU, global average pool, linear.

    Args:
        growth_rate: channels each dense layer adds.
        block_config: dense layers per block.
        num_init_features: channels of the stem convolution.
        bn_size: bottleneck width as a multiple of ``growth_rate`` (None: no bottleneck).
        drop_rate: dropout after each dense layer.
        num_classes, in_channels: output classes and input channels.
        bias: biases in the convolutions (the book's) or not (torchvision's).
        init: ``"torchvision"`` (Kaiming normal) or ``"d2l"`` (the book's Xavier, ``init_cnn``).
    """

    def __init__(self, growth_rate: int = 32, block_config: tuple[int, ...] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int | None = 4, drop_rate: float = 0.0,
                 num_classes: int = 1000, in_channels: int = 3, *, bias: bool = False,
                 init: str = "torchvision") -> None:
        super().__init__()
        if init not in ("torchvision", "d2l"):
            raise ValueError(f"init must be 'torchvision' or 'd2l', got {init!r}")
        num_classes, in_channels = check_sizes(num_classes, in_channels)
        growth_rate = as_int(growth_rate, "growth_rate")
        num_init_features = as_int(num_init_features, "num_init_features")
        if not isinstance(block_config, (list, tuple)) or not block_config:
            raise ValueError(f"block_config must list the layers of each dense block, e.g. (4, 4, 4, 4), "
                             f"got {block_config!r}")
        block_config = [as_int(n, "each dense block's number of layers") for n in block_config]
        self.in_channels = in_channels
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=bias)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, channels, growth_rate, bn_size, drop_rate, bias)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels = block.out_channels
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(channels, channels // 2, bias))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)
        self.min_size = min_input_size(self.features)

        if init == "d2l":  # the book's; batch norm keeps PyTorch's (ones, zeros)
            self.apply(init_cnn)
            return
        for m in self.modules():  # torchvision's
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, "DenseNet", min_size=self.min_size)
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


# Each name's numbers: the factories and from_torchvision read this table. ``densenet`` is the
# book's (no bottleneck, biased convolutions); the others are torchvision's DenseNet-BC.
ARCHS: dict[str, dict] = {
    "densenet": dict(growth_rate=32, block_config=(4, 4, 4, 4), num_init_features=64, bn_size=None, bias=True),
    "densenet121": dict(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4, bias=False),
    "densenet161": dict(growth_rate=48, block_config=(6, 12, 36, 24), num_init_features=96, bn_size=4, bias=False),
    "densenet169": dict(growth_rate=32, block_config=(6, 12, 32, 32), num_init_features=64, bn_size=4, bias=False),
    "densenet201": dict(growth_rate=32, block_config=(6, 12, 48, 32), num_init_features=64, bn_size=4, bias=False),
}


@register_model(book=True)
def densenet(num_classes: int = 10, in_channels: int = 1, *, variant: str = "d2l",
             growth_rate: int | None = None, block_config: tuple[int, ...] | None = None,
             num_init_features: int | None = None) -> DenseNet:
    """The book's DenseNet (no bottleneck, biased convolutions, Xavier initialisation): 758,226
    parameters by default. ``variant="d2l"`` is the only variant (and the default)."""
    check_variant("densenet", variant, ("d2l",))
    arch = dict(ARCHS["densenet"])
    for key, value in (("growth_rate", growth_rate), ("block_config", block_config),
                       ("num_init_features", num_init_features)):
        if value is not None:
            arch[key] = value
    return DenseNet(**arch, num_classes=num_classes, in_channels=in_channels, init="d2l")


def _densenet(name: str, num_classes: int, in_channels: int, drop_rate: float, variant: str) -> DenseNet:
    check_variant(name, variant, ("torchvision",))
    return DenseNet(**ARCHS[name], drop_rate=drop_rate, num_classes=num_classes, in_channels=in_channels)


@register_model()
def densenet121(num_classes: int = 1000, in_channels: int = 3, *, drop_rate: float = 0.0,
                variant: str = "torchvision") -> DenseNet:
    """DenseNet-121 (growth 32, blocks 6-12-24-16), as ``torchvision.models.densenet121``."""
    return _densenet("densenet121", num_classes, in_channels, drop_rate, variant)


@register_model()
def densenet161(num_classes: int = 1000, in_channels: int = 3, *, drop_rate: float = 0.0,
                variant: str = "torchvision") -> DenseNet:
    """DenseNet-161 (growth 48, blocks 6-12-36-24, stem 96), as ``torchvision.models.densenet161``."""
    return _densenet("densenet161", num_classes, in_channels, drop_rate, variant)


@register_model()
def densenet169(num_classes: int = 1000, in_channels: int = 3, *, drop_rate: float = 0.0,
                variant: str = "torchvision") -> DenseNet:
    """DenseNet-169 (growth 32, blocks 6-12-32-32), as ``torchvision.models.densenet169``."""
    return _densenet("densenet169", num_classes, in_channels, drop_rate, variant)


@register_model()
def densenet201(num_classes: int = 1000, in_channels: int = 3, *, drop_rate: float = 0.0,
                variant: str = "torchvision") -> DenseNet:
    """DenseNet-201 (growth 32, blocks 6-12-48-32), as ``torchvision.models.densenet201``."""
    return _densenet("densenet201", num_classes, in_channels, drop_rate, variant)
