"""Layer-by-layer summaries of convolutional networks.

``summary(net, input_size)``: one row per layer call with its output shape, parameters,
multiply-adds and activation memory (the book's exercise "what dominates AlexNet's memory, and
what its compute?"). The shape arithmetic (``conv_output_size``, ``receptive_field``,
``min_input_size``) lives in :mod:`d2lnets.shapes`; it is re-exported here for older code.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..core.batches import model_device, weight_dtype
from ..core.config import as_device
from ..core.validate import input_shape, instance_of, short
from .shapes import conv_output_size, min_input_size, receptive_field

__all__ = ["LayerRow", "ModelSummary", "conv_output_size", "min_input_size", "receptive_field", "summary"]


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
    dtype: torch.dtype | None = None,
) -> ModelSummary:
    """Run one forward pass on zeros and tabulate every leaf layer call.

    Args:
        net: the model (lazy layers get initialised by the pass).
        input_size: ``(C, H, W)`` (a batch of one) or ``(B, C, H, W)``.
        device: where to run; default: where ``net``'s parameters are (CPU if it has none).
        dtype: the input's dtype: that of ``net``'s weights (the default), float32 for a network
            without weights.

    Each row gives a layer's output shape, its parameters (at its first call), its multiply-adds
    (convolutions and linear layers only, bias additions excluded, so ``2 * total_macs`` equals
    ``torch.utils.flop_counter.FlopCounterMode``'s count) and the bytes of its output. Functional
    operations inside ``forward`` (``torch.cat``, a residual ``+``) are not layers and get no row.
    The net runs in eval mode under ``torch.no_grad()``; its mode is restored afterwards.
    """
    instance_of(net, nn.Module, "net", "a network (an nn.Module)")
    shape = input_shape(input_size)
    weights = weight_dtype(net)
    dtype = weights if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch dtype such as torch.float32, got {short(dtype)}")
    device = model_device(net) if device is None else as_device(device)
    if dtype != weights and any(p.is_floating_point() for p in net.parameters()):
        raise ValueError(f"dtype={dtype} but net's weights are {weights}: the input must have the weights' dtype. "
                         f"Leave dtype out (or pass dtype={weights}), or convert the network first: "
                         f"net.to({dtype})")

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
