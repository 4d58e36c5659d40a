"""Benchmarks: run on demand with scripts/bench; they print figures (JSON), not verdicts."""
