"""Score many files with a :class:`bench.scorer.Scorer`: files, folders, WebDataset shards.

Inputs (:func:`list_inputs`):

* a file: scored whatever its name (an unreadable one gets an error row);
* a folder: every image or video under it, recursively, in sorted order;
* a ``.tar`` shard, or a brace pattern of them (``shards/shard-{000000..000009}.tar``, the
  WebDataset shard-list notation): every image member, named ``SHARD.tar/MEMBER``.

:func:`score_inputs` decodes on a few threads, batches the views of several inputs through
the encoder and yields one :class:`Row` per input in input order; a file that cannot be
decoded yields a row with ``error`` set and never stops the run.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, UnreadableMedia, to_tensor
from bench.scorer import Scorer
from qpt_base.images import UnreadableImage, decode_rgb


@dataclass(frozen=True)
class Input:
    """One thing to score: a file, or ``member`` of the tar ``path``."""

    path: Path
    member: str | None = None

    @property
    def name(self) -> str:
        return str(self.path) if self.member is None else f"{self.path}/{self.member}"


@dataclass(frozen=True)
class Row:
    """One output row: ``score`` is None when ``error`` says why the input was not scored."""

    path: str
    score: float | None
    error: str = ""


def _expand(arg: str) -> list[str]:
    if "{" in arg and ".." in arg:
        import braceexpand

        return list(braceexpand.braceexpand(arg))
    return [arg]


def _tar_members(path: Path) -> list[Input]:
    try:
        with tarfile.open(path) as tar:
            names = [m.name for m in tar.getmembers() if m.isfile()]
    except (tarfile.TarError, OSError) as exc:
        raise ValueError(f"{path}: not a readable tar shard ({exc})") from None
    return [Input(path, n) for n in names if Path(n).suffix.lower() in IMAGE_SUFFIXES]


def list_inputs(args: list[str]) -> list[Input]:
    """Everything ``args`` names (see the module docstring), in order, without duplicates.

    Raises:
        FileNotFoundError: an argument that does not exist.
        ValueError: nothing to score, or a ``.tar`` that is not a tar file.
    """
    found: dict[Input, None] = {}
    for arg in args:
        for item in _expand(arg):
            path = Path(item)
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such file or folder")
            if path.is_dir():
                media = IMAGE_SUFFIXES | VIDEO_SUFFIXES
                for p in sorted(path.rglob("*")):
                    if p.is_file() and p.suffix.lower() in media:
                        found[Input(p)] = None
            elif path.suffix.lower() == ".tar":
                found.update(dict.fromkeys(_tar_members(path)))
            else:
                found[Input(path)] = None
    if not found:
        raise ValueError(f"{' '.join(args)}: no image or video to score")
    return list(found)


class _Reader:
    """Decodes inputs to frames. Tar members are read in the calling thread (a tar file has
    one read position) and decoded in the pool; the current shard stays open."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.tar: tuple[Path, tarfile.TarFile] | None = None

    def raw(self, item: Input) -> bytes | str | None:
        """A member's bytes (or why they cannot be read); None for a plain file."""
        if item.member is None:
            return None
        if self.tar is None or self.tar[0] != item.path:
            self.close()
            self.tar = (item.path, tarfile.open(item.path))
        try:
            handle = self.tar[1].extractfile(item.member)
            return handle.read() if handle is not None else f"{item.name}: not a file"
        except (tarfile.TarError, OSError) as exc:
            return f"{item.name}: {exc}"

    def views(self, item: Input, raw: bytes | str | None) -> torch.Tensor | str:
        """The scorer's views of ``item``, or the reason it cannot be decoded."""
        if isinstance(raw, str):
            return raw
        try:
            if raw is None:
                return self.scorer.views_of(self.scorer.frames_of(item.path))
            return self.scorer.views_of([to_tensor(decode_rgb(raw))])
        except UnreadableImage as exc:
            return f"{item.name}: {exc}"
        except (UnreadableMedia, ValueError) as exc:
            return str(exc)

    def close(self) -> None:
        if self.tar is not None:
            self.tar[1].close()
            self.tar = None


def score_inputs(
    scorer: Scorer,
    inputs: list[Input],
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Row]:
    """One :class:`Row` per input, in order (see the module docstring)."""
    reader = _Reader(scorer)
    chunk = max(scorer.batch_size, 8)
    try:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            for start in range(0, len(inputs), chunk):
                part = inputs[start : start + chunk]
                raws = [reader.raw(item) for item in part]
                loaded = list(pool.map(reader.views, part, raws))
                good = [v for v in loaded if not isinstance(v, str)]
                scores = iter(scorer.score_views(good).tolist())
                for item, views in zip(part, loaded, strict=True):
                    if isinstance(views, str):
                        yield Row(item.name, None, views)
                    else:
                        yield Row(item.name, float(next(scores)))
                if progress:
                    progress(len(part))
    finally:
        reader.close()


def write_rows(rows: list[Row], path: Path) -> None:
    """Write ``path,score,error`` rows as ``.csv``, ``.jsonl`` or ``.parquet`` (atomically).

    Raises:
        ValueError: another suffix.
    """
    import csv
    import io
    import json

    from qpt_base.atomic import atomic_path, atomic_write_text

    suffix = path.suffix.lower()
    records = [{"path": r.path, "score": r.score, "error": r.error} for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["path", "score", "error"], lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "score": "" if r["score"] is None else repr(r["score"])}
                         for r in records)  # fmt: skip
        atomic_write_text(path, buf.getvalue())
    elif suffix == ".jsonl":
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {
                "path": pa.array([r["path"] for r in records], pa.string()),
                "score": pa.array([r["score"] for r in records], pa.float64()),
                "error": pa.array([r["error"] for r in records], pa.string()),
            }
        )
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    else:
        raise ValueError(f"{path}: output must end in .csv, .jsonl or .parquet")
