"""A dense block with every one of its connections, as DenseNet's Figure 1 draws it.

:func:`draw_dense_block` runs the block once (:func:`d2lnets.analysis.connections.dense_connections`)
and draws, from left to right, its input x₀, its units H₁ … H_L and its output. Each unit's box has
a stripe in the colour of the feature maps it makes (x₁, x₂, ...), and an arrow of that colour runs
from where a feature map is made to every unit that reads it, and on to the output: at a glance,
every unit reads every earlier one. What is drawn comes from the model, not from a formula: a
block whose units read less draws fewer arrows.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from torch import nn

from ..analysis.connections import Connections, dense_connections
from .show import show_figure

__all__ = ["DenseDiagram", "draw_dense_block"]

BOX_W, BOX_H, GAP, STRIPE, LINE = 1.3, 1.05, 0.5, 0.14, 0.22
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass
class DenseDiagram:
    """What :func:`draw_dense_block` drew: the figure, the connections it found and the arrows it
    drew, as ``(feature map, target)`` pairs (target ``i`` is unit ``i``; the output is
    ``len(connections.units) + 1``)."""

    fig: Figure
    connections: Connections
    arrows: list[tuple[int, int]]

    def __repr__(self) -> str:
        c = self.connections
        return (f"<DenseDiagram: {len(c.units)} units, {len(self.arrows)} connections"
                f"{' (every unit reads every earlier feature map)' if c.dense else ''}>")


def _x(position: int) -> float:
    """The centre of box ``position`` (0: the input, 1..L: the units, L + 1: the output)."""
    return position * (BOX_W + GAP)


def _box(ax, position: int, lines: list[str], colour: str, stripe: str | None) -> None:
    x = _x(position)
    ax.add_patch(FancyBboxPatch((x - BOX_W / 2, -BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0,rounding_size=0.06",
                                facecolor=colour, edgecolor="#555555", linewidth=0.8, zorder=2))
    if stripe:
        ax.add_patch(Rectangle((x + BOX_W / 2 - STRIPE, -BOX_H / 2 + 0.04), STRIPE - 0.03, BOX_H - 0.08,
                               facecolor=stripe, edgecolor="none", zorder=3))
    inner = BOX_W - (STRIPE if stripe else 0) - 0.1
    for k, text in enumerate(lines):
        size = min(9 if k == 0 else 7, max(5.0, inner * 72 / (0.56 * max(len(text), 1))))   # fits the box
        ax.text(x - (STRIPE / 2 if stripe else 0), (len(lines) - 1) / 2 * LINE - k * LINE, text, ha="center",
                va="center", fontsize=size, weight="bold" if k == 0 else "normal",
                color="#222222" if k == 0 else "#555555", zorder=4)


def _split(label: str, width: int = 18) -> list[str]:
    """A unit's label on one line, or on two at the " · " nearest its middle when it is long."""
    cuts = [i for i in range(len(label)) if label.startswith(" · ", i)]
    if len(label) <= width or not cuts:
        return [label]
    i = min(cuts, key=lambda i: abs(i - len(label) / 2))
    return [label[:i], label[i + 3:]]


def draw_dense_block(block: nn.Module, input_size: Sequence[int], *, title: str | None = None,
                     show: bool | None = None) -> DenseDiagram:
    """Draw ``block`` with every connection between its feature maps and its units (see the module's
    docstring). ``input_size``: ``(C, H, W)`` of one input, e.g. ``(64, 24, 24)``."""
    c = dense_connections(block, input_size)
    units = len(c.units)
    colours = [f"C{j % 10}" for j in range(units + 1)]
    width = _x(units + 1) + BOX_W
    reach = 0.55 + 0.12 * units   # the tallest arc, over the whole row
    fig = Figure(figsize=(width + 0.3, BOX_H + reach + (0.45 if title else 0.15) + 0.25))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-BOX_W / 2 - 0.15, _x(units + 1) + BOX_W / 2 + 0.15)
    ax.set_ylim(-BOX_H / 2 - 0.25, BOX_H / 2 + reach + (0.45 if title else 0.15))
    ax.axis("off")

    _box(ax, 0, ["x₀", "the input", f"{c.channels[0]} channels"], "#ffffff", colours[0])
    for i in range(1, units + 1):
        sub = str(i).translate(SUBSCRIPT)
        reads = sum(c.channels[j] for j in c.reads[i - 1])
        _box(ax, i, [f"H{sub} → x{sub}", *_split(c.labels[i - 1]), f"reads {reads}, adds {c.channels[i]}"], "#cfe2f3",
             colours[i])
    _box(ax, units + 1, ["output", "concatenation", f"{sum(c.channels[j] for j in c.output)} channels"], "#fff2cc",
         None)

    arrows = c.edges
    incoming = {t: [j for j, tt in arrows if tt == t] for t in range(1, units + 2)}
    outgoing = {j: [t for jj, t in arrows if jj == j] for j in range(units + 1)}
    for j, t in arrows:
        # leave from the top of the stripe of x_j's box, arrive spread over the top of the target
        src_slot = outgoing[j].index(t) / max(1, len(outgoing[j]) - 1) if len(outgoing[j]) > 1 else 0.5
        dst_slot = incoming[t].index(j) / max(1, len(incoming[t]) - 1) if len(incoming[t]) > 1 else 0.5
        x0 = _x(j) + BOX_W * (0.05 + 0.4 * src_slot)
        x1 = _x(t) - BOX_W / 2 + 0.2 + (BOX_W - 0.55) * dst_slot
        if t == j + 1:   # the neighbour: straight across
            ax.add_patch(FancyArrowPatch((_x(j) + BOX_W / 2, 0), (_x(t) - BOX_W / 2, 0), arrowstyle="-|>",
                                         mutation_scale=10, color=colours[j], linewidth=1.6, zorder=1))
            continue
        span = (t - j) / (units + 1)
        ax.add_patch(FancyArrowPatch((x0, BOX_H / 2), (x1, BOX_H / 2), arrowstyle="-|>", mutation_scale=9,
                                     connectionstyle=f"arc3,rad={-0.25 - 0.5 * (1 - span) / units:.3f}",
                                     color=colours[j], linewidth=1.2, alpha=0.9, zorder=1))
    if title:
        ax.text(_x(units + 1) / 2, BOX_H / 2 + reach + 0.2, title, ha="center", va="center", fontsize=10,
                weight="bold")
    show_figure(fig, show)
    return DenseDiagram(fig, c, arrows)
