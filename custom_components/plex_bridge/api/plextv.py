"""plex.tv: PIN sign-in and the servers an account reaches, on an aiohttp session.

Why our own small client rather than python-plexapi's ``MyPlexPinLogin`` /
``MyPlexAccount.resources()`` / ``MyPlexResource.connect()``
(``test_both_clients_read_the_same_servers`` in tests/api/test_plextv.py runs both
through the emulated plex.tv: they read the same sign-in and the same servers, so
the choice is not about what they can read):

- python-plexapi is synchronous (``requests``): every call would go to the
  executor, and the PIN poll would hold an executor thread for minutes, or need a
  chain of executor jobs, where this client is a few awaited requests on Home
  Assistant's shared aiohttp session (its pool, TLS settings and timeouts).
- Its plex.tv host is written into its classes (``MyPlexAccount.PLEXTV`` and
  friends); it can only be pointed elsewhere at the transport level (a
  ``requests`` adapter), where this client takes ``const.PLEX_TV_URL``.
- ``connect()`` also prefers local over remote over relay, but it opens a
  ``PlexServer`` with the token on every listed address, and an address plex.tv
  still lists may be another machine now (the test
  ``test_plexapi_connect_sends_the_token_to_every_address`` shows it); it also
  waits for the slowest address. api/connections.py asks ``/identity`` without
  the token, checks the machine identifier, and stops as soon as the best answer
  is known.

The token is sent as the ``X-Plex-Token`` header, never in a URL, and never logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
import logging
from typing import Any, Final
from urllib.parse import quote, urlencode

import aiohttp

_LOGGER = logging.getLogger(__name__)

AUTH_APP_URL: Final = "https://app.plex.tv/auth"
"""The page where a person signs in and so claims a PIN."""
PRODUCT: Final = "Plex Bridge"
REQUEST_TIMEOUT: Final = 15.0


class PlexTVError(Exception):
    """Base error of the plex.tv client."""


class PlexTVUnavailableError(PlexTVError):
    """plex.tv could not be reached, or answered with an error or an unreadable body."""


class PlexTVAuthError(PlexTVError):
    """plex.tv refused the token (HTTP 401)."""


class PinExpiredError(PlexTVError):
    """plex.tv no longer knows the PIN (HTTP 404): it expired before anyone claimed it."""


@dataclass(frozen=True, slots=True)
class Pin:
    """A sign-in PIN; ``auth_token`` is set once a person has claimed it."""

    id: int
    code: str
    expires_in: int
    auth_token: str | None


@dataclass(frozen=True, slots=True)
class ResourceConnection:
    """One way plex.tv knows to reach a server."""

    uri: str
    local: bool
    relay: bool

    @property
    def rank(self) -> int:
        """0 for local, 1 for remote, 2 for relay: lower is better."""
        return 2 if self.relay else 0 if self.local else 1


@dataclass(frozen=True, slots=True)
class Resource:
    """A device of the account (owned or shared with it) as plex.tv lists it."""

    name: str
    client_identifier: str
    provides: frozenset[str]
    owned: bool
    source_title: str | None
    """The owner's name for a server shared with the account."""
    access_token: str | None
    """The token for this server (a friend's own token for a shared one)."""
    presence: bool
    connections: tuple[ResourceConnection, ...]

    @property
    def is_server(self) -> bool:
        """Whether this is a Plex Media Server."""
        return "server" in self.provides

    def connections_by_preference(self) -> list[ResourceConnection]:
        """Local, then remote, then relay; plex.tv's own order within each."""
        return sorted(self.connections, key=lambda connection: connection.rank)


def _flag(value: Any) -> bool:
    """plex.tv writes flags as JSON booleans; accept ``1`` / ``"1"`` too."""
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


