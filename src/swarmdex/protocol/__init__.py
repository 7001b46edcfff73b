"""Sans-IO tracker wire formats: pure functions of bytes plus explicit context.

Nothing here opens a socket, reads a clock or logs: callers pass `now`, keys, addresses and
limits. The same code is the server in swarmdex and the client in tests and benchmarks.
"""
