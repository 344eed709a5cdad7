"""``from_torchvision``: our model of the same architecture, carrying a torchvision model's weights.

Our torchvision-named factories use torchvision's module names, so the state_dict loads as it is;
this module only works out which factory (and which ``num_classes``/``in_channels``) to call.
"""
from __future__ import annotations

import torch
from torch import nn

from ._registry import get_model
from .alexnet import AlexNet
from .densenet import ARCHS as DENSENET_ARCHS
from .densenet import DenseNet
from .resnet import ARCHS as RESNET_ARCHS
from .resnet import ResNet
from .vgg import ARCHS as VGG_ARCHS
from .vgg import VGG, cfgs

__all__ = ["from_torchvision"]

# What converts, read from the architecture tables: torchvision's names of each family.
_RESNETS = {(block.__name__, layers): name for name, (block, layers) in RESNET_ARCHS.items()}
_DENSENETS = {(a["growth_rate"], a["block_config"], a["num_init_features"]): name
              for name, a in DENSENET_ARCHS.items() if a["bn_size"]}
_VGGS = {(cfg, bn): name for name, (cfg, bn) in VGG_ARCHS.items()}
SUPPORTED = ("alexnet", *VGG_ARCHS, *RESNET_ARCHS, *_DENSENETS.values())


def _unsupported(tv_model: nn.Module, why: str) -> ValueError:
    return ValueError(f"from_torchvision cannot convert this {type(tv_model).__name__}: {why}. "
                      f"Supported: {', '.join(SUPPORTED)}")


def _vgg_name(features: nn.Sequential) -> str:
    entries: list = []
    for m in features:
        if isinstance(m, nn.Conv2d):
            entries.append(m.out_channels if m.kernel_size == (3, 3) else (m.out_channels, m.kernel_size[0]))
        elif isinstance(m, nn.MaxPool2d):
            entries.append("M")
    batch_norm = any(isinstance(m, nn.BatchNorm2d) for m in features)
    for config, bn in _VGGS:
        if cfgs[config] == entries and bn == batch_norm:
            return _VGGS[config, bn]
    raise ValueError(f"its layers match none of the VGG configurations {', '.join(sorted({c for c, _ in _VGGS}))}")


def _build(tv_model: nn.Module) -> tuple[str, nn.Module]:
    """Build (on the meta device, no memory) our model with ``tv_model``'s architecture: its name, and it."""
    tv_classes = {cls.__name__ for cls in type(tv_model).__mro__}
    ours = isinstance(tv_model, (AlexNet, VGG, ResNet, DenseNet))
    if ours or not tv_classes & {"AlexNet", "VGG", "ResNet", "DenseNet"}:
        raise _unsupported(tv_model, "it is not a torchvision AlexNet, VGG, ResNet or DenseNet")
    first_conv = next((m for m in tv_model.modules() if isinstance(m, nn.Conv2d)), None)
    last_fc = [m for m in tv_model.modules() if isinstance(m, nn.Linear)]
    if first_conv is None or not last_fc:
        raise _unsupported(tv_model, "it has no convolution or no linear layer (was its classifier replaced? Convert "
                                     "the model as torchvision builds it, then replace the layer on the result)")
    kw = dict(num_classes=last_fc[-1].out_features, in_channels=first_conv.in_channels)

    if "AlexNet" in tv_classes:
        return "alexnet", get_model("alexnet", **kw)
    if "VGG" in tv_classes:
        try:
            name = _vgg_name(tv_model.features)
        except ValueError as e:
            raise _unsupported(tv_model, str(e)) from None
        return name, get_model(name, **kw)
    if "ResNet" in tv_classes:
        blocks = [getattr(tv_model, f"layer{i}") for i in range(1, 5)]
        first = blocks[0][0]
        key = (type(first).__name__, tuple(len(b) for b in blocks))
        if key not in _RESNETS:
            raise _unsupported(tv_model, f"{key[0]} with {list(key[1])} blocks per stage is none of "
                                         f"{', '.join(_RESNETS.values())}")
        if key[0] == "Bottleneck" and (first.conv1.out_channels != 64 or first.conv2.groups != 1):
            raise _unsupported(tv_model, "ResNeXt and wide ResNets are not supported")
        return _RESNETS[key], get_model(_RESNETS[key], **kw)
    # a DenseNet
    f = tv_model.features
    blocks = [m for n, m in f.named_children() if n.startswith("denseblock")]
    layer = blocks[0].denselayer1
    key = (layer.conv2.out_channels, tuple(len(b) for b in blocks), f.conv0.out_channels)
    if key not in _DENSENETS or layer.conv1.out_channels != 4 * key[0]:
        raise _unsupported(tv_model, f"growth {key[0]}, blocks {key[1]} is none of {', '.join(_DENSENETS.values())}")
    return _DENSENETS[key], get_model(_DENSENETS[key], **kw)


def from_torchvision(tv_model: nn.Module) -> nn.Module:
    """Our model of ``tv_model``'s architecture, with a copy of its weights and buffers.

    Works for a torchvision ``alexnet``, ``vgg11`` ... ``vgg19_bn``, ``resnet18`` ... ``resnet152``
    and ``densenet121`` ... ``densenet201`` (any ``num_classes``); raises ``ValueError`` for
    anything else. The result is on ``tv_model``'s device and dtype and in its train/eval mode;
    in eval mode both give the same outputs.

    >>> import torchvision
    >>> net = from_torchvision(torchvision.models.resnet18(weights=None))
    """
    if not isinstance(tv_model, nn.Module):
        raise TypeError(f"from_torchvision expects a torchvision model (nn.Module), got {type(tv_model).__name__}")
    with torch.device("meta"):
        name, ours = _build(tv_model)
    theirs = tv_model.state_dict()
    differ = _differences(ours.state_dict(), theirs)
    if differ:
        raise _unsupported(tv_model, f"its layers are not those of torchvision's {name} ({differ}). A layer "
                           "replaced after building (such as fc = nn.Sequential(...)) makes another architecture: "
                           "convert the model as torchvision builds it, then replace the layer on the result "
                           "(net = from_torchvision(tv_model); net.fc = your layer)")
    ref = next(tv_model.parameters())
    ours = ours.to_empty(device=ref.device).to(ref.dtype)
    ours.load_state_dict(theirs, strict=True)
    return ours.train(tv_model.training)


def _differences(ours: dict, theirs: dict) -> str:
    """The first differences between two state_dicts, in words ('' when they match)."""
    missing, extra = [k for k in ours if k not in theirs], [k for k in theirs if k not in ours]
    shapes = [f"{k} {list(theirs[k].shape)} instead of {list(ours[k].shape)}" for k in ours
              if k in theirs and ours[k].shape != theirs[k].shape]
    return "; ".join(part for part in (
        f"no {', '.join(missing[:3])}" if missing else "", f"{', '.join(extra[:3])} in their place" if extra else "",
        ", ".join(shapes[:3])) if part)
