"""The library mirror: a local SQLite copy of a Plex server's libraries."""
