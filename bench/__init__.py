"""Benchmark of classiclink.mirror against the amazon.aws way (not part of the test suite).

Run from the repository root: ``.venv/bin/python -m bench.run --help``.
"""
