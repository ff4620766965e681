"""One module per head family."""
