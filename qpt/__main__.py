"""``python -m qpt`` is the ``qpt`` command.

``python -m`` puts the working directory first on ``sys.path``, so a user's own ``train.py``
or ``bench.py`` there would shadow qpt's packages of the same name. The working directory is
taken off again unless qpt itself was found there (a source checkout run from its root).
"""

import sys
from pathlib import Path


def _without_working_directory(path: list[str]) -> list[str]:
    cwd = Path.cwd().resolve()
    if Path(__file__).resolve().parents[1] == cwd:
        return path
    return [p for p in path if Path(p or ".").resolve() != cwd]


sys.path[:] = _without_working_directory(sys.path)

from qpt.cli import main  # noqa: E402  (after the path is fixed)

sys.exit(main())
