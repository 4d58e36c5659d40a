"""The library mirror: a local SQLite copy of a Plex server's libraries.

Nothing in this package imports Home Assistant (the store, the sync, GUIDs and
paths are plain Python, tested and benchmarked without it). The Home Assistant
runtime that schedules syncs, fires events and raises repairs issues is
``custom_components.plex_bridge.library_mirror.PlexMirror``; it is reachable here
as ``mirror.PlexMirror`` too, imported only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from custom_components.plex_bridge.library_mirror import PlexMirror

__all__ = ["PlexMirror"]


def __getattr__(name: str) -> Any:
    """``PlexMirror`` on first use, so that importing the store never loads HA."""
    if name == "PlexMirror":
        from custom_components.plex_bridge.library_mirror import PlexMirror

        return PlexMirror
    raise AttributeError(name)
