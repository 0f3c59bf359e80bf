"""Where candidates come from: ``folder``, ``laion``, ``sa1b`` and ``builtin``.

Each source lists cheap :class:`~curate.candidate.Unit` s in the driver and streams the
:class:`~curate.candidate.Candidate` s of one unit inside a worker (never the whole corpus).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from curate.candidate import Candidate, Unit
from curate.params import CurateParams
from curate.sources import folder


def plan(
    params: CurateParams, work_dir: Path, warnings: list[str] | None = None
) -> tuple[list[Unit], list[Candidate]]:
    """Units of work of the configured source, plus candidates settled without a worker.

    Units hold absolute paths, so the manifest's ``uri`` reads back from any directory.

    Args:
        params: curation parameters (``source``, ``path``, ...).
        work_dir: scratch folder of the run (the built-in corpus and LAION joins go there).
        warnings: gets one line per problem that does not stop the run (a LAION threshold
            whose column is absent, an unfinished img2dataset shard).

    Raises:
        FileNotFoundError: missing input.
        ValueError: unusable input (e.g. LAION metadata without a URL column).
    """
    units, settled = _plan_source(params, work_dir.resolve(), warnings)
    for extra in existing_extra_folders(params):
        first = max((u.index for u in units), default=-1) + 1
        units += folder.list_units(
            extra.resolve(), params.unit_size, first_index=first, salt=str(extra)
        )
    return units, settled


def existing_extra_folders(params: CurateParams) -> list[Path]:
    """The ``extra_folders`` that exist (missing ones are reported, not fatal)."""
    return [p for p in params.extra_folders if p.is_dir()]


def _plan_source(
    params: CurateParams, work_dir: Path, warnings: list[str] | None
) -> tuple[list[Unit], list[Candidate]]:
    from curate.sources import laion, sa1b

    if params.source == "builtin":
        from curate.sources.builtin import INDEX_NAME, materialize

        root = materialize(work_dir / "corpus", seed=0, photos=params.builtin_photos)
        return folder.list_units(root, params.unit_size, frozenset({INDEX_NAME})), []
    assert params.path is not None
    if params.source == "folder":
        return folder.list_units(params.path.resolve(), params.unit_size), []
    if params.source == "sa1b":
        return sa1b.list_units(params.path), []
    return laion.prepare(params, work_dir / "laion", warnings)


def iter_unit(unit: Unit) -> Iterator[Candidate]:
    """Stream the candidates of one unit (runs in the worker)."""
    from curate.sources import folder, laion, sa1b

    module = {"folder": folder, "laion": laion, "sa1b": sa1b}[unit.source]
    yield from module.iter_candidates(unit)
