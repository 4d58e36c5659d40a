"""Constants for Plex Bridge."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "plex_bridge"
LOGGER = logging.getLogger(__package__)

DEFAULT_NAME: Final = "Plex Media Server"
DEFAULT_PORT: Final = 32400
