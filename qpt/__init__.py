"""qpt: the command line and the pipeline runner (thin glue; the science is in the stages)."""

__version__ = "0.1.0"
