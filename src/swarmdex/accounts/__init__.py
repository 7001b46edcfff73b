"""Accounts: users, passwords, browser sessions and API tokens (`services`)."""
