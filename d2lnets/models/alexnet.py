"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012, "ImageNet classification with deep
convolutional neural networks").

Five convolutions and three fully connected layers; pooling after the 1st, 2nd and 5th
convolution. Five variants share the class:

============  ==========================  =====================================================
variant       convolutions (channels)     notes
============  ==========================  =====================================================
paper         96-256-384-384-256          227x227 input, conv1 11/4 (no padding); ReLU; LRN
                                          (k=2, n=5, alpha=1e-4, beta=0.75, paper convention)
                                          after the ReLUs of conv1 and conv2, before pooling,
                                          within each tower's channels (``groups=2``);
                                          two towers (groups=2 in conv2, conv4, conv5); 60,965,224
                                          parameters (62,378,344 with ``groups=1``); dropout on
                                          the outputs of fc6 and fc7 (Linear, ReLU, Dropout), as
                                          the paper (section 4.2) and Caffe's reference model
torchvision   64-192-384-256-256          ``torchvision.models.alexnet`` exactly (61,100,840
                                          parameters, same module names, so state_dicts load);
                                          torchvision puts each Dropout *before* fc6 and fc7
                                          (on their inputs), and none after fc7
d2l           96-256-384-384-256          the book's Fashion-MNIST AlexNet: conv1 11/4 pad 1 on
                                          224x224, one tower, no LRN, 6400-4096-4096-classes with
                                          dropout after the hidden layers (46,764,746 parameters
                                          with 1 channel and 10 classes), the book's Xavier
                                          initialisation
small         48-128-192-192-128          CPU-sized, for 32x32 images (28-96 px work); Xavier
half          48-128-192-192-128          the half-width AlexNet of the five-flower write-up: one
                                          tower, 224x224 input, the paper's conv1 11/4 (padding
                                          2), no LRN, 4608-2048-2048-classes with dropout on the
                                          inputs of fc6 and fc7 as the write-up; 14,591,685
                                          parameters with 5 classes; PyTorch's initialisation
============  ==========================  =====================================================

``num_classes`` and ``in_channels`` default to 10 and 1 (Fashion-MNIST) for ``d2l`` and
``small``, to 1000 and 3 (ImageNet) for ``paper``, ``torchvision`` and ``half``.

``half`` and ``small`` have the same widths but not the same first layer: ``half`` keeps the
paper's 11x11 stride-4 convolution for 224 px photographs (the write-up pads 1 pixel above and left
and 2 below and right; a Conv2d pads alike on both sides, 2, which gives the same 55x55 maps);
``small`` rescales it for 32 px.

``alexnet(variant="paper", devices=(d0, d1))`` builds :class:`TwoTowerAlexNet`, the paper's
network with each tower on its own device, as it was trained on two GPUs.

``small`` halves the widths (and the hidden layers: 2048) and rescales the first layer: 11x11
with stride 4 on 224 px covers about 5% of the image per step; on 32 px the same job is done by a
3x3 convolution with stride 1, so the feature maps go 32 -> 15 -> 7 -> 3 exactly as 224 px goes
55 -> 27 -> 13 -> 6 in the paper. About 80 M multiply-adds per 32x32 image (the paper network:
about 720 M at 227 px), 7.5 M parameters with 1 channel and 10 classes.

Every variant ends its features with an adaptive average pool (6x6, 6x6, 5x5, 3x3, 6x6) as torchvision
does; at a variant's design resolution it changes nothing, and it lets smaller inputs through
(down to ``net.min_size``). The options the chapters compare are arguments: ``lrn``,
``dropout``, ``overlap`` (3x3 pooling with stride 2, the paper's overlapping pooling, or
non-overlapping 2x2 with stride 2, which gives the same map sizes) and ``groups``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..analysis.shapes import min_input_size
from ..core.validate import as_float, as_int, short
from ._common import check_input, check_sizes, init_cnn
from ._registry import check_variant, register_model
from .layers import LocalResponseNorm

