"""Benchmarks: each prints measurements and a ratio against a ceiling measured in the same run."""
