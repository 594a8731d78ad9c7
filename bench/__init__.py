"""Benchmarks: measured against real SQLite files and a real granian node on loopback."""
