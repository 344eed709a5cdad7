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
``vgg11(variant="d2l")`` (10 classes, 1 channel, Xavier initialisation), and
``vgg11(variant="d2l", width_ratio=4)`` the 1/4-width one the book trains: channels divided by 4,
classifier kept at 4096, 43,093,322 parameters on 224x224 inputs. ``vgg11(variant="small")`` is
chapter 3's CPU-sized VGG for 32x32 images (:class:`SmallVGG`, 613,802 parameters).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..analysis.shapes import min_input_size
from ..core.validate import as_float, as_int, short
from ._common import check_input, check_sizes, init_cnn
from ._registry import check_variant, register_model
from .layers import LocalResponseNorm

__all__ = ["SmallVGG", "VGG", "cfgs", "vgg", "vgg_block"]

Entry = int | tuple | str
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


_DEPTHS = {11: "A", 13: "B", 16: "D", 19: "E"}


def _check_config(cfg: object) -> None:
    """A configuration given as a list: entries :func:`make_features` builds, at least one a convolution."""
    if not isinstance(cfg, (list, tuple)):
        depth = f"; for VGG-{cfg} give its configuration, vgg({_DEPTHS[cfg]!r}), or call vgg{cfg}()" \
            if isinstance(cfg, int) and cfg in _DEPTHS else ""
        raise TypeError(f"cfg must be a configuration's name ({', '.join(cfgs)}) or a list of entries such as "
                        f"[64, 'M', 128, 'M'], got {short(cfg)}{depth}")
    for v in cfg:
        conv = isinstance(v, int) or isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, int) for x in v)
        if not (v in ("M", "LRN") or conv) or isinstance(v, bool) or conv and min(_ints(v)) < 1:
            raise ValueError(f"VGG configuration entries are channels (a positive int), (channels, kernel), 'M' "
                             f"or 'LRN'; got {v!r}")
    if not any(not isinstance(v, str) for v in cfg):
        raise ValueError(f"the VGG configuration {list(cfg)} has no convolution; it needs at least one, e.g. "
                         "[64, 'M', 128, 'M']")


def _ints(v: int | tuple) -> tuple:
    return (v,) if isinstance(v, int) else v


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
        init: ``"torchvision"`` (Kaiming normal, as torchvision) or ``"d2l"`` (the book's Xavier).

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
        init: str = "torchvision",
    ) -> None:
        super().__init__()
        if init not in ("torchvision", "d2l"):
            raise ValueError(f"init must be 'torchvision' or 'd2l', got {init!r}")
        if isinstance(cfg, str):
            if cfg not in cfgs:
                raise ValueError(f"unknown VGG configuration {cfg!r}; choose one of {list(cfgs)}")
            self.config = cfg
            cfg = cfgs[cfg]
        else:
            self.config = "custom"
            _check_config(cfg)
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
        if init == "d2l":
            self.apply(init_cnn)
            return
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


VARIANTS = ("torchvision", "d2l", "small")
# The torchvision names: configuration and batch norm. The factories, list_models and
# from_torchvision all read this table.
ARCHS: dict[str, tuple[str, bool]] = {
    "vgg11": ("A", False), "vgg13": ("B", False), "vgg16": ("D", False), "vgg19": ("E", False),
    "vgg11_bn": ("A", True), "vgg13_bn": ("B", True), "vgg16_bn": ("D", True), "vgg19_bn": ("E", True),
}


class SmallVGG(nn.Sequential):
    """The CPU-sized VGG of chapter 3, for 32x32 images: a configuration's features (batch norm,
    widths divided by ``width_ratio``; five pools take 32 px to 1x1), then flatten,
    ``Linear(channels, hidden)``, ReLU, dropout 0.5, ``Linear(hidden, num_classes)``.

    Built exactly as the chapter's former ``cpu_vgg`` (the features of a full :class:`VGG`, with
    torchvision's initialisation; PyTorch's default for the two linear layers), so a seeded build
    gives the same weights and the same ``state_dict`` keys. Configuration A with 1 channel and 10
    classes: 613,802 parameters. Inputs of 32 to 63 pixels.
    """

    def __init__(self, cfg: str | list[Entry] = "A", num_classes: int = 10, in_channels: int = 1, *,
                 batch_norm: bool = True, width_ratio: float = 4, hidden: int = 256,
                 dropout: float = 0.5) -> None:
        full = VGG(cfg, num_classes, in_channels, batch_norm=batch_norm, width_ratio=width_ratio, hidden=hidden)
        channels = [m for m in full.features if isinstance(m, nn.Conv2d)][-1].out_channels
        super().__init__(full.features, nn.Flatten(), nn.Linear(channels, hidden), nn.ReLU(),
                         nn.Dropout(as_float(dropout, "dropout", at_least=0, at_most=1)),
                         nn.Linear(hidden, full.classifier[-1].out_features))
        self.in_channels, self.config, self.min_size = full.in_channels, full.config, full.min_size

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, f"VGG ({self.config}, small)", min_size=self.min_size)
        if max(x.shape[-2:]) >= 2 * self.min_size:
            raise ValueError(f"the small VGG is built for {self.min_size}x{self.min_size} inputs "
                             f"({self.min_size} to {2 * self.min_size - 1} pixels) but got "
                             f"{x.shape[-2]}x{x.shape[-1]}: resize the data "
                             f"(e.g. load_data_fashion_mnist(..., resize={self.min_size}))")
        return super().forward(x)


