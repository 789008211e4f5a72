"""Security checks of the whole portal (issue 11)."""
