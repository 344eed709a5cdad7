"""tools — the command lines, the top layer: set-up (``setup``), the learner's copies
(``exercises``), checking them (``check``), running the chapters (``notebooks``), Colab's first
cell (``colab``), training from the command line (``train_cli``) and the ``d2lnets`` command that
gathers them (``main``). The only layer that reads notebooks (nbformat)."""
