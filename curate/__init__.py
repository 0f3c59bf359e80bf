"""qpt curation: sources (LAION + img2dataset, SA-1B, folders, built-in) -> filters ->
global dedup -> Parquet manifest -> WebDataset shards.

Entry points: :func:`curate.pipeline.curate`, :func:`curate.shard.write_shards`, the stage
functions in :mod:`curate.stage`, and the ``qpt curate`` / ``qpt shard`` commands.
"""
