"""Local servers, a fault-injecting proxy and a network guard for tests, the demo and
the benchmarks. Nothing here is part of the installed package."""
