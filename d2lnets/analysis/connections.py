"""Which earlier feature maps each unit of a block reads, found by running it: a dense block's
connections (DenseNet's Figure 1) read from the model rather than assumed.

    c = dense_connections(d2l.models.DenseBlock(4, 3, 10), (3, 8, 8))
    c.reads    # [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3]]: unit 3 reads x0, x1 and x2
    c.output   # [0, 1, 2, 3, 4]: the block hands every feature map on

The block runs once on a random input. Feature map 0 is the block's input; feature map ``i`` is
what unit ``i`` returned. A unit reads feature map ``j`` when its input holds that map, unchanged,
as a slice of its channels (as a concatenation puts it there). A unit that returns its input with
its new channels appended (DenseNet-BC's layer as a learner may write it) counts as returning the
new channels only.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..core.validate import input_shape, instance_of, short
from .graph import _module_label

__all__ = ["Connections", "dense_connections"]


@dataclass
class Connections:
    """What :func:`dense_connections` found.

    - ``units``: the units' names, in the order they ran; ``labels``: their layers in brief
      (``"BN · ReLU · Conv 3×3, 32"``);
    - ``channels``: the channels of each feature map (0: the block's input, ``i``: unit ``i``'s output);
    - ``reads``: for each unit, the feature maps its input holds, in the order they sit in it;
    - ``output``: the feature maps the block's output holds;
    - ``edges``: every connection as ``(feature map, unit)``, the output being unit ``len(units) + 1``.
    """

    units: list[str]
    labels: list[str]
    channels: list[int]
    reads: list[list[int]]
    output: list[int]

    @property
    def edges(self) -> list[tuple[int, int]]:
        last = len(self.units) + 1
        return [(j, i + 1) for i, maps in enumerate(self.reads) for j in maps] + [(j, last) for j in self.output]

    @property
    def dense(self) -> bool:
        """True when every unit, and the output, reads every feature map made before it."""
        return (all(maps == list(range(i + 1)) for i, maps in enumerate(self.reads))
                and self.output == list(range(len(self.units) + 1)))


def _units(block: nn.Module) -> list[tuple[str, nn.Module]]:
    """The block's units: its children, or those of its only child (``self.net = nn.Sequential(...)``)."""
    named = list(block.named_children())
    while len(named) == 1 and len(list(named[0][1].children())) > 1:
        prefix = named[0][0]
        named = [(f"{prefix}.{n}", m) for n, m in named[0][1].named_children()]
    return named


def _label(unit: nn.Module) -> str:
    leaves = [m for m in unit.modules() if next(m.children(), None) is None]
    parts = [_module_label(m)[1] for m in leaves]
    return " · ".join(parts) or type(unit).__name__


def _slices(tensor: Tensor, maps: list[Tensor]) -> list[int]:
    """The maps that ``tensor`` holds as slices of its channels, in the order they sit in it."""
    found = []
    for j, m in enumerate(maps):
        c = m.shape[1]
        if m.shape[0] != tensor.shape[0] or m.shape[2:] != tensor.shape[2:]:
            continue
        for offset in range(tensor.shape[1] - c + 1):
            if torch.equal(tensor[:, offset:offset + c], m):
                found.append((offset, j))
                break
    return [j for _, j in sorted(found)]


def dense_connections(block: nn.Module, input_size: Sequence[int]) -> Connections:
    """Run ``block`` once on a random input of ``input_size`` (``(C, H, W)``) and find which
    earlier feature maps each of its units reads (see the module's docstring)."""
    instance_of(block, nn.Module, "block", "a dense block, e.g. d2l.models.DenseBlock(4, 3, 10)")
    shape = input_shape(input_size)
    units = _units(block)
    if len(units) < 2:
        raise ValueError(f"{type(block).__name__} has {len(units)} unit(s); a dense block has several, run one "
                         "after another (its children, or the children of its one nn.Sequential)")
    seen: list[tuple[str, Tensor, Tensor]] = []
    inputs: dict[int, Tensor] = {}
    names = {id(m): n for n, m in units}

    def before(module, args):   # a copy before the unit runs: an in-place layer cannot change it
        if args and isinstance(args[0], Tensor):
            inputs[id(module)] = args[0].detach().clone()

    def after(module, args, out):
        if id(module) in inputs and isinstance(out, Tensor):
            seen.append((names[id(module)], inputs.pop(id(module)), out.detach().clone()))

    handles = [h for _, m in units for h in (m.register_forward_pre_hook(before), m.register_forward_hook(after))]
    was_training = block.training
    try:
        block.eval()
        with torch.no_grad():
            X = torch.randn(2, *shape[1:], generator=torch.Generator().manual_seed(0))
            out = block(X)
    finally:
        block.train(was_training)
        for h in handles:
            h.remove()
    if not isinstance(out, Tensor) or out.dim() != 4:
        raise ValueError(f"{type(block).__name__} must return one tensor of [batch, channels, height, width], "
                         f"got {short(out)}")
    maps, reads = [X], []
    for _, inp, new in seen:
        reads.append(_slices(inp, maps))
        if new.shape[1] > inp.shape[1] and torch.equal(new[:, :inp.shape[1]], inp):
            new = new[:, inp.shape[1]:]   # a unit that appends its channels to its input: keep the new ones
        maps.append(new)
    labels = {n: _label(m) for n, m in units}
    return Connections(units=[n for n, _, _ in seen], labels=[labels[n] for n, _, _ in seen],
                       channels=[m.shape[1] for m in maps], reads=reads,
                       output=_slices(out, maps))
