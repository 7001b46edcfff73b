"""The BitTorrent tracker: rules (`logic`), policy hooks (`hooks`) and thin network adapters."""
