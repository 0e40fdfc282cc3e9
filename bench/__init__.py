"""Benchmarks: each prints JSON; run them with ``make bench``."""
