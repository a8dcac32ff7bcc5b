"""Benchmarks: load generators that drive the real server over real WebSockets."""
