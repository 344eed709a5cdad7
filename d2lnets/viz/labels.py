"""Labels beside the points of a scatter plot that never collide and never leave the axes.

``place_labels(ax, {name: (x, y)})`` writes each name next to its point. It tries a few places
around the point (right above, right below, left above, left below, above, below), in display
coordinates after the figure's layout is done, and keeps the first whose box overlaps no other
label and no point and lies inside the axes; where none is free it widens the axes' margins and
tries again. What it placed comes back as ``{name: Bbox}`` (display coordinates) to assert on.
"""
from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.transforms import Bbox

from ..core.validate import short

__all__ = ["PLACES", "label_boxes", "place_labels"]

# (dx, dy) in points from the point, with the text's alignment there
PLACES = [((5, 4), "left", "bottom"), ((5, -4), "left", "top"), ((-5, 4), "right", "bottom"),
          ((-5, -4), "right", "top"), ((0, 7), "center", "bottom"), ((0, -7), "center", "top")]
MARKER_PX = 5   # half the side of the box kept free around each point
GAP_PX = 3      # room kept between a label and the other labels and points


def _renderer(fig):
    if fig.canvas is None or not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.draw_without_rendering()   # the layout settles first: boxes are measured where they end up
    return fig.canvas.get_renderer()


def _overlaps(box: Bbox, others: list[Bbox]) -> float:
    """The area ``box`` shares with ``others``."""
    area = 0.0
    for o in others:
        w = min(box.x1, o.x1) - max(box.x0, o.x0)
        h = min(box.y1, o.y1) - max(box.y0, o.y0)
        area += max(w, 0.0) * max(h, 0.0)
    return area


def _inside(box: Bbox, frame: Bbox) -> bool:
    return box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1


def label_boxes(ax: Axes) -> dict[str, Bbox]:
    """The display boxes of the labels :func:`place_labels` wrote on ``ax``, by name."""
    renderer = _renderer(ax.figure)
    return {t.get_text(): t.get_window_extent(renderer) for t in ax.texts if getattr(t, "_d2l_label", False)}


def place_labels(ax: Axes, points: dict[str, tuple[float, float]], *, colours: dict[str, str] | None = None,
                 fontsize: float = 8, max_tries: int = 6) -> dict[str, Bbox]:
    """Write each name of ``points`` ({name: (x, y)} in data coordinates) beside its point, with
    no two labels overlapping, none over a point, all inside the axes (see the module's docstring);
    ``colours``: each label in its point's colour. Returns the labels' display boxes by name."""
    if not isinstance(points, dict) or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in points.values()):
        raise TypeError(f"points must be a dict {{name: (x, y)}}, got {short(points)}")
    texts = {}
    for name, (x, y) in points.items():
        t = ax.annotate(name, (x, y), textcoords="offset points", xytext=PLACES[0][0], fontsize=fontsize,
                        ha=PLACES[0][1], va=PLACES[0][2], annotation_clip=False,
                        color=(colours or {}).get(name, "black"))
        t.set_in_layout(False)    # the labels follow the layout; they do not move it
        t._d2l_label = True
        texts[name] = t
    for _ in range(max_tries):
        renderer = _renderer(ax.figure)
        frame = ax.get_window_extent(renderer)
        dots = [Bbox.from_extents(px - MARKER_PX, py - MARKER_PX, px + MARKER_PX, py + MARKER_PX)
                for px, py in (ax.transData.transform(p) for p in points.values())]
        placed: list[Bbox] = []
        fits = True
        # the most crowded points first: each takes the first free place
        order = sorted(points, key=lambda n: ax.transData.transform(points[n])[0])
        for name in order:
            t, best = texts[name], None
            for offset, ha, va in PLACES:
                t.set_position(offset)
                t.set_ha(ha)
                t.set_va(va)
                box = t.get_window_extent(renderer)
                mine = dots[list(points).index(name)]
                cost = (_overlaps(box.padded(GAP_PX), placed + [d for d in dots if d is not mine])
                        + _overlaps(box, [mine]) + (0 if _inside(box, frame) else 1e6))
                if best is None or cost < best[0]:
                    best = (cost, offset, ha, va, box)
                if cost == 0:
                    break
            cost, offset, ha, va, box = best
            t.set_position(offset)
            t.set_ha(ha)
            t.set_va(va)
            placed.append(box)
            fits = fits and cost == 0
        if fits:
            break
        # no free place for some label: give the points more room and try again
        ax.margins(x=min(ax.margins()[0] * 1.6 + 0.04, 0.6), y=min(ax.margins()[1] * 1.6 + 0.04, 0.6))
        ax.autoscale_view()
    return label_boxes(ax)