__all__ = ["AlexNet", "TwoTowerAlexNet"]

# Each variant as plain data. convs: (out_channels, kernel, stride, padding) of conv1..conv5;
# dropout_first: torchvision's Dropout before fc6 and fc7; fashion: Fashion-MNIST defaults (10 classes,
# 1 channel) and the book's Xavier initialisation.
VARIANTS: dict[str, dict] = {
    "paper": dict(convs=[(96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1)],
                  hidden=4096, pool_out=6, lrn=True, groups=2, dropout_first=False, fashion=False),
    "torchvision": dict(convs=[(64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1)],
                        hidden=4096, pool_out=6, lrn=False, groups=1, dropout_first=True, fashion=False),
    "d2l": dict(convs=[(96, 11, 4, 1), (256, 5, 1, 2), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1)],
                hidden=4096, pool_out=5, lrn=False, groups=1, dropout_first=False, fashion=True),
    "small": dict(convs=[(48, 3, 1, 1), (128, 5, 1, 2), (192, 3, 1, 1), (192, 3, 1, 1), (128, 3, 1, 1)],
                  hidden=2048, pool_out=3, lrn=False, groups=1, dropout_first=False, fashion=True),
    "half": dict(convs=[(48, 11, 4, 2), (128, 5, 1, 2), (192, 3, 1, 1), (192, 3, 1, 1), (128, 3, 1, 1)],
                 hidden=2048, pool_out=6, lrn=False, groups=1, dropout_first=True, fashion=False),
}
POOL_AFTER = (0, 1, 4)      # max pooling follows conv1, conv2 and conv5
LRN_AFTER = (0, 1)          # ... and LRN (when on) conv1 and conv2
GROUPED = (1, 3, 4)         # the two towers only meet at conv3 (and in the FC layers)


def paper_lrn(groups: int = 1) -> LocalResponseNorm:
    """The paper's LRN: k=2, n=5, alpha=1e-4, beta=0.75 (alpha applied to the plain sum), its
    window kept inside each of ``groups`` towers."""
    return LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0, convention="paper", groups=groups)


def make_features(convs: list[tuple[int, int, int, int]], in_widths: list[int], *, lrn: bool, overlap: bool,
                  groups: int = 1) -> nn.Sequential:
    """conv1 .. conv5 (``convs``: out channels, kernel, stride, padding; ``in_widths``: their input
    channels), each followed by a ReLU, LRN after conv1 and conv2, max pooling after conv1, conv2 and
    conv5. ``groups`` splits conv2, conv4, conv5 and the LRN windows into towers."""
    layers: list[nn.Module] = []
    for i, ((c_out, k, s, p), c_in) in enumerate(zip(convs, in_widths)):
        layers += [nn.Conv2d(c_in, c_out, k, stride=s, padding=p, groups=groups if i in GROUPED else 1),
                   nn.ReLU(inplace=True)]
        if lrn and i in LRN_AFTER:
            layers.append(paper_lrn(groups))
        if i in POOL_AFTER:
            layers.append(nn.MaxPool2d(kernel_size=3 if overlap else 2, stride=2))
    return nn.Sequential(*layers)


