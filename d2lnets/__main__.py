"""``python -m d2lnets``: the ``d2lnets`` command (:mod:`d2lnets.tools.main`)."""
import sys

from .tools.main import main

sys.exit(main())
