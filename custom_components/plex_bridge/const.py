"""Constants for Plex Bridge."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "plex_bridge"
LOGGER = logging.getLogger(__package__)

DEFAULT_NAME: Final = "Plex Media Server"
DEFAULT_PORT: Final = 32400

EVENT_PLAYBACK: Final = "plex_bridge_playback"
EVENT_MEDIA: Final = "plex_bridge_media"
EVENT_SYNC_FINISHED: Final = "plex_bridge_sync_finished"
"""A mirror sync ended well: its result (added, updated, removed, ...) and server."""
EVENT_MEDIA_ADDED: Final = "plex_bridge_media_added"
"""One item a mirror sync added to an already mirrored library (never the first sync)."""

# Options (options_flow.py). Each key is read with its default, so an entry made
# before an option existed behaves as the default says.
OPTION_UPDATE_INTERVAL: Final = "update_interval"
DEFAULT_UPDATE_INTERVAL: Final = 10
"""Seconds between polls of sessions, used only while the websocket is down."""
OPTION_MONITORED_USERS: Final = "monitored_users"
"""Account titles whose sessions are shown; empty (the default) means everyone."""
OPTION_IGNORE_PLEX_WEB: Final = "ignore_plex_web"
DEFAULT_IGNORE_PLEX_WEB: Final = False
OPTION_PLAYER_RETENTION: Final = "player_retention"
DEFAULT_PLAYER_RETENTION: Final = 7 * 24 * 60
"""Minutes an unseen player keeps its device and entities."""
OPTION_MIRROR_LIBRARIES: Final = "mirror_libraries"
"""Section keys to mirror; empty (the default) means every library."""
OPTION_PATH_MAPPINGS: Final = "path_mappings"
"""Plex prefix -> local prefix pairs, as a list of ``{"plex": ..., "local": ...}``."""
OPTION_MIRROR_INTERVAL: Final = "mirror_interval"
DEFAULT_MIRROR_INTERVAL: Final = 15
"""Minutes between incremental mirror syncs."""

# Entry data beside url / token / verify_ssl.
CONF_CONNECTIONS: Final = "connections"
"""The server's other URLs (plex.tv's and earlier ones), best first; tried when ``url`` fails."""

PLEX_TV_URL: Final = "https://plex.tv"
"""plex.tv's base URL; the one place it is written (tests point it at the emulator)."""

GDM_TARGETS: list[tuple[str, int]] = [("239.0.0.250", 32414)]
"""Where local discovery searches (GDM's multicast group and port); read at each
scan, so tests point it at loopback (tests/conftest.py does, for every test)."""
GDM_WINDOW: float = 3.0
"""Seconds a discovery scan listens for answers."""

URI_SCHEME: Final = "plex_bridge"
"""Media content ids that browse and search hand out: ``plex_bridge://<server>/<key>``."""
