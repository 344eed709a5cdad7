"""The course's models: LeNet, AlexNet, VGG, ResNet, DenseNet.

Factories with a torchvision name (``alexnet``, ``vgg11`` ... ``vgg19_bn``, ``resnet18`` ...
``resnet152``, ``densenet121`` ... ``densenet201``) build exactly torchvision's architecture by
default. The book's five networks (10 classes, 1 channel, the book's Xavier initialisation) are
``variant="d2l"``; any other factory given it raises an error that names these five::

    lenet(variant="d2l")                     # 61,706 parameters (= "classic"; "modern": ReLU, max pool)
    alexnet(variant="d2l")                   # 46,764,746 (224 px); variant="small" for 32 px
    vgg11(variant="d2l", width_ratio=4)      # 43,093,322 (224 px); without width_ratio: full width
    resnet18(variant="d2l")                  # 11,178,378
    densenet(variant="d2l")                  # 758,226 (= densenet())

and ``vgg11(variant="small")`` is chapter 3's CPU-sized VGG for 32x32 images (613,802).
``init_cnn`` is the book's initialisation (``net.apply(init_cnn)``), for networks built by hand.

Every factory is written out by name and registered once (``@register_model``): :func:`list_models`,
:func:`get_model` and :func:`from_torchvision` follow from the registry and from each family's
architecture table (``resnet.ARCHS``, ``densenet.ARCHS``, ``vgg.ARCHS``, ``vgg.cfgs``). The layers
built from their formulas (``LocalResponseNorm``) are in :mod:`.layers`.
"""
from __future__ import annotations

from ._common import init_cnn
from ._registry import get_model, list_models, register_model
from .alexnet import AlexNet, TwoTowerAlexNet, alexnet
from .convert import from_torchvision
from .densenet import (
    DenseBlock,
    DenseNet,
    conv_block,
    densenet,
    densenet121,
    densenet161,
    densenet169,
    densenet201,
    transition_block,
)
from .layers import LocalResponseNorm
from .lenet import LeNet, lenet
from .resnet import BasicBlock, Bottleneck, Residual, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .vgg import VGG, SmallVGG, cfgs, vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn, vgg_block

__all__ = [
    "AlexNet", "BasicBlock", "Bottleneck", "DenseBlock", "DenseNet", "LeNet", "LocalResponseNorm", "ResNet",
    "Residual", "SmallVGG", "TwoTowerAlexNet", "VGG", "cfgs", "conv_block", "from_torchvision", "get_model",
    "init_cnn", "list_models", "register_model", "transition_block", "vgg", "vgg_block",
    # the registered factories (tests/test_models.py checks that this list is list_models())
    "alexnet", "densenet", "densenet121", "densenet161", "densenet169", "densenet201", "lenet", "resnet18",
    "resnet34", "resnet50", "resnet101", "resnet152", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
    "vgg16_bn", "vgg19", "vgg19_bn",
]
