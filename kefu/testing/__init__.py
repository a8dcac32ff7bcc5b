"""Test support that ships with the package (like ``trio.testing``): the process kit the
test suite, the drills (``scripts/chaos``) and the benchmarks (``scripts/bench``) share."""
