"""Tests of the Plex client package (``custom_components.plex_bridge.api``)."""
