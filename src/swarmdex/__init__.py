"""swarmdex: a self-hosted BitTorrent community site with a built-in tracker."""

__version__ = "0.1.0"
