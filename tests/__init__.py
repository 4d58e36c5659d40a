"""Tests for Plex Bridge."""
