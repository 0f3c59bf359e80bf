"""The corpus stage's library side: counts per kind of file and the contact sheet."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from curate.sources.builtin import materialize
from curate.sources.corpus import describe_corpus


def test_counts_match_the_provenance_file_and_the_sheet_is_written(tmp_path: Path) -> None:
    root = materialize(tmp_path / "images", seed=0, photos=["coffee"])
    summary = describe_corpus(root, tmp_path / "corpus.png")
    entries = json.loads((root / "corpus.json").read_text())["files"]
    assert summary["files"] == len(entries) and summary["photos"] == 1
    kinds = {k.removeprefix("kind."): v for k, v in summary.items() if k.startswith("kind.")}
    assert kinds == dict(Counter(e["kind"] for e in entries)) and len(kinds) > 3
    assert (tmp_path / "corpus.png").stat().st_size > 0
