"""One module per wire protocol; each registers its own routes on the app."""
