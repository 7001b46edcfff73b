"""Comments under torrents: Markdown written by members, edited briefly, removed when needed.

`services` holds the rules (who may edit or remove what, and when); `models` the table.
"""
