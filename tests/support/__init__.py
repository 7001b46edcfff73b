"""Code shared by the swarmdex test packages."""
