"""Benchmarks of certops.aws: API calls per task, task overhead against a floor module, all_users fan-out.

Run from the repository root with `.venv/bin/python -m tests.benchmarks.run`; it writes docs/performance.md
and docs/performance/. See docs/performance.md.
"""
