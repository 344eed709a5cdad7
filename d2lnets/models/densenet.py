"""DenseNet (Huang, Liu, van der Maaten and Weinberger, 2016, "Densely connected convolutional
networks"), with batch normalisation (Ioffe and Szegedy, 2015) in BN-ReLU-conv order.

Inside a dense block every layer sees the concatenation of all earlier outputs and adds
``growth_rate`` new channels; transition layers (BN, ReLU, 1x1 conv halving the channels, 2x2
average pool) sit between blocks. DenseNet-BC (torchvision's ``densenet121`` ... ``densenet201``)
puts a 1x1 "bottleneck" convolution to ``bn_size * growth_rate`` channels in front of each 3x3.

``densenet121`` ... ``densenet201`` are torchvision's models exactly (same state_dict keys;
121: 7,978,856 parameters). ``densenet()`` is the book's small DenseNet for Fashion-MNIST: stem
64 (7x7/2, BN, ReLU, 3x3/2 max pool), four blocks of four BN-ReLU-3x3 convolutions (growth 32,
no bottleneck, convolutions with biases), transitions halving the channels, BN-ReLU, global
average pool, linear -- 758,226 parameters with 1 channel and 10 classes. The book's building
blocks are ``conv_block``, ``DenseBlock`` and ``transition_block``.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..summary import min_input_size
from .._validate import as_int
from ._common import check_input, check_sizes

__all__ = ["DenseBlock", "DenseNet", "conv_block", "densenet", "densenet121", "densenet161",
           "densenet169", "densenet201", "transition_block"]


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
    """

    def __init__(self, growth_rate: int = 32, block_config: tuple[int, ...] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int | None = 4, drop_rate: float = 0.0,
                 num_classes: int = 1000, in_channels: int = 3, *, bias: bool = False) -> None:
        super().__init__()
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

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if bias:  # the book: d2l.init_cnn
                    nn.init.xavier_uniform_(m.weight)
                else:  # torchvision
                    nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                if bias:
                    nn.init.xavier_uniform_(m.weight)
                else:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, "DenseNet", min_size=self.min_size)
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


def densenet(num_classes: int = 10, in_channels: int = 1, *, growth_rate: int = 32,
             block_config: tuple[int, ...] = (4, 4, 4, 4), num_init_features: int = 64) -> DenseNet:
    """The book's DenseNet (no bottleneck, biased convolutions): 758,226 parameters by default."""
    return DenseNet(growth_rate, block_config, num_init_features, bn_size=None,
                    num_classes=num_classes, in_channels=in_channels, bias=True)


def densenet121(num_classes: int = 1000, in_channels: int = 3, *, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-121 (growth 32, blocks 6-12-24-16), as ``torchvision.models.densenet121``."""
    return DenseNet(32, (6, 12, 24, 16), 64, 4, drop_rate, num_classes, in_channels)


def densenet161(num_classes: int = 1000, in_channels: int = 3, *, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-161 (growth 48, blocks 6-12-36-24, stem 96), as ``torchvision.models.densenet161``."""
    return DenseNet(48, (6, 12, 36, 24), 96, 4, drop_rate, num_classes, in_channels)


def densenet169(num_classes: int = 1000, in_channels: int = 3, *, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-169 (growth 32, blocks 6-12-32-32), as ``torchvision.models.densenet169``."""
    return DenseNet(32, (6, 12, 32, 32), 64, 4, drop_rate, num_classes, in_channels)


def densenet201(num_classes: int = 1000, in_channels: int = 3, *, drop_rate: float = 0.0) -> DenseNet:
    """DenseNet-201 (growth 32, blocks 6-12-48-32), as ``torchvision.models.densenet201``."""
    return DenseNet(32, (6, 12, 48, 32), 64, 4, drop_rate, num_classes, in_channels)
