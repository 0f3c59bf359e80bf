"""qpt curation: sources (LAION + img2dataset, SA-1B, folders, built-in) -> filters ->
global dedup -> Parquet manifest -> WebDataset shards.

Entry points: :func:`curate.pipeline.curate`, :func:`curate.shard.write_shards` and their
parameters in :mod:`curate.params` (the tables of the ``curate`` / ``shard`` stages of ``qpt``).
"""
