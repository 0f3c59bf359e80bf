"""``python -m qpt`` is the ``qpt`` command."""

import sys

from qpt.cli import main

sys.exit(main())
