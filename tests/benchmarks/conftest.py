"""Benchmarks are run by `python -m tests.benchmarks.run`, never collected by pytest: timings are no test."""

collect_ignore_glob = ["*"]
