"""Speed benchmarks run by ``qpt bench speed``."""
