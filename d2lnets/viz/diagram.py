"""Architecture diagrams drawn from the model itself: ``draw_architecture(net, input_size)``.

The graph comes from one forward pass (:func:`d2lnets.graph.trace_graph`), so what is drawn is
what runs: every box is a layer (or a few folded together: "Conv 3×3, 64 · BN · ReLU") with its
output shape, a residual ``+`` gets its shortcut drawn beside the main path, a dense block's
concatenations get the carried-over features, and a grouped convolution (AlexNet's two towers)
is drawn as one box per group, side by side, with the arrows between two grouped layers staying
within their tower. Data flows from top to bottom. The figure is a PNG through matplotlib (no
graphviz), shown once in a notebook; what is drawn comes back as a :class:`Diagram` to assert on.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path
from torch import nn

from ..analysis.graph import ADD, CAT, INPUT, Edge, Graph, Node, trace_graph
from .show import show_figure

__all__ = ["Diagram", "draw_architecture"]

BOX_W, BOX_H, TOWER_GAP, COL_GAP, ROW_PITCH, LANE = 2.9, 0.5, 0.2, 0.7, 0.78, 0.22
COLOURS = {"input": "#ffffff", "conv": "#cfe2f3", "linear": "#d9ead3", "pool": "#fce5cd", "norm": "#eeeeee",
           "act": "#eeeeee", "dropout": "#eeeeee", "flatten": "#eeeeee", "add": "#fff2cc", "cat": "#fff2cc",
           "block": "#d9d2e9", "op": "#eeeeee"}
EDGE_COLOURS = {"main": "#444444", "skip": "#cc0000", "concat": "#1155cc", "branch": "#444444"}


@dataclass
class Diagram:
    """What :func:`draw_architecture` drew: the figure, its boxes (``nodes``) and arrows (``edges``).

    Handy counts: ``num_blocks`` (boxes other than the input), ``adds`` and ``concats`` (the join
    nodes), ``skip_edges`` (shortcuts into a ``+``), ``concat_edges`` (features carried into a
    concatenation), ``columns`` (most boxes side by side in one layer: 2 for AlexNet's towers).
    """

    fig: Figure
    nodes: list[Node]
    edges: list[Edge]
    title: str = ""
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        self.rows = 1 + max((n.row for n in self.nodes), default=-1)

    def _kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]

    @property
    def num_blocks(self) -> int:
        return sum(n.kind != INPUT for n in self.nodes)

    @property
    def adds(self) -> list[Node]:
        return self._kind(ADD)

    @property
    def concats(self) -> list[Node]:
        return self._kind(CAT)

    @property
    def skip_edges(self) -> list[Edge]:
        return [e for e in self.edges if e.kind == "skip"]

    @property
    def concat_edges(self) -> list[Edge]:
        return [e for e in self.edges if e.kind == "concat"]

    @property
    def columns(self) -> int:
        return max((n.columns for n in self.nodes), default=1)

    def find(self, text: str) -> list[Node]:
        """Boxes whose label or module names contain ``text`` (``diagram.find("features.3")``)."""
        return [n for n in self.nodes if text in n.label or any(text in name for name in n.names)]

    def node(self, node_id: int) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def __repr__(self) -> str:
        joins = f", {len(self.adds)} add(s) with {len(self.skip_edges)} skip edge(s)" if self.adds else ""
        joins += f", {len(self.concats)} concatenation(s)" if self.concats else ""
        towers = f", up to {self.columns} columns (grouped convolutions)" if self.columns > 1 else ""
        return f"<Diagram{' of ' + self.title if self.title else ''}: {self.num_blocks} blocks{joins}{towers}>"


# ----------------------------------------------------------------------------------------------
# layout
# ----------------------------------------------------------------------------------------------
def _layout(graph: Graph) -> None:
    """Rows by longest path from the input; a node keeps its main input's column where free; the
    edges into a join are classified (the input from the latest row is the main path)."""
    taken: set[tuple[int, int]] = set()
    for node in graph.nodes:  # in the order they ran: a topological order
        preds = [graph.node(p) for p in graph.preds(node.id)]
        node.row = 1 + max((p.row for p in preds), default=-1)
        col = min((p.col for p in preds), default=0)
        while (node.row, col) in taken:
            col += 1
        node.col = col
        taken.add((node.row, col))
    for node in graph.nodes:
        ins = [e for e in graph.edges if e.dst == node.id]
        if len(ins) < 2:
            continue
        main = max(ins, key=lambda e: (graph.node(e.src).row, -graph.node(e.src).col))
        for e in ins:
            if e is not main:
                e.kind = "skip" if node.kind == ADD else "concat" if node.kind == CAT else "branch"


def _shape_text(shape: tuple[int, ...], columns: int) -> str:
    if not shape:
        return ""
    if columns > 1 and len(shape) >= 2:
        shape = (shape[0] // columns, *shape[1:])
    return "×".join(map(str, shape))


# ----------------------------------------------------------------------------------------------
# drawing
# ----------------------------------------------------------------------------------------------
class _Geometry:
    def __init__(self, graph: Graph) -> None:
        widest = {}
        for n in graph.nodes:
            widest[n.col] = max(widest.get(n.col, 0.0), self.width(n))
        self.col_x = {}
        x = 0.0
        for c in sorted(widest):
            self.col_x[c] = x + widest[c] / 2
            x += widest[c] + COL_GAP
        self.col_half = {c: w / 2 for c, w in widest.items()}

    @staticmethod
    def width(n: Node) -> float:
        return n.columns * BOX_W + (n.columns - 1) * TOWER_GAP

    def boxes(self, n: Node) -> list[tuple[float, float]]:
        """Centres of the node's boxes (one per tower)."""
        x0, y = self.col_x[n.col], -n.row * ROW_PITCH
        return [(x0 + (i - (n.columns - 1) / 2) * (BOX_W + TOWER_GAP), y) for i in range(n.columns)]


def _text_size(text: str, width: float) -> float:
    """A font size at which ``text`` fits a box ``width`` inches wide (about 0.55 em per character)."""
    return max(5.5, min(9.0, width * 72 / (0.56 * max(len(text), 1))))


def _draw_box(ax, n: Node, centre: tuple[float, float], tower: int) -> None:
    x, y = centre
    ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0,rounding_size=0.08",
                                facecolor=COLOURS.get(n.kind, "#eeeeee"), edgecolor="#555555", linewidth=0.8))
    label = n.label
    shape = _shape_text(n.shape, n.columns)
    if n.columns > 1:
        shape += f"  (group {tower + 1} of {n.columns})"
    ax.text(x, y + 0.09, label, ha="center", va="center", fontsize=_text_size(label, BOX_W - 0.1))
    ax.text(x, y - 0.13, shape, ha="center", va="center", fontsize=7.5, color="#555555")


