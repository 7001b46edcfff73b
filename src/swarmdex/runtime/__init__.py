"""Composition of processes: what runs the site and the tracker together."""
