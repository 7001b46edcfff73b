"""Donations: campaigns with a goal and their running costs, the ledger of money received,
the donor wall, and the payment provider's webhook.

`money` parses and formats exact amounts (never floats), `webhook` checks signed payment
notifications without any I/O, `services` holds the rules and `models` the tables.
"""
