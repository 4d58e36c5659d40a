"""Tests of the Plex Media Server emulator itself."""
