"""News posts: what the site's staff tell its members, published now or at a set time, with
comments under each.

`services` holds the rules (who may write, what the public sees and when); `models` the tables.
"""
