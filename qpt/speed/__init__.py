"""Speed benchmarks of every package (``qpt bench speed ...``): each prints ratios against
the alternative measured in the same run."""
