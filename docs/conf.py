"""The course website: Sphinx, MyST-NB and sphinx-book-theme (Jupyter Book 1's stack), offline.

    make docs      # = sphinx-build -W --keep-going -c docs . docs/_build/html

The source folder is the repository itself, so the chapters are read where they are committed
(``chapters/*.ipynb``, never executed, never copied) beside these pages (``docs/*.md``) and the
licence of the text (``LICENSE-content.md``);
``include_patterns`` keeps everything else out. docs/README.md says why not Jupyter Book 2.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))


def package_constant(name: str, *files: str) -> str:
    """A string constant of the package, read from its source without importing it (importing
    ``d2lnets`` imports torch, which the website does not need)."""
    for file in files:
        path = ROOT / file
        if not path.is_file():
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets)
                    and isinstance(node.value, ast.Constant)):
                return node.value.value
    raise RuntimeError(f"docs/conf.py: found no {name} = '...' in {', '.join(files)}")


# The one place that names the repository (tests/test_docs.py fails on a link to any other).
COLAB = "d2lnets/tools/colab.py"
REPOSITORY = package_constant("REPOSITORY", COLAB).rstrip("/")
BRANCH = package_constant("BRANCH", COLAB)

project = "d2lnets"
author = "the d2lnets authors"
copyright = "the d2lnets authors. Text and figures: CC BY-SA 4.0; code: MIT"
release = version = package_constant("__version__", "d2lnets/__init__.py")
# Colab opens a chapter at the release's tag, whose first cell installs that release (TAG and
# colab_url in d2lnets/tools/colab.py; tests/test_docs.py checks the button's address against it).
TAG = f"v{release}"

root_doc = "docs/index"
include_patterns = ["docs/*.md", "chapters/*.ipynb", "LICENSE-content.md"]
exclude_patterns = ["docs/README.md", "**/.ipynb_checkpoints"]

extensions = ["myst_nb", "sphinx.ext.extlinks", "course_site", "offline_mathjax", "bench_results"]

# MyST-NB: the committed outputs, as they are; a chapter is never run to build the site.
nb_execution_mode = "off"
nb_custom_formats = {".ipynb": ["course_site.read_chapter", {}, False]}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_heading_slug_func = "course_site.jupyter_slug"

# Links into the repository, all made from REPOSITORY: {repo}`data/README.md`.
extlinks = {"repo": (f"{REPOSITORY}/blob/{BRANCH}/%s", "%s")}

html_theme = "sphinx_book_theme"
html_title = "d2lnets: classic convolutional networks, hands on"
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": REPOSITORY,
    # The theme uses the branch only for its launch buttons here: the release's tag, as above.
    "repository_branch": TAG,
    "path_to_docs": "",
    "use_repository_button": True,
    "use_issues_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "extra_footer": (
        f'<p>The chapters\' text and figures: '
        f'<a href="{REPOSITORY}/blob/{BRANCH}/LICENSE-content.md">CC BY-SA 4.0</a>; '
        f'the code: <a href="{REPOSITORY}/blob/{BRANCH}/LICENSE">MIT</a>. The course grows out of '
        '<a href="https://d2l.ai">Dive into Deep Learning</a> (Zhang, Lipton, Li and Smola) and takes its '
        'recipes and vocabulary from it.</p>'),
}
# The download button offers each page's source: a chapter as its .ipynb.
html_copy_source = True
html_sourcelink_suffix = ""
