"""The shape arithmetic of convolutional networks -- what models need, apart from any report.

- ``conv_output_size(W, F, P, S)``: ``floor((W - F + 2P) / S) + 1``;
- ``receptive_field(layers)``: how many input pixels one output pixel sees;
- ``min_input_size(layers)``: the smallest square input a conv/pool stack accepts;
- ``num_params(net)``: the number of parameters of a network.

``d2lnets.summary`` re-exports the first three (``d2l.conv_output_size``, ``d2l.receptive_field``).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from torch import nn

from ..core.validate import as_int, instance_of, short

__all__ = ["conv_output_size", "min_input_size", "num_params", "receptive_field"]

_WINDOWED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
             nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
LayerSpec = Sequence[int] | nn.Module


# ----------------------------------------------------------------------------------------------
# shape arithmetic
# ----------------------------------------------------------------------------------------------
def conv_output_size(W: int, F: int, P: int = 0, S: int = 1) -> int:
    """Output width of a convolution or pooling: ``floor((W - F + 2P) / S) + 1``.

    ``W`` input width, ``F`` kernel (filter) size, ``P`` padding on each side, ``S`` stride.
    Raises ``ValueError`` when the window does not fit (the result would be 0 or less).

    >>> conv_output_size(227, 11, 0, 4)   # AlexNet's first layer
    55
    """
    W, F, P, S = (as_int(v, n, m) for n, v, m in (("W", W, 1), ("F", F, 1), ("P", P, 0), ("S", S, 1)))
    if W + 2 * P < F:
        raise ValueError(
            f"a {F}x{F} window does not fit into an input of width {W} padded by {P} on each side "
            f"(W + 2P = {W + 2 * P} < F = {F}): the output would be empty"
        )
    return (W - F + 2 * P) // S + 1


def _first(v: int | Sequence[int]) -> int:
    return v if isinstance(v, int) else int(v[0])


def _branched(net: nn.Module) -> tuple[str, list[str]] | None:
    """A module of ``net`` that may run its conv/pool layers in parallel branches: one that is not
    an ``nn.Sequential`` or ``nn.ModuleList`` and holds them in several children (the innermost
    such module, with those children), or None for a plain chain."""
    found = None
    for name, m in net.named_modules():
        if isinstance(m, (nn.Sequential, nn.ModuleList)):
            continue
        holders = [n for n, c in m.named_children() if any(isinstance(x, _WINDOWED) for x in c.modules())]
        if len(holders) > 1 and (found is None or not found[0] or name.startswith(found[0] + ".")):
            found = (name, holders)
    if found is None:
        return None
    name, holders = found
    return f"{name} ({type(net.get_submodule(name)).__name__})" if name else type(net).__name__, holders


def _windows(layers: LayerSpec | Iterable[Sequence[int]]) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of each layer, from input to output (dilation folded into kernel)."""
    if isinstance(layers, nn.Module):
        out = []
        for m in layers.modules():
            if isinstance(m, _WINDOWED):
                k = _first(getattr(m, "dilation", 1)) * (_first(m.kernel_size) - 1) + 1
                p = m.padding
                if isinstance(p, str):  # "valid" or "same" (stride 1)
                    p = 0 if p == "valid" else (k - 1) // 2
                out.append((k, _first(m.stride), _first(p)))
        return out
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Iterable):
        raise ValueError(f"layers must be a list of (kernel, stride) pairs or an nn.Module, got {short(layers)}")
    out = []
    for i, spec in enumerate(layers):
        if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
            raise ValueError(f"layer {i}: expected (kernel, stride) or (kernel, stride, padding), got {spec!r}; "
                             "layers is a list of them, e.g. [(3, 1), (2, 2)] (for one layer: [(3, 1)])")
        k, s = as_int(spec[0], f"layer {i}'s kernel"), as_int(spec[1], f"layer {i}'s stride")
        p = as_int(spec[2], f"layer {i}'s padding", 0) if len(spec) == 3 else 0
        out.append((k, s, p))
    return out


def receptive_field(layers: LayerSpec | Iterable[Sequence[int]]) -> int:
    """Receptive field of one output pixel of a stack of convolutions and poolings.

    ``layers`` lists ``(kernel, stride)`` pairs from input to output (a third entry, padding, is
    ignored), or is an ``nn.Module`` whose ``Conv``/``MaxPool``/``AvgPool`` layers are taken in
    the order they were registered -- right for plain stacks (LeNet, AlexNet, VGG). A network
    that may branch (a module other than ``nn.Sequential`` holding such layers in several children,
    as ResNet's and DenseNet's blocks do) raises ``ValueError``: it has no single chain of layers,
    and one number would mean nothing for it. Going back from the output,
    ``F = 1`` and ``F(i) = (F(i+1) - 1) * S(i) + K(i)``.

    >>> receptive_field([(3, 1), (3, 1)])   # two 3x3 convolutions see 5x5 pixels
    5
    """
    branched = _branched(layers) if isinstance(layers, nn.Module) else None
    if branched is not None:
        where, children = branched
        raise ValueError(
            f"this network may not be one chain of layers: {where} holds convolutions or poolings in "
            f"several children ({', '.join(children)}), as a residual or dense block does, where one "
            "output pixel sees the input through parallel paths of different reach. receptive_field "
            "follows a single chain: pass the (kernel, stride) list of one path, or the plain stack as "
            "an nn.Sequential")
    f = 1
    for k, s, _ in reversed(_windows(layers)):
        f = (f - 1) * s + k
    return f


def min_input_size(layers: LayerSpec | Iterable[Sequence[int]]) -> int:
    """Smallest input width for which every layer of a plain conv/pool stack has an output.

    Same ``layers`` as :func:`receptive_field`, with padding taken into account: going back from
    one output pixel, an input of width ``W`` is needed with ``W >= (out - 1) * S + K - 2P``.
    """
    w = 1
    for k, s, p in reversed(_windows(layers)):
        w = max(1, (w - 1) * s + k - 2 * p)
    return w


def num_params(net: nn.Module) -> int:
    """Number of parameters of ``net`` (trainable or not): ``sum(p.numel() for p in net.parameters())``."""
    instance_of(net, nn.Module, "net", "a network (an nn.Module)")
    params = list(net.parameters())
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in params):
        raise ValueError("net has lazy layers whose shapes are not known yet: run one batch through it "
                         "(net(X)) before counting its parameters")
    return sum(p.numel() for p in params)
