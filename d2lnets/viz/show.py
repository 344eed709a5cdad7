"""Showing a figure in a notebook: once, as a PNG, through IPython's display (nothing elsewhere)."""
from __future__ import annotations

import io

from matplotlib.figure import Figure  # drawn without pyplot: nothing is shown unless we show it

__all__ = ["in_notebook", "png", "show_figure"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbval, nbconvert), False in scripts and pytest."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def png(fig: Figure, dpi: int = 100):
    """``fig`` as an IPython PNG image (cropped to what is drawn)."""
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return Image(data=buf.getvalue(), format="png")


def show_figure(fig: Figure, show: bool | None = None, *, dpi: int = 100) -> None:
    """Display ``fig`` once as a PNG when ``show`` (default: inside a notebook); else do nothing."""
    if in_notebook() if show is None else show:
        from IPython.display import display

        display(png(fig, dpi=dpi))
