"""course — what the chapters train and compare: each chapter's recipe per profile (``recipes``),
experiments over seeds compared seed by seed (``seeds``), the closing chapter's helpers
(``compare``, with ImageNet's weights in ``pretrained``), the appendix's (``colour``) and the
published numbers the course quotes (``reference``). Beside it, in the same layer and independent
of it: ``checks``, the exercises' checks."""
from . import colour, compare, pretrained, reference
from .recipes import Recipe, list_recipes, recipe

__all__ = ["Recipe", "colour", "compare", "list_recipes", "pretrained", "recipe", "reference"]
