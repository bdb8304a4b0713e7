"""Benchmarks that run outside the test suite (``make bench-lookup``); see bench/README.md."""