def parse_resource(raw: Mapping[str, Any]) -> Resource:
    """One entry of ``/api/v2/resources`` (``ValueError`` without an identifier)."""
    identifier = raw.get("clientIdentifier")
    if not isinstance(identifier, str) or not identifier:
        raise ValueError("a resource without clientIdentifier")
    connections = tuple(
        ResourceConnection(
            uri=str(item["uri"]).rstrip("/"),
            local=_flag(item.get("local")),
            relay=_flag(item.get("relay")),
        )
        for item in raw.get("connections") or []
        if isinstance(item, Mapping) and item.get("uri")
    )
    token = raw.get("accessToken")
    source = raw.get("sourceTitle")
    return Resource(
        name=str(raw.get("name") or identifier),
        client_identifier=identifier,
        provides=frozenset(
            part for part in str(raw.get("provides") or "").split(",") if part
        ),
        owned=_flag(raw.get("owned")),
        source_title=str(source) if source else None,
        access_token=str(token) if token else None,
        presence=_flag(raw.get("presence")),
        connections=connections,
    )


class PlexTVClient:
    """The few plex.tv requests sign-in needs: PIN, check PIN, account, resources."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        client_identifier: str,
        base_url: str,
        *,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self._session = session
        self.client_identifier = client_identifier
        # plex.tv: const.PLEX_TV_URL, which tests point at the emulated one.
        self.base_url = base_url.rstrip("/")
        self._timeout = request_timeout

    def auth_url(self, pin: Pin) -> str:
        """The page that signs a person in on ``pin`` (no token in it, only the code)."""
        query = urlencode(
            {
                "clientID": self.client_identifier,
                "code": pin.code,
                "context[device][product]": PRODUCT,
            },
            quote_via=quote,
        )
        return f"{AUTH_APP_URL}#?{query}"

    async def create_pin(self) -> Pin:
        """A new strong PIN for this installation's client identifier."""
        return _parse_pin(
            await self._request("POST", "/api/v2/pins", params={"strong": "true"})
        )

    async def check_pin(self, pin_id: int) -> Pin:
        """The PIN as plex.tv has it now; ``PinExpiredError`` once it has expired."""
        return _parse_pin(await self._request("GET", f"/api/v2/pins/{pin_id}"))

    async def username(self, token: str) -> str | None:
        """The account's name (shown as the owner of its own servers)."""
        user = await self._request("GET", "/api/v2/user", token=token)
        name = user.get("username") or user.get("title")
        return str(name) if name else None

    async def resources(self, token: str) -> list[Resource]:
        """Every device of the account, with https and relay connections included."""
        raw = await self._request(
            "GET",
            "/api/v2/resources",
            params={"includeHttps": "1", "includeRelay": "1"},
            token=token,
        )
        if not isinstance(raw, list):
            raise PlexTVUnavailableError("plex.tv's resources are not a list")
        resources: list[Resource] = []
        for item in raw:
            try:
                resources.append(parse_resource(item))
            except (ValueError, KeyError, TypeError) as err:
                _LOGGER.debug("Skipping a plex.tv resource: %s", err)
        return resources

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> Any:
        headers = {
            "Accept": "application/json",
            "X-Plex-Client-Identifier": self.client_identifier,
            "X-Plex-Product": PRODUCT,
            "X-Plex-Device-Name": "Home Assistant",
            "X-Plex-Platform": "Home Assistant",
        }
        if token is not None:
            headers["X-Plex-Token"] = token
        try:
            async with (
                asyncio.timeout(self._timeout),
                self._session.request(
                    method, f"{self.base_url}{path}", params=params, headers=headers
                ) as response,
            ):
                status = response.status
                # Error bodies are not needed (and not always JSON).
                body = await response.json(content_type=None) if status < 400 else None
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as err:
            raise PlexTVUnavailableError(
                f"plex.tv did not answer {path}: {type(err).__name__}"
            ) from err
        if status == 401:
            raise PlexTVAuthError("plex.tv refused the token")
        if status == 404 and path.startswith("/api/v2/pins/"):
            raise PinExpiredError("the PIN expired")
        if status >= 400:
            raise PlexTVUnavailableError(f"plex.tv answered HTTP {status} to {path}")
        return body


def _parse_pin(raw: Any) -> Pin:
    """A PIN from plex.tv's JSON."""
    try:
        return Pin(
            id=int(raw["id"]),
            code=str(raw["code"]),
            expires_in=int(raw.get("expiresIn") or 0),
            auth_token=str(raw["authToken"]) if raw.get("authToken") else None,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise PlexTVUnavailableError("plex.tv's PIN cannot be read") from err
