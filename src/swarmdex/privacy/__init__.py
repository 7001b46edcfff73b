"""Privacy by default: what swarmdex keeps about people, for how long, and the purge.

- No request log unless the operator turns `access_log` on; then client addresses are
  truncated (`addresses.truncate_ip`) before anything is written, and files are deleted
  after `access_log_retention_days`.
- The tracker keeps peer addresses in memory only (the peer store), never on disk.
- Accounts carry no IP address.
- `purge.purge` deletes what passed its retention: `swarmdex purge`, and daily in the server.
- `facts.statements` says all of this from the live settings, for the /privacy page.
"""
