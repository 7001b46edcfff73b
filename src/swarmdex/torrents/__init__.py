"""Torrents on the site: upload, look up, download, delete (`services`), and the checks on
what uploaders type (`fields`) and send (`forms`)."""
