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

Every factory is registered once (``@register_model``): :func:`list_models`, :func:`get_model`,
this module's ``__all__`` and :func:`from_torchvision` follow from the registry and from each
family's architecture table (``resnet.ARCHS``, ``densenet.ARCHS``, ``vgg.ARCHS``, ``vgg.cfgs``).
"""
from __future__ import annotations

from ._common import init_cnn
from ._registry import _MODELS, get_model, list_models, register_model
from .alexnet import AlexNet, TwoTowerAlexNet
from .convert import from_torchvision
from .densenet import DenseBlock, DenseNet, conv_block, transition_block
from .lenet import LeNet
from .resnet import BasicBlock, Bottleneck, ResNet, Residual
from .vgg import VGG, SmallVGG, cfgs, vgg, vgg_block

globals().update(_MODELS)  # the registered factories: lenet, alexnet, vgg11, ..., densenet201

__all__ = [
    "AlexNet", "BasicBlock", "Bottleneck", "DenseBlock", "DenseNet", "LeNet", "ResNet", "Residual", "TwoTowerAlexNet",
    "SmallVGG", "VGG", "cfgs", "conv_block", "from_torchvision", "get_model", "init_cnn", "list_models",
    "register_model", "transition_block", "vgg", "vgg_block", *list_models(),
]
