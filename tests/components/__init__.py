"""Tests of the Plex Bridge integration, through Home Assistant."""
