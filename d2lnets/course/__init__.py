"""course — what the chapters train and compare: each chapter's recipe per profile (``recipes``),
experiments over seeds compared seed by seed (``seeds``), the closing chapter's helpers
(``compare``) and the published numbers the course quotes (``reference``). Beside it, in the same
layer and independent of it: ``checks``, the exercises' checks."""
from . import compare, reference
from .recipes import Recipe, list_recipes, recipe

__all__ = ["Recipe", "compare", "list_recipes", "recipe", "reference"]
