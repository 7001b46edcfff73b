"""User profiles: the public page's facts and badges, the owner's settings, identicons."""