class AlexNet(nn.Module):
    """AlexNet; see the module docstring for the variants.

    Args:
        num_classes, in_channels: output classes and input channels (default: 10 and 1 for
            ``"d2l"`` and ``"small"``, 1000 and 3 otherwise).
        variant: ``"torchvision"``, ``"paper"``, ``"d2l"``, ``"small"`` or ``"half"``.
        lrn: LRN after conv1 and conv2 (default: only for ``"paper"``), within each of the
            ``groups`` towers' channels.
        dropout: dropout probability of the two hidden FC layers (0 keeps the layers as no-ops).
        overlap: 3x3 max pooling with stride 2 (True, the paper) or 2x2 with stride 2.
        groups: groups of conv2, conv4 and conv5 (default: 2 for ``"paper"``, else 1).
    """

    def __init__(
        self,
        num_classes: int | None = None,
        in_channels: int | None = None,
        *,
        variant: str = "torchvision",
        lrn: bool | None = None,
        dropout: float = 0.5,
        overlap: bool = True,
        groups: int | None = None,
    ) -> None:
        super().__init__()
        cfg = VARIANTS[check_variant("alexnet", variant, tuple(VARIANTS))]
        num_classes = (10 if cfg["fashion"] else 1000) if num_classes is None else num_classes
        in_channels = (1 if cfg["fashion"] else 3) if in_channels is None else in_channels
        num_classes, in_channels = check_sizes(num_classes, in_channels)
        lrn = cfg["lrn"] if lrn is None else lrn
        groups = cfg["groups"] if groups is None else as_int(groups, "groups")
        dropout = as_float(dropout, "dropout", at_least=0, at_most=1)
        for i in GROUPED:
            c_in, c_out = cfg["convs"][i - 1][0], cfg["convs"][i][0]
            if c_in % groups or c_out % groups:
                raise ValueError(f"groups={groups} must divide the channels of conv{i + 1} ({c_in} in, {c_out} out) "
                                 "in the two-tower split; the paper uses groups=2")
        self.in_channels, self.variant = in_channels, variant

        widths = [c for c, *_ in cfg["convs"]]
        self.features = make_features(cfg["convs"], [in_channels, *widths[:-1]], lrn=lrn, overlap=overlap,
                                      groups=groups)
        c_in = widths[-1]
        self.avgpool = nn.AdaptiveAvgPool2d(cfg["pool_out"])
        n_in, hidden = c_in * cfg["pool_out"] ** 2, cfg["hidden"]
        if cfg["dropout_first"]:  # torchvision's order: dropout on the inputs of fc6 and fc7
            self.classifier = nn.Sequential(
                nn.Dropout(dropout), nn.Linear(n_in, hidden), nn.ReLU(inplace=True),
                nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, num_classes),
            )
        else:  # the paper's, Caffe's and the book's order: dropout on the outputs of fc6 and fc7
            self.classifier = nn.Sequential(
                nn.Linear(n_in, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                nn.Linear(hidden, num_classes),
            )
        self.min_size = min_input_size(self.features)
        if cfg["fashion"]:  # the book initialises its CNNs with Xavier
            self.apply(init_cnn)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, f"AlexNet ({self.variant})", min_size=self.min_size)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class Tower(nn.Module):
    """One of the paper's two towers: the half of every layer but fc8 that one GPU held in 2012
    (48-128-192-192-128 kernels, 2048 + 2048 hidden units). Its layers are numbered as in
    :class:`AlexNet`'s ``features`` and ``classifier``, so that its tensors are the halves of
    ``AlexNet(variant="paper")``'s."""

    def __init__(self, in_channels: int, *, lrn: bool, dropout: float, overlap: bool) -> None:
        super().__init__()
        convs = [(c // 2, k, s, p) for c, k, s, p in VARIANTS["paper"]["convs"]]
        w = [c for c, *_ in convs]
        # conv1 sees the image, conv3 both towers' maps, conv2, conv4 and conv5 only this tower's;
        # the LRN windows stay in this tower's maps
        self.features = make_features(convs, [in_channels, w[0], 2 * w[1], w[2], w[3]], lrn=lrn, overlap=overlap)
        self.avgpool = nn.AdaptiveAvgPool2d(VARIANTS["paper"]["pool_out"])
        hidden = VARIANTS["paper"]["hidden"] // 2
        self.classifier = nn.Sequential(  # fc6 and fc7 see both towers' units; dropout on their outputs
            nn.Linear(2 * w[4] * VARIANTS["paper"]["pool_out"] ** 2, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(2 * hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
        )


class TwoTowerAlexNet(nn.Module):
    """The paper's AlexNet with each tower on its own device, as Krizhevsky, Sutskever and Hinton
    (2012, section 3.2 and Figure 2) trained it on two GTX 580 GPUs of 3 GB each.

    Every layer but the last is split in two halves, one per device. The towers exchange
    activations only where the paper's do: into conv3, fc6 and fc7 (each takes both towers' outputs,
    copied across); conv2, conv4 and conv5 see only their own tower's maps, and each tower applies
    LRN to its own maps. fc8 sits on ``devices[0]``, where the output lands.

    The network computes what ``AlexNet(variant="paper")`` (``groups=2``) computes, and its
    ``state_dict`` has the same keys and shapes (each tensor is the two towers' halves, joined
    on ``devices[0]``; ``load_state_dict`` cuts them again), so weights and checkpoints move
    between the two. In training mode each tower draws its own dropout masks. ``train_ch5`` trains
it where it is (pass ``device=devices[0]``); ``net.to(device)`` puts both towers on that one device.

    Args:
        num_classes, in_channels: outputs and input channels (default 1000 and 3).
        devices: the towers' two devices, e.g. ``("cuda:0", "cuda:1")``; ``("cpu", "cpu")`` runs
            the same computation on one machine.
        lrn, dropout, overlap: as for :class:`AlexNet`.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        *,
        devices: tuple,
        lrn: bool = True,
        dropout: float = 0.5,
        overlap: bool = True,
    ) -> None:
        super().__init__()
        devices = two_devices(devices)
        num_classes, in_channels = check_sizes(num_classes, in_channels)
        dropout = as_float(dropout, "dropout", at_least=0, at_most=1)
        self.in_channels, self.variant = in_channels, "paper"
        self.towers = nn.ModuleList(Tower(in_channels, lrn=lrn, dropout=dropout, overlap=overlap).to(d)
                                    for d in devices)
        self.fc8 = nn.Linear(VARIANTS["paper"]["hidden"], num_classes).to(devices[0])
        self.conv3 = [i for i, m in enumerate(self.towers[0].features) if isinstance(m, nn.Conv2d)][2]
        self.min_size = min_input_size(self.towers[0].features)
        self.register_state_dict_post_hook(_join_towers)
        self.register_load_state_dict_pre_hook(_split_towers)

    @property
    def devices(self) -> tuple[torch.device, torch.device]:
        """Where each tower is (read from its weights, so ``net.to(device)`` keeps it right)."""
        return tuple(t.features[0].weight.device for t in self.towers)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, "AlexNet (paper, two devices)", min_size=self.min_size)
        towers, devices = list(self.towers), self.devices

        def both(h: list[Tensor], device: torch.device) -> Tensor:  # the towers' outputs meet on device
            return torch.cat([a.to(device) for a in h], dim=1)

        # conv1 (on the image), conv2: each tower on its own device
        h = [t.features[:self.conv3](x.to(d)) for t, d in zip(towers, devices)]
        # conv3 takes both towers' maps; conv4 and conv5 only their own
        h = [torch.flatten(t.avgpool(t.features[self.conv3:](both(h, d))), 1) for t, d in zip(towers, devices)]
        # fc6 and fc7 take both towers' units
        h = [t.classifier[:3](both(h, d)) for t, d in zip(towers, devices)]
        h = [t.classifier[3:](both(h, d)) for t, d in zip(towers, devices)]
        return self.fc8(both(h, devices[0]))


def two_devices(devices: object) -> tuple[torch.device, torch.device]:
    """``devices`` as two ``torch.device`` s, with a clear error for anything else."""
    try:
        found = tuple(torch.device(d) for d in devices)  # type: ignore[union-attr]
    except (TypeError, RuntimeError, ValueError):
        found = ()
    if isinstance(devices, (str, torch.device)) or len(found) != 2:
        raise ValueError(f"devices must be two devices, one per tower, e.g. ('cuda:0', 'cuda:1') or ('cpu', 'cpu'), "
                         f"got {short(devices)}")
    for d in found:
        if d.type == "cuda" and (d.index or 0) >= torch.cuda.device_count():
            raise ValueError(f"devices names {d} but this machine has {torch.cuda.device_count()} CUDA device(s); "
                             "devices=('cpu', 'cpu') runs the same two-tower network on the CPU")
    return found  # type: ignore[return-value]


def _join_towers(module: TwoTowerAlexNet, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """``state_dict`` hook: each pair of halves as one tensor on the first tower's device, named as
    in ``AlexNet(variant="paper")``; fc8 as its ``classifier.6``."""
    t0, t1, fc8 = prefix + "towers.0.", prefix + "towers.1.", prefix + "fc8."
    with torch.no_grad():
        for key in [k for k in state_dict if k.startswith(t0)]:
            name = key[len(t0):]
            a, b = state_dict.pop(key), state_dict.pop(t1 + name)
            state_dict[prefix + name] = torch.cat([a, b.to(a.device)])
    for key in [k for k in state_dict if k.startswith(fc8)]:
        state_dict[prefix + "classifier.6." + key[len(fc8):]] = state_dict.pop(key)


def _split_towers(module: TwoTowerAlexNet, state_dict: dict, prefix: str, local_metadata: dict, strict: bool,
                  missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
    """``load_state_dict`` pre-hook: ``AlexNet(variant="paper")``'s tensors cut into the towers' halves."""
    for name, p in module.towers[0].named_parameters():
        key = prefix + name
        if key not in state_dict:
            continue  # reported as the towers' missing keys
        t = state_dict.pop(key)
        want = (2 * p.shape[0], *p.shape[1:])
        if tuple(t.shape) != want:
            error_msgs.append(f"size mismatch for {key}: copying a tensor of shape {tuple(t.shape)}, the two towers "
                              f"hold {want}; build the network with the checkpoint's num_classes and in_channels")
            continue
        state_dict[prefix + "towers.0." + name], state_dict[prefix + "towers.1." + name] = t.chunk(2)
    c6 = prefix + "classifier.6."
    for key in [k for k in state_dict if k.startswith(c6)]:
        state_dict[prefix + "fc8." + key[len(c6):]] = state_dict.pop(key)


@register_model(book=True)
def alexnet(
    num_classes: int | None = None,
    in_channels: int | None = None,
    *,
    variant: str = "torchvision",
    lrn: bool | None = None,
    dropout: float = 0.5,
    overlap: bool = True,
    groups: int | None = None,
    devices: tuple | None = None,
) -> AlexNet | TwoTowerAlexNet:
    """AlexNet; by default exactly ``torchvision.models.alexnet()`` (61,100,840 parameters).

    ``alexnet(variant="paper")`` is the 2012 network, ``alexnet(variant="d2l")`` the book's (10
    classes, 1 channel), ``alexnet(variant="small")`` the CPU-sized one for 32x32 Fashion-MNIST,
    ``alexnet(num_classes=5, variant="half")`` the half-width one of the five-flower write-up (224 px).
    ``alexnet(variant="paper", devices=(d0, d1))`` puts each of the paper's two towers on its own
    device (:class:`TwoTowerAlexNet`; same ``state_dict`` as ``alexnet(variant="paper")``).
    """
    if devices is not None:
        if variant != "paper" or groups not in (None, 2):
            raise ValueError(f"devices=(d0, d1) puts the paper's two towers on two devices: it needs variant='paper' "
                             f"(with its groups=2), got variant={variant!r}, groups={groups!r}")
        return TwoTowerAlexNet(1000 if num_classes is None else num_classes, 3 if in_channels is None else in_channels,
                               devices=devices, lrn=True if lrn is None else lrn, dropout=dropout, overlap=overlap)
    return AlexNet(num_classes, in_channels, variant=variant, lrn=lrn, dropout=dropout,
                   overlap=overlap, groups=groups)
