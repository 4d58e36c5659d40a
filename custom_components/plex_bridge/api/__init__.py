"""The Plex client: plain asyncio on an aiohttp session, no Home Assistant imports."""

from .client import (
    PlexAuthError,
    PlexClient,
    PlexConnectionError,
    PlexError,
    ServerInfo,
)

__all__ = [
    "PlexAuthError",
    "PlexClient",
    "PlexConnectionError",
    "PlexError",
    "ServerInfo",
]
