"""Benchmarks of the conformance suite and its harness (issue 17); `bench/run.py` runs them all.

A package so that `pytest -p bench.phaseclock` can load the phase clock into a suite run, and so the
measures import each other as `bench.<module>`. Nothing here is imported by harness/, tests/ or suites/.
"""
