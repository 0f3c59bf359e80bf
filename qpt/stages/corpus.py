"""Stage ``corpus``: materialise the built-in corpus and show what is in it.

Example ``pipelines.toml`` table::

    [[pipeline.demo.stage]]
    kind = "corpus"
    sheet = true                # corpus.png: one example of every kind of file
"""

from __future__ import annotations

from curate.sources.corpus import CorpusParams
from qpt.stage import StageContext

__all__ = ["CorpusParams", "run_corpus"]


def run_corpus(ctx: StageContext, params: CorpusParams) -> dict:
    """Write ``ctx.out_dir/images`` (the corpus) and return counts per kind of file."""
    from curate.sources.builtin import materialize
    from curate.sources.corpus import describe_corpus

    seed = ctx.seed if params.seed is None else params.seed
    root = materialize(ctx.out_dir / "images", seed=seed)
    return describe_corpus(root, ctx.out_dir / "corpus.png" if params.sheet else None)
