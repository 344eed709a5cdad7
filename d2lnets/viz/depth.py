"""Networks side by side, to scale in depth: ``draw_depth({name: (net, input_size)})``.

Each network is a column of its layers with weights (convolutions and linear layers), one unit of
height per layer along its longest path from the input, so the columns' heights compare the
networks' depths. A bar's width is that layer's multiply-adds relative to the network's largest
layer (where the work is); its colour says what it is (a k×k convolution, a 1×1 convolution, a
linear layer); a grey square beside it marks batch normalisation. A ResNet's shortcuts are drawn
as red arcs on the right of its column, from where a shortcut leaves to where it is added (a 1×1
projection on a shortcut is a narrow bar beside the layer it runs in parallel with); a DenseNet's
concatenations as blue arcs on the left, from every earlier layer of a block to each layer that
reads it (the paper's Figure 1). Everything comes from one forward pass
(:func:`d2lnets.analysis.graph.trace_graph`) and :func:`d2lnets.summary`: what is drawn is what
runs. The columns come back as :class:`DepthChart` to assert on.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from torch import nn

from ..analysis.graph import ADD, CAT, Graph, trace_graph
from ..analysis.summary import summary
from ..core.validate import instance_of, short
from .show import show_figure

__all__ = ["Column", "DepthChart", "Layer", "draw_depth", "layers_by_depth"]

COLOURS = {"conv": "#6fa8dc", "conv1x1": "#b4d3ee", "linear": "#93c47d"}
NAMES = {"conv": "convolution k×k", "conv1x1": "convolution 1×1", "linear": "linear layer"}
SHORTCUT, CONCAT, NORM = "#cc0000", "#1155cc", "#777777"


@dataclass
class Layer:
    """One layer with weights: its module's name, kind (``conv``, ``conv1x1``, ``linear``), level
    (1 for the first layer on the longest path from the input), multiply-adds, batch norm beside it,
    and ``side``: a layer off the main path (a projection on a shortcut)."""

    name: str
    kind: str
    level: int
    macs: int
    norm: bool = False
    side: bool = False


@dataclass
class Column:
    """One network: its layers, its depth (the most layers with weights on a path from input to
    output), its multiply-adds, and its shortcuts and concatenations as (from level, to level)."""

    name: str
    layers: list[Layer]
    depth: int
    macs: int
    shortcuts: list[tuple[int, int]] = field(default_factory=list)
    concats: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class DepthChart:
    """What :func:`draw_depth` drew: the figure and one :class:`Column` per network, by name."""

    fig: Figure
    columns: dict[str, Column]


def _weighted(net: nn.Module, names: list[str]) -> tuple[str, nn.Module] | None:
    for name in names:
        try:
            m = net.get_submodule(name)
        except AttributeError:
            continue
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
            return name, m
    return None


def _kind(m: nn.Module) -> str:
    if isinstance(m, nn.Linear):
        return "linear"
    return "conv1x1" if all(k == 1 for k in m.kernel_size) else "conv"


def _leaves(graph: Graph, node_id: int) -> list[int]:
    """The nodes whose outputs a concatenation holds (through nested concatenations)."""
    node = graph.node(node_id)
    if node.kind != CAT:
        return [node_id]
    return [leaf for p in graph.preds(node_id) for leaf in _leaves(graph, p)]


def layers_by_depth(net: nn.Module, input_size: Sequence[int], name: str = "") -> Column:
    """The :class:`Column` of ``net`` for an input of ``input_size`` (``(C, H, W)``)."""
    instance_of(net, nn.Module, "net", "a network (an nn.Module)")
    graph = trace_graph(net, input_size)
    macs = {row.name: row.macs for row in summary(net, input_size).rows}
    level: dict[int, int] = {}
    layers: dict[int, Layer] = {}
    for node in graph.nodes:   # in the order they ran: every input is seen before its node
        below = max((level[p] for p in graph.preds(node.id)), default=0)
        found = _weighted(net, node.names)
        if found is None:
            level[node.id] = below
            continue
        level[node.id] = below + 1
        layers[node.id] = Layer(found[0], _kind(found[1]), below + 1, macs.get(found[0], 0),
                                norm=any(op in ("BN", "LRN") or op.startswith("BatchNorm") for op in node.ops))
    shortcuts, concats = [], []
    for node in graph.nodes:
        preds = graph.preds(node.id)
        if node.kind == ADD and len(preds) > 1:
            skip = min(preds, key=lambda p: level[p])
            if skip in layers:      # a projection: drawn beside the main path, the arc starts below it
                layers[skip].side = True
                skip = graph.preds(skip)[0]
            shortcuts.append((level[skip], level[node.id]))
        elif node.id in layers and len(preds) == 1 and graph.node(preds[0]).kind == CAT:
            for leaf in _leaves(graph, preds[0]):
                if level[leaf] < level[node.id] - 1:
                    concats.append((level[leaf], level[node.id] - 1))
    ordered = list(layers.values())
    return Column(name or type(net).__name__, ordered, max((lay.level for lay in ordered), default=0),
                  sum(lay.macs for lay in ordered), shortcuts, sorted(set(concats)))


def _arc(ax, x: float, y0: float, y1: float, side: int, colour: str, reach: float) -> None:
    bend = side * min(0.9, 0.25 + 0.06 * (y1 - y0))
    ax.add_patch(FancyArrowPatch((x, y0), (x, y1), connectionstyle=f"arc3,rad={-bend * reach}",
                                 arrowstyle="-|>", mutation_scale=7, color=colour, linewidth=0.9, alpha=0.8))


def draw_depth(networks: dict, *, title: str | None = None, show: bool | None = None) -> DepthChart:
    """The networks side by side, to scale in depth (see the module's docstring).

    ``networks``: ``{name: (net, input_size)}`` in the order to draw them, ``input_size`` as
    ``(C, H, W)``."""
    if not isinstance(networks, dict) or not networks or not all(
            isinstance(v, (tuple, list)) and len(v) == 2 and isinstance(v[0], nn.Module) for v in networks.values()):
        raise TypeError(f"networks must be a non-empty dict {{name: (net, input_size)}}, e.g. "
                        f"{{'LeNet': (net, (1, 28, 28))}}, got {short(networks)}")
    columns = {name: layers_by_depth(net, size, name) for name, (net, size) in networks.items()}
    tallest = max(c.depth for c in columns.values())
    fig = Figure(figsize=(1.9 * len(columns) + 1.2, 1.6 + 0.24 * tallest), layout="constrained")
    ax = fig.subplots()
    width, pitch = 1.0, 2.0
    for i, col in enumerate(columns.values()):
        x0, largest = i * pitch, max((lay.macs for lay in col.layers), default=1) or 1
        for lay in col.layers:
            w = max(0.06, lay.macs / largest) * width * (0.45 if lay.side else 1.0)
            left = x0 + (width + 0.08 if lay.side else (width - w) / 2)
            ax.add_patch(Rectangle((left, lay.level - 0.92), w, 0.84, facecolor=COLOURS[lay.kind],
                                   edgecolor="#333333", linewidth=0.4))
            if lay.norm and not lay.side:
                ax.add_patch(Rectangle((x0 - 0.16, lay.level - 0.7), 0.1, 0.4, facecolor=NORM, linewidth=0))
        for y0, y1 in col.shortcuts:
            _arc(ax, x0 + width + 0.04, y0, y1, -1, SHORTCUT, 1.0)
        for y0, y1 in col.concats:
            _arc(ax, x0 - 0.3, y0, y1, 1, CONCAT, 0.6)
        ax.text(x0 + width / 2, col.depth + 0.6, f"{col.name}\n{col.depth} layers\n{col.macs / 1e6:.1f} M mult-adds",
                ha="center", va="bottom", fontsize=8)
    ax.set_xlim(-0.7, (len(columns) - 1) * pitch + width + 0.7)
    ax.set_ylim(0, tallest + 3.2)
    ax.set_xticks([])
    ax.set_ylabel("layers with weights, from the input up")
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    handles = [Patch(facecolor=COLOURS[k], edgecolor="#333333", label=NAMES[k]) for k in COLOURS]
    handles += [Patch(facecolor=NORM, label="batch norm"), Patch(facecolor=SHORTCUT, label="shortcut (+)"),
                Patch(facecolor=CONCAT, label="concatenation")]
    fig.legend(handles=handles, loc="outside lower center", ncol=6, fontsize=7, frameon=False)
    ax.set_title(title or "bar width: a layer's multiply-adds, relative to its network's largest layer", fontsize=9)
    show_figure(fig, show)
    return DepthChart(fig, columns)
