"""The Plex client: plain asyncio on an aiohttp session, no Home Assistant imports."""

from .client import (
    PlexAuthError,
    PlexClient,
    PlexCommandError,
    PlexConnectionError,
    PlexError,
    PlexNotFoundError,
    PlexResponseError,
    PlexUnavailableError,
)
from .models import Device, MediaItem, PlexSession, Section, ServerInfo

__all__ = [
    "Device",
    "MediaItem",
    "PlexAuthError",
    "PlexClient",
    "PlexCommandError",
    "PlexConnectionError",
    "PlexError",
    "PlexNotFoundError",
    "PlexResponseError",
    "PlexSession",
    "PlexUnavailableError",
    "Section",
    "ServerInfo",
]
