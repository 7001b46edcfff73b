"""The audit log: what staff did, to what, when, and what it was before and after."""
