"""``python -m d2lnets.train RECIPE ...`` (and under torchrun): kept for this release; the command is
``d2lnets train`` (:mod:`d2lnets.tools.train_cli`)."""
import sys

from ..tools.train_cli import train_main

sys.exit(train_main())
