"""Benchmarks that regenerate the project's quality and speed tables."""