def vgg(config: str | list[Entry], num_classes: int | None = None, in_channels: int | None = None, *,
        variant: str = "torchvision", batch_norm: bool | None = None, width_ratio: float | None = None,
        dropout: float = 0.5, hidden: int | None = None) -> VGG | SmallVGG:
    """VGG of a configuration.

    ``variant="torchvision"`` (default): as torchvision, 1000 classes and 3 channels by default;
    ``variant="small"``: the CPU-sized :class:`SmallVGG` (batch norm, width/4, hidden 256; 10
    classes and 1 channel by default). The book's VGG is ``vgg11(variant="d2l")``.
    """
    return _vgg("vgg", config, num_classes, in_channels, variant=variant, batch_norm=batch_norm,
                width_ratio=width_ratio, dropout=dropout, hidden=hidden)


def _vgg(name: str, config: str | list[Entry], num_classes: int | None, in_channels: int | None, *,
         variant: str, batch_norm: bool | None = None, width_ratio: float | None = None,
         dropout: float = 0.5, hidden: int | None = None) -> VGG | SmallVGG:
    check_variant(name, variant, VARIANTS if name == "vgg11" else ("torchvision", "small"))
    fashion = variant in ("d2l", "small")
    num_classes = (10 if fashion else 1000) if num_classes is None else num_classes
    in_channels = (1 if fashion else 3) if in_channels is None else in_channels
    if variant == "small":
        return SmallVGG(config, num_classes, in_channels, batch_norm=True if batch_norm is None else batch_norm,
                        width_ratio=4 if width_ratio is None else width_ratio,
                        hidden=256 if hidden is None else hidden, dropout=dropout)
    return VGG(config, num_classes, in_channels, batch_norm=bool(batch_norm),
               width_ratio=1.0 if width_ratio is None else width_ratio, dropout=dropout,
               hidden=4096 if hidden is None else hidden, init="d2l" if variant == "d2l" else "torchvision")


def _from_table(name: str, num_classes: int | None, in_channels: int | None, variant: str,
                **kwargs) -> VGG | SmallVGG:
    config, batch_norm = ARCHS[name]
    if batch_norm:
        kwargs["batch_norm"] = True
    return _vgg(name, config, num_classes, in_channels, variant=variant, **kwargs)


@register_model(book=True)
def vgg11(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
          **kwargs) -> VGG | SmallVGG:
    """VGG-11 (configuration A), as ``torchvision.models.vgg11``; ``variant="small"``: the CPU-sized
    :class:`SmallVGG`; ``variant="d2l"``: the book's VGG-11 (10 classes, 1 channel, full width,
    Xavier initialisation), whose ``width_ratio=4`` divides its convolutions' widths by 4 as the
    book trains it (43,093,322 parameters at 224 px). ``kwargs``: those of :func:`vgg`."""
    return _from_table("vgg11", num_classes, in_channels, variant, **kwargs)


@register_model()
def vgg13(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
          **kwargs) -> VGG | SmallVGG:
    """VGG-13 (configuration B), as ``torchvision.models.vgg13``; ``variant="small"``: the CPU-sized
    :class:`SmallVGG`."""
    return _from_table("vgg13", num_classes, in_channels, variant, **kwargs)


@register_model()
def vgg16(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
          **kwargs) -> VGG | SmallVGG:
    """VGG-16 (configuration D), as ``torchvision.models.vgg16``; ``variant="small"``: the CPU-sized
    :class:`SmallVGG`."""
    return _from_table("vgg16", num_classes, in_channels, variant, **kwargs)


@register_model()
def vgg19(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
          **kwargs) -> VGG | SmallVGG:
    """VGG-19 (configuration E), as ``torchvision.models.vgg19``; ``variant="small"``: the CPU-sized
    :class:`SmallVGG`."""
    return _from_table("vgg19", num_classes, in_channels, variant, **kwargs)


@register_model()
def vgg11_bn(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
             **kwargs) -> VGG | SmallVGG:
    """VGG-11 (configuration A) with batch norm, as ``torchvision.models.vgg11_bn``."""
    return _from_table("vgg11_bn", num_classes, in_channels, variant, **kwargs)


@register_model()
def vgg13_bn(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
             **kwargs) -> VGG | SmallVGG:
    """VGG-13 (configuration B) with batch norm, as ``torchvision.models.vgg13_bn``."""
    return _from_table("vgg13_bn", num_classes, in_channels, variant, **kwargs)


@register_model()
def vgg16_bn(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
             **kwargs) -> VGG | SmallVGG:
    """VGG-16 (configuration D) with batch norm, as ``torchvision.models.vgg16_bn``."""
    return _from_table("vgg16_bn", num_classes, in_channels, variant, **kwargs)


@register_model()
def vgg19_bn(num_classes: int | None = None, in_channels: int | None = None, *, variant: str = "torchvision",
             **kwargs) -> VGG | SmallVGG:
    """VGG-19 (configuration E) with batch norm, as ``torchvision.models.vgg19_bn``."""
    return _from_table("vgg19_bn", num_classes, in_channels, variant, **kwargs)
