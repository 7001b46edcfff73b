"""Private community mode: members-only site, invites, passkeys (`tracker_mode = "private"`)."""
