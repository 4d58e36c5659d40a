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

# Options (the options flow arrives with the setup-journeys issue; these are read now).
OPTION_UPDATE_INTERVAL: Final = "update_interval"
DEFAULT_UPDATE_INTERVAL: Final = 10
"""Seconds between polls of sessions, used only while the websocket is down."""

URI_SCHEME: Final = "plex_bridge"
"""Media content ids that browse and search hand out: ``plex_bridge://<server>/<key>``."""
