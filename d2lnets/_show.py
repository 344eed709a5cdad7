"""Showing a finished figure once in a notebook, as a PNG (for the drawing helpers)."""
from __future__ import annotations

from matplotlib.figure import Figure


def display_figure(fig: Figure, show: bool | None = None, dpi: int = 100) -> None:
    """Display ``fig`` as a PNG when ``show`` (default: inside a notebook); else do nothing."""
    from .plot import _png, in_notebook

    if show is None:
        show = in_notebook()
    if show:
        from IPython.display import display

        display(_png(fig, dpi=dpi))
