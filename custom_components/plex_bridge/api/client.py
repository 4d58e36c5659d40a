"""A small async client for the Plex Media Server HTTP API.

It asks for JSON (``Accept: application/json``) and sends the token in the
``X-Plex-Token`` header, never in the URL, so the token cannot leak through logged
or displayed URLs. Today it knows one request, the server's identity, which the
config flow and setup use to test a connection; the core issue grows it (paging,
retries with backoff, circuit breaker).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp

REQUEST_TIMEOUT = 10


class PlexError(Exception):
    """Base error of the Plex client."""


class PlexConnectionError(PlexError):
    """The server could not be reached or answered with something unusable."""


class PlexAuthError(PlexError):
    """The server refused the token (HTTP 401)."""


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Who a Plex Media Server says it is (its root endpoint, ``/``)."""

    machine_identifier: str
    friendly_name: str
    version: str
    platform: str | None = None


class PlexClient:
    """Talks to one Plex Media Server over a shared aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self._session = session
        self.url = url.rstrip("/")
        self._token = token

    async def _get_json(self, path: str) -> dict[str, Any]:
        headers = {"Accept": "application/json", "X-Plex-Token": self._token}
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                async with self._session.get(
                    f"{self.url}{path}", headers=headers
                ) as response:
                    if response.status == 401:
                        raise PlexAuthError("the server refused the token")
                    response.raise_for_status()
                    data = await response.json(content_type=None)
        except PlexAuthError:
            raise
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            raise PlexConnectionError(f"{type(err).__name__} from {path}") from err
        container = data.get("MediaContainer") if isinstance(data, dict) else None
        if not isinstance(container, dict):
            raise PlexConnectionError(f"no MediaContainer in the answer to {path}")
        return container

    async def server_info(self) -> ServerInfo:
        """Read the server's identity; raises PlexAuthError or PlexConnectionError."""
        container = await self._get_json("/")
        machine_identifier = container.get("machineIdentifier")
        if not machine_identifier:
            raise PlexConnectionError("the server did not say its machineIdentifier")
        return ServerInfo(
            machine_identifier=str(machine_identifier),
            friendly_name=str(container.get("friendlyName") or machine_identifier),
            version=str(container.get("version", "")),
            platform=container.get("platform"),
        )
