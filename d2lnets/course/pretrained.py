"""Pretrained weights: torchvision's ImageNet networks as the course's models, fine-tuned on Fashion-MNIST.

- ``to_imagenet(X, size)``, ``ImageNetBatches``: grey Fashion-MNIST batches as ImageNet-style
  inputs (3 channels, resized, normalised with ImageNet's mean and std);
- ``load_torchvision(arch, path)``: a torchvision ``state_dict`` file into the course's model of
  that architecture (through ``d2l.models.from_torchvision``), with a new head for ``num_classes``;
- ``imagenet_weights(arch)``: torchvision's ImageNet weights in torch's hub cache, or None (never
  downloads); ``no_weights(arch, recipe, reports)``: what the fine-tuning would show, said when they
  are absent, its results reported as not measured. Only real weights give a number: there is no
  stand-in.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..core.validate import as_int, short
from ..data.image_folder import IMAGENET_MEAN, IMAGENET_STD
from ..data.loader import normalize
from ..train.records import report
from .recipes import Recipe

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ImageNetBatches", "imagenet_weights", "load_torchvision", "no_weights",
           "to_imagenet"]


def to_imagenet(X: Tensor, size: int) -> Tensor:
    """Grey images ``[B, 1, H, W]`` in [0, 1] as an ImageNet network expects them: the channel
    repeated three times, resized to ``size`` (bilinear), normalised with ImageNet's mean and std."""
    if not isinstance(X, Tensor) or X.dim() != 4 or X.shape[1] != 1 or not X.is_floating_point():
        got = f"{X.dtype} of shape {list(X.shape)}" if isinstance(X, Tensor) else short(X)
        raise ValueError(f"X must be a batch of grey images [batch, 1, height, width] in [0, 1], got {got}")
    size = as_int(size, "size")
    if X.shape[-2:] != (size, size):
        X = F.interpolate(X, size=(size, size), mode="bilinear", align_corners=False)
    return normalize(X.expand(-1, 3, -1, -1), IMAGENET_MEAN, IMAGENET_STD)   # constants copied once per device


class ImageNetBatches:
    """A loader of grey ``(X, y)`` batches whose ``X`` comes out through :func:`to_imagenet`;
    ``train_ch5`` and ``d2l.predict`` take it like the loader itself (its shuffle per epoch and its
    move to the training device included, where the loader has them)."""

    def __init__(self, loader, size: int) -> None:
        self.loader, self.size = loader, as_int(size, "size")

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch)

    def to(self, device) -> ImageNetBatches:
        return ImageNetBatches(self.loader.to(device) if hasattr(self.loader, "to") else self.loader, self.size)

    def __iter__(self):
        for X, y in self.loader:
            yield to_imagenet(X, self.size), y


def load_torchvision(arch: str, path: str | Path, num_classes: int | None = None) -> nn.Module:
    """The course's model of torchvision's ``arch`` (e.g. ``"resnet18"``) carrying the weights in
    ``path`` (a torchvision ``state_dict``, read with ``weights_only=True``), through
    ``d2l.models.from_torchvision``. ``num_classes``: replace the last linear layer by a new one
    with that many outputs (for fine-tuning)."""
    import torchvision

    if not isinstance(arch, str) or not hasattr(torchvision.models, arch):
        raise ValueError(f"arch must name a torchvision model such as 'resnet18', got {short(arch)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file {path}: save one with "
                                f"torch.save(torchvision.models.{arch}().state_dict(), path)")
    from ..models import from_torchvision

    tv = getattr(torchvision.models, arch)()
    tv.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net = from_torchvision(tv.eval())
    if num_classes is not None:
        name, last = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Linear)][-1]
        parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
        setattr(parent, name.rpartition(".")[2], nn.Linear(last.in_features, as_int(num_classes, "num_classes")))
    return net


# ----------------------------------------------------------------------------------------------
# ImageNet's weights, where they are, and fine-tuning from them
# ----------------------------------------------------------------------------------------------
def _weights_enum(arch: str):
    import torchvision

    try:
        return torchvision.models.get_model_weights(arch).DEFAULT
    except (ValueError, KeyError) as e:
        raise ValueError(f"arch must name a torchvision model with ImageNet weights, such as 'resnet18', "
                         f"got {short(arch)}") from e


def imagenet_weights(arch: str = "resnet18") -> Path | None:
    """The file of torchvision's ImageNet weights for ``arch`` in torch's hub cache
    (``torch.hub.get_dir()/checkpoints``, where ``torchvision.models.resnet18(weights="DEFAULT")``
    puts it the first time it runs online), or None. Nothing is downloaded."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(_weights_enum(arch).url).name
    return path if path.is_file() else None


def no_weights(arch: str, recipe: Recipe, reports: tuple[str, ...] = ()) -> str:
    """What to say when :func:`imagenet_weights` finds nothing: where the file would be, how to get
    it, and what the fine-tuning would then show. Each name of ``reports`` (the results the
    fine-tuning would report) is reported as not measured, so that no number stands in for it.
    Prints the message and returns it."""
    url = _weights_enum(arch).url
    where = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    steps = f"{recipe.num_epochs} epoch{'s' * (recipe.num_epochs > 1)} of {recipe.num_train or 60_000:,} images"
    message = (f"No ImageNet weights for {arch}: {where} does not exist, and nothing is downloaded here, so there "
               f"is nothing to fine-tune and no accuracy to print.\n"
               f"To get them, run torchvision.models.{arch}(weights=\"DEFAULT\") once on a machine that is online "
               f"(or copy the file from {url} there).\n"
               f"With them, this cell fine-tunes {arch} from ImageNet's weights and, for the same {steps} at "
               f"{recipe.image_size} px, from random weights, and prints both test accuracies: the difference is "
               "what the pretraining is worth on Fashion-MNIST.")
    print(message, flush=True)
    for name in reports:
        report(name, "not measured: no ImageNet weights here")
    return message
