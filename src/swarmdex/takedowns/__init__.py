"""Notice-and-takedown: legal notices, staff decisions, counter-notices, transparency."""
