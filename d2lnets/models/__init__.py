"""The course's models: LeNet, AlexNet, VGG, ResNet, DenseNet.

Factories with a torchvision name (``alexnet``, ``vgg11`` ... ``vgg19_bn``, ``resnet18`` ...
``resnet152``, ``densenet121`` ... ``densenet201``) build exactly torchvision's architecture by
default; the book's Fashion-MNIST versions are arguments::

    lenet()                                  # 61,706 parameters
    alexnet(10, 1, variant="d2l")            # 46,764,746 (224 px); variant="small" for 32 px
    vgg("A", 10, 1, width_ratio=4)           # 43,093,322 (224 px)
    resnet18(10, 1, variant="d2l")           # 11,178,378
    densenet()                               # 758,226
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from .alexnet import AlexNet, alexnet
from .convert import from_torchvision
from .densenet import (DenseBlock, DenseNet, conv_block, densenet, densenet121, densenet161,
                       densenet169, densenet201, transition_block)
from .lenet import LeNet, lenet
from .resnet import (BasicBlock, Bottleneck, ResNet, Residual, resnet18, resnet34, resnet50,
                     resnet101, resnet152)
from .vgg import (VGG, cfgs, vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19,
                  vgg19_bn, vgg_block)

_FACTORIES: dict[str, Callable[..., nn.Module]] = {
    f.__name__: f
    for f in (alexnet, densenet, densenet121, densenet161, densenet169, densenet201, lenet,
              resnet18, resnet34, resnet50, resnet101, resnet152, vgg11, vgg11_bn, vgg13, vgg13_bn,
              vgg16, vgg16_bn, vgg19, vgg19_bn)
}


def list_models() -> list[str]:
    """Names of the model factories, sorted: ``get_model(name)`` builds one."""
    return sorted(_FACTORIES)


def get_model(name: str, **kwargs) -> nn.Module:
    """Call the factory ``name`` (see :func:`list_models`) with ``kwargs``."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _FACTORIES[name](**kwargs)


__all__ = [
    "AlexNet", "BasicBlock", "Bottleneck", "DenseBlock", "DenseNet", "LeNet", "ResNet", "Residual",
    "VGG", "alexnet", "cfgs", "conv_block", "densenet", "densenet121", "densenet161", "densenet169",
    "densenet201", "from_torchvision", "get_model", "lenet", "list_models", "resnet18", "resnet34",
    "resnet50", "resnet101", "resnet152", "transition_block", "vgg", "vgg11", "vgg11_bn", "vgg13",
    "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "vgg_block",
]
