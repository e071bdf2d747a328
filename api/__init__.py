"""commgrid package."""
