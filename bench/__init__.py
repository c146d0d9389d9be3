"""Benchmarks, run on demand (``crda bench ...``), never as timed assertions in tests."""
