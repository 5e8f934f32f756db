"""Helpers shared by test suites and benchmarks (real external processes, started and cleaned up)."""
