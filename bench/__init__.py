"""Benchmarks (`make bench`): figures are ratios against a peer measured in the same run."""
