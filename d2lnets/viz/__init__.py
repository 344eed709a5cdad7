"""viz — the pictures, one way to show each (``show``): the live plot and progress bar (``live``),
training curves (``curves``), image grids (``images``), architecture diagrams (``diagram``), a dense
block with all its connections (``dense``), filters and feature maps (``filters``), mistakes
(``mistakes``), receptive fields (``receptive``), the one-cycle schedule (``schedule``). The only
layer, with those above it, that imports matplotlib or IPython.

(This package serves the names of the former module ``d2lnets.plot``.)
"""
from .curves import plot_histories
from .dense import DenseDiagram, draw_dense_block
from .diagram import Diagram, draw_architecture
from .filters import show_feature_maps, show_filters
from .images import show_images
from .live import Animator, Progress
from .mistakes import show_mistakes, show_predictions
from .receptive import show_receptive_field
from .schedule import one_cycle, plot_one_cycle
from .show import in_notebook, show_figure

__all__ = ["Animator", "DenseDiagram", "Diagram", "Progress", "draw_architecture", "draw_dense_block", "in_notebook",
           "one_cycle", "plot_histories", "plot_one_cycle", "show_feature_maps", "show_figure", "show_filters",
           "show_images", "show_mistakes", "show_predictions", "show_receptive_field"]
