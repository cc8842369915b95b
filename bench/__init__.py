"""Counting, timing, memory, sweeps, the results store and the CLI."""
