"""Test support shared by tests/ and bench/: pictures, servers and models for tests and benchmarks."""
