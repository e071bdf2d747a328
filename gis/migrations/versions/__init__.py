"""Revisions of commgrid's schema; a package only so that they ship with commgrid."""