def _arrow(ax, points: list[tuple[float, float]], kind: str) -> None:
    codes = [Path.MOVETO] + [Path.LINETO] * (len(points) - 1)
    ax.add_patch(FancyArrowPatch(path=Path(points, codes), arrowstyle="-|>", mutation_scale=9,
                                 color=EDGE_COLOURS[kind], linewidth=1.2 if kind == "main" else 1.4,
                                 shrinkA=0, shrinkB=0))


def _lanes(graph: Graph) -> dict[int, int]:
    """For each long edge within one column (by index in ``graph.edges``), the lane it runs down
    beside the boxes: edges whose rows overlap (or touch) get different lanes."""
    lanes: dict[int, int] = {}
    used: dict[int, list[tuple[int, int, int]]] = {}
    for i, e in enumerate(graph.edges):
        a, b = graph.node(e.src), graph.node(e.dst)
        if a.col != b.col or b.row <= a.row + 1:
            continue
        taken = used.setdefault(a.col, [])
        lane = 0
        while any(lane == k and not (b.row < lo or a.row > hi) for lo, hi, k in taken):
            lane += 1
        taken.append((a.row, b.row, lane))
        lanes[i] = lane
    return lanes


def _draw_edges(ax, graph: Graph, geo: _Geometry, lanes: dict[int, int]) -> None:
    top, bottom = BOX_H / 2, -BOX_H / 2
    for i, e in enumerate(graph.edges):
        a, b = graph.node(e.src), graph.node(e.dst)
        A, B = geo.boxes(a), geo.boxes(b)
        if i in lanes:  # a long edge down the same column: round the right side, in its lane
            x_lane = geo.col_x[a.col] + geo.col_half[a.col] + 0.25 + lanes[i] * LANE
            xa, xb = A[-1][0] + BOX_W / 2, B[-1][0] + BOX_W / 2
            ya, yb = A[-1][1], B[-1][1]
            _arrow(ax, [(xa, ya), (x_lane, ya), (x_lane, yb), (xb, yb)], e.kind)
        elif a.col == b.col:
            # tower to tower within a grouped pair, else fan out / in between one box and several
            pairs = list(zip(A, B)) if a.columns == b.columns else [(p, q) for p in A for q in B]
            for (x1, y1), (x2, y2) in pairs:
                _arrow(ax, [(x1, y1 + bottom), (x2, y2 + top)], e.kind)
        else:  # to another column: down the source's column, then across into the target's top
            (x1, y1), (x2, y2) = A[0], B[0]
            side = 0.25 * BOX_W if a.col > b.col else -0.25 * BOX_W
            points = [(x1, y1 + bottom)]
            if b.row > a.row + 1:
                points.append((x1, y2 + top + ROW_PITCH - BOX_H))
            points.append((x2 + side, y2 + top))
            _arrow(ax, points, e.kind)


