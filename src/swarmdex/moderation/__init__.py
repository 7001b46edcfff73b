"""Trust and safety: reports from visitors, the moderation queue that resolves them, and bans
(of accounts, and of address ranges).

`services` holds the rules (who may do what, what a resolution changes, what the audit log
records); `models` the tables (migration 0009_moderation).
"""
