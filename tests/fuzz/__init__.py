"""Coverage-guided fuzzing of the parsers that read untrusted bytes (see bench/README.md)."""
