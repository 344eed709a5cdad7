"""ResNet (He, Zhang, Ren and Sun, 2015, "Deep residual learning for image recognition"), with
batch normalisation (Ioffe and Szegedy, 2015) after every convolution.

A residual block learns ``F(x)`` and outputs ``relu(F(x) + x)``; when the block changes the
resolution or the width, the shortcut is a strided 1x1 convolution (the "projection"). ResNet-18
and -34 stack ``BasicBlock`` s (two 3x3 convolutions), ResNet-50/101/152 ``Bottleneck`` s
(1x1 down to a quarter of the width, 3x3, 1x1 back up; the stride sits on the 3x3 as in
torchvision, "ResNet v1.5").

``resnet18`` ... ``resnet152`` are torchvision's models exactly (module names, initialisation,
parameter counts: 11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 / 60,192,808).
``resnet18(variant="d2l")`` is the book's ResNet-18 for Fashion-MNIST (96x96 inputs in
the book; any size works): the same stem and stages, but convolutions with biases (the book's
``nn.LazyConv2d`` default) and projections without batch norm -- 11,178,378 parameters.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.validate import as_int
from ._common import check_input, check_sizes, init_cnn
from ._registry import check_variant, register_model

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "Residual"]

VARIANTS = ("torchvision", "d2l")


class Residual(nn.Module):
    """The book's residual block: 3x3 conv, BN, ReLU, 3x3 conv, BN, add the input, ReLU.

    ``use_1x1conv`` adds a 1x1 convolution (stride ``strides``) on the shortcut so that the shapes
    match when the block halves the resolution or changes the width. As in the book,
    ``Residual(num_channels, ...)`` uses lazy convolutions (input channels fixed at the first
    forward pass); pass ``in_channels`` for ordinary ones.
    """

    def __init__(self, num_channels: int, use_1x1conv: bool = False, strides: int = 1,
                 *, in_channels: int | None = None) -> None:
        super().__init__()

        def conv(c_in: int | None, kernel: int, stride: int, padding: int) -> nn.Module:
            if c_in is None:
                return nn.LazyConv2d(num_channels, kernel, stride=stride, padding=padding)
            return nn.Conv2d(c_in, num_channels, kernel, stride=stride, padding=padding)

        self.conv1 = conv(in_channels, 3, strides, 1)
        self.conv2 = conv(num_channels, 3, 1, 1)
        self.conv3 = conv(in_channels, 1, strides, 0) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
        return F.relu(y + x)


def conv3x3(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=bias)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BN; ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: nn.Module | None = None, *, bias: bool = False) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride, bias)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(channels, channels, 1, bias)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce to ``channels``), 3x3 (stride), 1x1 (expand to ``4 * channels``), each with BN."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 downsample: nn.Module | None = None, *, bias: bool = False) -> None:
        super().__init__()
        self.conv1 = conv1x1(in_channels, channels, 1, bias)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride, bias)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, channels * self.expansion, 1, bias)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


Block = type[BasicBlock | Bottleneck]


class ResNet(nn.Module):
    """Stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool), four stages of blocks, global pool, linear.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: blocks per stage, e.g. ``[2, 2, 2, 2]`` for ResNet-18.
        num_classes, in_channels: output classes and input channels.
        variant: ``"torchvision"`` (bias-free convolutions, BN on the projections, Kaiming
            initialisation) or ``"d2l"`` (the book's: convolutions with biases, plain 1x1
            projections, Xavier initialisation).
        zero_init_residual: start every block's last BN at zero, so blocks begin as identities
            (torchvision's option; Goyal et al., 2017).
    """

    def __init__(self, block: Block, layers: list[int], num_classes: int = 1000, in_channels: int = 3,
                 *, variant: str = "torchvision", zero_init_residual: bool = False) -> None:
        super().__init__()
        check_variant("ResNet", variant, VARIANTS)
        num_classes, in_channels = check_sizes(num_classes, in_channels)
        if not isinstance(layers, (list, tuple)) or len(layers) != 4:
            raise ValueError(f"layers must list the blocks of the four stages, e.g. [2, 2, 2, 2] for ResNet-18, "
                             f"got {layers!r}")
        layers = [as_int(n, "each stage's number of blocks") for n in layers]
        self.in_channels, self.variant = in_channels, variant
        self._book = variant == "d2l"  # the book: biased convolutions, projections without BN
        self._channels = 64  # input channels of the next block, updated by _make_layer
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=self._book)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        if variant == "d2l":  # the book's initialisation; batch norm keeps PyTorch's (ones, zeros)
            self.apply(init_cnn)
        else:  # torchvision's
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block: Block, channels: int, blocks: int, stride: int = 1) -> nn.Sequential:
        out_channels = channels * block.expansion
        downsample = None
        if stride != 1 or self._channels != out_channels:
            proj = conv1x1(self._channels, out_channels, stride, self._book)
            downsample = nn.Sequential(proj) if self._book else nn.Sequential(proj, nn.BatchNorm2d(out_channels))
        layers = [block(self._channels, channels, stride, downsample, bias=self._book)]
        self._channels = out_channels
        layers += [block(out_channels, channels, bias=self._book) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, f"ResNet ({self.variant})")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# Blocks per stage of each torchvision name: the factories and from_torchvision read this table.
ARCHS: dict[str, tuple[Block, tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
    "resnet152": (Bottleneck, (3, 8, 36, 3)),
}


def _resnet(name: str, num_classes: int | None, in_channels: int | None, variant: str,
            zero_init_residual: bool) -> ResNet:
    check_variant(name, variant, VARIANTS if name == "resnet18" else ("torchvision",))
    book = variant == "d2l"
    block, layers = ARCHS[name]
    return ResNet(block, list(layers), (10 if book else 1000) if num_classes is None else num_classes,
                  (1 if book else 3) if in_channels is None else in_channels,
                  variant=variant, zero_init_residual=zero_init_residual)


@register_model(book=True)
def resnet18(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
             zero_init_residual: bool = False) -> ResNet:
    """ResNet-18, as ``torchvision.models.resnet18``; ``resnet18(variant="d2l")`` is the book's (10
    classes, 1 channel: 11,178,378 parameters)."""
    return _resnet("resnet18", num_classes, in_channels, variant, zero_init_residual)


@register_model()
def resnet34(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
             zero_init_residual: bool = False) -> ResNet:
    """ResNet-34, as ``torchvision.models.resnet34``."""
    return _resnet("resnet34", num_classes, in_channels, variant, zero_init_residual)


@register_model()
def resnet50(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
             zero_init_residual: bool = False) -> ResNet:
    """ResNet-50, as ``torchvision.models.resnet50``."""
    return _resnet("resnet50", num_classes, in_channels, variant, zero_init_residual)


@register_model()
def resnet101(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
              zero_init_residual: bool = False) -> ResNet:
    """ResNet-101, as ``torchvision.models.resnet101``."""
    return _resnet("resnet101", num_classes, in_channels, variant, zero_init_residual)


@register_model()
def resnet152(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
              zero_init_residual: bool = False) -> ResNet:
    """ResNet-152, as ``torchvision.models.resnet152``."""
    return _resnet("resnet152", num_classes, in_channels, variant, zero_init_residual)
