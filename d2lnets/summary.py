"""Layer-by-layer summaries and the shape arithmetic of convolutional networks.

- ``summary(net, input_size)``: one row per layer call with its output shape, parameters,
  multiply-adds and activation memory (the book's exercise "what dominates AlexNet's memory, and
  what its compute?");
- ``conv_output_size(W, F, P, S)``: ``floor((W - F + 2P) / S) + 1``;
- ``receptive_field(layers)``: how many input pixels one output pixel sees;
- ``min_input_size(layers)``: the smallest square input a conv/pool stack accepts.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Iterable, Sequence, Union

import torch
from torch import Tensor, nn

from ._validate import as_int, input_shape, instance_of, short
from .config import as_device

__all__ = ["LayerRow", "ModelSummary", "conv_output_size", "min_input_size", "receptive_field", "summary"]

_WINDOWED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
             nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
LayerSpec = Union[Sequence[int], nn.Module]


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


# ----------------------------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------------------------
@dataclass
class LayerRow:
    """One call of a leaf layer. ``params`` is counted at a layer's first call only."""

    name: str
    layer_type: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    activation_bytes: int


def _fmt_count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:g}"


def _fmt_bytes(n: float) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


@dataclass
class ModelSummary:
    """What :func:`summary` returns; ``print`` it for a table."""

    input_shape: tuple[int, ...]
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    param_bytes: int = 0
    buffer_bytes: int = 0

    @property
    def total_macs(self) -> int:
        """Multiply-adds of convolutions and linear layers (FlopCounterMode's FLOPs / 2)."""
        return sum(r.macs for r in self.rows)

    @property
    def total_flops(self) -> int:
        return 2 * self.total_macs

    @property
    def activation_bytes(self) -> int:
        """Bytes of all layer outputs of one forward pass (what training keeps for backward)."""
        return sum(r.activation_bytes for r in self.rows)

    def _cells(self) -> tuple[list[str], list[list[str]], list[str]]:
        header = ["Layer", "Type", "Output shape", "Params", "MACs", "Activations"]
        body = [
            [r.name, r.layer_type, "[" + ", ".join(map(str, r.output_shape)) + "]",
             f"{r.params:,}", _fmt_count(r.macs) if r.macs else "-", _fmt_bytes(r.activation_bytes)]
            for r in self.rows
        ]
        footer = [
            f"Input shape: {list(self.input_shape)}",
            f"Total params: {self.total_params:,} (trainable {self.trainable_params:,}, "
            f"non-trainable {self.total_params - self.trainable_params:,})",
            f"Multiply-adds: {_fmt_count(self.total_macs)} ({self.total_macs:,})",
            f"Parameter memory: {_fmt_bytes(self.param_bytes)}; buffers: {_fmt_bytes(self.buffer_bytes)}",
            f"Activation memory (forward): {_fmt_bytes(self.activation_bytes)}",
        ]
        return header, body, footer

    def __str__(self) -> str:
        header, body, footer = self._cells()
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        right = {3, 4, 5}

        def line(row: list[str]) -> str:
            return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))

        rule = "-" * len(line(header))
        return "\n".join([line(header), rule, *map(line, body), rule, *footer])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, body, footer = self._cells()
        esc = html.escape
        head = "".join(f"<th>{esc(c)}</th>" for c in header)
        rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in body)
        foot = "<br>".join(esc(f) for f in footer)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table><p>{foot}</p>"


def _macs(module: nn.Module, out: Tensor) -> int:
    """Multiply-adds of one call, counted as torch.utils.flop_counter does (bias adds excluded)."""
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        k = 1
        for v in module.kernel_size:
            k *= v
        return out.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    return 0


def summary(
    net: nn.Module,
    input_size: Sequence[int],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> ModelSummary:
    """Run one forward pass on zeros and tabulate every leaf layer call.

    Args:
        net: the model (lazy layers get initialised by the pass).
        input_size: ``(C, H, W)`` (a batch of one) or ``(B, C, H, W)``.
        device: where to run; default: where ``net``'s parameters are (CPU if it has none).
        dtype: input dtype.

    Each row gives a layer's output shape, its parameters (at its first call), its multiply-adds
    (convolutions and linear layers only, bias additions excluded, so ``2 * total_macs`` equals
    ``torch.utils.flop_counter.FlopCounterMode``'s count) and the bytes of its output. Functional
    operations inside ``forward`` (``torch.cat``, a residual ``+``) are not layers and get no row.
    The net runs in eval mode under ``torch.no_grad()``; its mode is restored afterwards.
    """
    instance_of(net, nn.Module, "net", "a network (an nn.Module)")
    shape = input_shape(input_size)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch dtype such as torch.float32, got {short(dtype)}")
    if device is None:
        p = next(net.parameters(), None)
        device = p.device if p is not None and not isinstance(p, nn.parameter.UninitializedParameter) else "cpu"
    device = as_device(device)

    rows: list[LayerRow] = []
    seen: set[int] = set()

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple, out: object) -> None:
            first = id(module) not in seen
            seen.add(id(module))
            params = sum(p.numel() for p in module.parameters(recurse=False)) if first else 0
            t = out
            if isinstance(out, (tuple, list)):
                t = next((o for o in out if isinstance(o, Tensor)), None)
            if not isinstance(t, Tensor):
                t = None
            if t is None:
                rows.append(LayerRow(name, type(module).__name__, (), params, 0, 0))
                return
            rows.append(LayerRow(name, type(module).__name__, tuple(t.shape), params,
                                 _macs(module, t), t.numel() * t.element_size()))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in net.named_modules()
               if n and next(m.children(), None) is None]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(shape, device=device, dtype=dtype))
    except RuntimeError as e:  # torch's own words; our models raise ValueErrors that say it better
        raise ValueError(f"net does not take an input of shape {list(shape)} ({e}); check input_size, "
                         "e.g. (1, 28, 28) for one-channel 28x28 images") from e
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)

    params = list(net.parameters())
    return ModelSummary(
        input_shape=shape,
        rows=rows,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        param_bytes=sum(p.numel() * p.element_size() for p in params),
        buffer_bytes=sum(b.numel() * b.element_size() for b in net.buffers()),
    )
