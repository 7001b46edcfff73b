"""Interop tests: real BitTorrent clients exchanging files through swarmdex."""
