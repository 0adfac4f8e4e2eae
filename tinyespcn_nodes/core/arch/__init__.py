"""Architecture registry."""