def draw_architecture(net: nn.Module, input_size: Sequence[int], *, fold: bool = True,
                      collapse: type | Sequence[type] = (), title: str | None = None,
                      show: bool | None = None) -> Diagram:
    """Draw ``net`` as blocks with their output shapes, traced on an input of ``input_size``.

    Args:
        net: the network, or any block of one (``d2l.models.BasicBlock(64, 64)``).
        input_size: ``(C, H, W)`` of one input (as for ``d2l.summary``), e.g. ``(1, 28, 28)``.
        fold: merge batch norm, activations, dropout and LRN into the box beside them.
        collapse: module classes drawn as one box each, e.g. ``collapse=d2l.models.BasicBlock`` for a
            whole ResNet.
        title: a title above the drawing (default: the network's class name).
        show: display the figure (default: in a notebook).

    Returns a :class:`Diagram`: ``.fig``, ``.nodes`` (with ``kind``, ``label``, ``shape``,
    ``columns``, ``row``, ``col``), ``.edges`` (``kind`` ``"main"``, ``"skip"``, ``"concat"``)
    and counts to assert on (``num_blocks``, ``adds``, ``skip_edges``, ``concats``, ``columns``).
    """
    graph = trace_graph(net, input_size, fold=fold, collapse=collapse)
    _layout(graph)
    geo = _Geometry(graph)
    title = type(net).__name__ if title is None else str(title)
    lanes = _lanes(graph)
    rows = 1 + max(n.row for n in graph.nodes)
    left = min(geo.col_x[c] - geo.col_half[c] for c in geo.col_x) - 0.15
    right = max(geo.col_x[c] + geo.col_half[c] for c in geo.col_x) + 0.15
    if lanes:
        right = max(right, max(geo.col_x[c] + geo.col_half[c] for c in geo.col_x) + 0.4 + LANE * max(lanes.values()))
    spare = len(title) * 0.09 - (right - left)  # room for the title (bold 10 pt: about 0.09 in a character)
    if spare > 0:
        left, right = left - spare / 2, right + spare / 2
    top, bottom = BOX_H / 2 + (0.45 if title else 0.15), -(rows - 1) * ROW_PITCH - BOX_H / 2 - 0.15
    fig = Figure(figsize=(right - left, top - bottom))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    _draw_edges(ax, graph, geo, lanes)
    for n in graph.nodes:
        for i, centre in enumerate(geo.boxes(n)):
            _draw_box(ax, n, centre, i)
    if title:
        ax.text((left + right) / 2, top - 0.22, title, ha="center", va="center", fontsize=10, weight="bold")
    show_figure(fig, show)
    return Diagram(fig, graph.nodes, graph.edges, title)
