"""The site's mode (open, read-only, closed) and its notice, the banner every page shows.

Both are admin settings kept in `site_settings` and in each process's in-memory copy
(`swarmdex.sitecfg.services`), so a change from the admin page or the CLI takes effect
within `REFRESH_SECONDS` without a restart, and the tracker reads the mode without a query.
"""
