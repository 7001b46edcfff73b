"""Full-text search over the catalogue: release-name friendly tokens, a small query language,
ranked and highlighted results.

`tokenize` and `query` are pure Python and shared by every backend, so a title is split the
same way whatever database holds the index; `services` is what the rest of swarmdex calls.
"""
