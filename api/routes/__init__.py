"""One module per resource of the web service."""
