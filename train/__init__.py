"""MIM pretraining for quality-aware backbones (QPT V2): models, shard streaming, engine, DDP.

* :mod:`train.models`: HiViT / ViT encoders and their MAEs in the authors' layouts, qpt's
  variants with the MSFF decoder input, and the score head, registered by name
  (``create_model``, ``create_backbone``, ``list_models``).
* :mod:`train.checkpoint`: safetensors checkpoints, resume, export and ``load_backbone``.
* :mod:`train.convert` (+ :mod:`train.keymap`): other projects' weights <-> qpt; and
  :mod:`train.init`: ``pretrain --init`` from a converted or exported folder.
* :mod:`train.data`: WebDataset shard streaming (resampled, split by rank and worker).
* :mod:`train.engine`: ``pretrain()``, built from :mod:`train.optim` (AdamW, warm-up +
  cosine), :mod:`train.trainer` (one step: accumulation, AMP, DDP), :mod:`train.loop` (the
  resumable loop) and :mod:`train.metrics` (``metrics.jsonl``, progress bar).
* :mod:`train.config`: the parameters of a run (the ``pretrain`` stage's table).
"""
