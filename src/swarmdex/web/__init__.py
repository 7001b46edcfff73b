"""What the HTTP port shows besides the tracker endpoints."""
