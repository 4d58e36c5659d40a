"""A small async client for the Plex Media Server HTTP API.

- It asks for JSON (``Accept: application/json``) and decodes it with orjson; a
  server (or a proxy in front of it) that answers XML anyway is understood too: the
  content type decides, and both forms become the same models (``models.py``).
- The token goes only in the ``X-Plex-Token`` header, never in a URL, so no logged or
  displayed URL can carry it. Error messages name the path, never the query.
- Every request has a timeout. Idempotent requests (GET) are retried on connection
  errors and 5xx answers, with exponential backoff and full jitter; commands are not.
- A circuit breaker (``breaker.py``) opens after repeated failures, so a server that
  is down costs one probe per cool-down instead of a storm of requests.
- A TTL cache (``cache.py``) keeps what changes rarely: the server's identity for an
  hour, sections and counts for 5 minutes, searches for a minute. The owner of the
  client invalidates it when notifications say the library changed.
- At most ``max_in_flight`` requests run at once per server, on the session's
  kept-alive connections.
- Player commands go through the server with ``X-Plex-Target-Client-Identifier`` and
  a rising ``commandID``, as Plex's own apps do.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
import logging
import random
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import orjson

from .breaker import CircuitBreaker, CircuitOpenError
from .cache import TTLCache
from .models import (
    Account,
    Container,
    Device,
    DirectoryEntry,
    HistoryEntry,
    Hub,
    MediaItem,
    MediaStream,
    Page,
    PlayQueue,
    PlexSession,
    Section,
    ServerInfo,
    SystemDevice,
    UpdateStatus,
    as_int,
    children,
    parse_accounts,
    parse_clients,
    parse_devices,
    parse_directories,
    parse_history,
    parse_hubs,
    parse_item,
    parse_item_streams,
    parse_items,
    parse_page,
    parse_play_queue,
    parse_sections,
    parse_server_info,
    parse_sessions,
    parse_update_status,
    xml_to_container,
)

_LOGGER = logging.getLogger(__name__)

REQUEST_TIMEOUT: Final = 10.0
MAX_IN_FLIGHT: Final = 4
RETRIES: Final = 2
BACKOFF_BASE: Final = 0.25
BACKOFF_MAX: Final = 4.0

PRODUCT: Final = "Plex Bridge"
PRODUCT_VERSION: Final = "0.2.0"

# How long each kind of answer is kept (seconds); see the module docstring.
TTL_IDENTITY: Final = 3600.0
TTL_SECTIONS: Final = 300.0
TTL_COUNTS: Final = 300.0
TTL_LISTS: Final = 300.0
TTL_SEARCH: Final = 60.0

# Cache namespaces that a change of the library's content makes stale.
CONTENT_NAMESPACES: Final = ("counts", "recently_added", "on_deck", "search", "browse")
# ... and those a finished library scan makes stale as well.
SCAN_NAMESPACES: Final = ("sections", *CONTENT_NAMESPACES)

# Plex's numeric item types (``type=`` of library queries).
ITEM_TYPES: Final = {
    "movie": 1,
    "show": 2,
    "season": 3,
    "episode": 4,
    "artist": 8,
    "album": 9,
    "track": 10,
    "photoalbum": 14,
    "photo": 13,
    "clip": 12,
    "playlist": 15,
    "collection": 18,
}
# What kind of play queue each item type goes into.
QUEUE_TYPES: Final = {
    "movie": "video",
    "show": "video",
    "season": "video",
    "episode": "video",
    "clip": "video",
    "artist": "audio",
    "album": "audio",
    "track": "audio",
    "photo": "photo",
    "photoalbum": "photo",
}
# The command type Plex players expect for each queue type.
COMMAND_TYPES: Final = {"video": "video", "audio": "music", "photo": "photo"}


class PlexError(Exception):
    """Base error of the Plex client."""


class PlexAuthError(PlexError):
    """The server refused the token (HTTP 401)."""


class PlexNotFoundError(PlexError):
    """The server has no such thing (HTTP 404)."""


class PlexUnavailableError(PlexError):
    """The server cannot be used right now (base of the two errors below)."""


class PlexConnectionError(PlexUnavailableError):
    """The server could not be reached: refused, unreachable, timed out, breaker open."""


class PlexResponseError(PlexUnavailableError):
    """The server answered, but with a 5xx or a body that cannot be read."""


class PlexMalformedError(PlexResponseError):
    """The server answered 2xx, but the body broke off or cannot be read.

    Truncated, not JSON or XML, or no ``MediaContainer`` (a proxy's or a captive
    portal's page, for instance). Unlike a 5xx or a connection error this does not
    say the server is down: the sessions coordinator keeps its last good state.
    """


class PlexCommandError(PlexError):
    """A player refused or could not carry out a command (4xx from ``/player``)."""


type JsonDecoder = Callable[[bytes], Any]
"""Decodes a JSON body (``ValueError`` if it is not JSON): ``orjson.loads`` by default."""


def _decode(
    body: bytes, content_type: str, json_decoder: JsonDecoder | None = None
) -> Container:
    """The ``MediaContainer`` of a body, JSON or XML (``ValueError`` if neither)."""
    text = body.strip()
    # Plex for Android (TV) and Plexamp answer a proxied command with a bare "OK".
    if not text or text == b"OK":
        return {}
    if "xml" in content_type or (
        not content_type.endswith("json") and text[:1] == b"<"
    ):
        return xml_to_container(text)
    data = (orjson.loads if json_decoder is None else json_decoder)(text)
    container = data.get("MediaContainer") if isinstance(data, dict) else None
    if not isinstance(container, dict):
        raise ValueError("no MediaContainer in the answer")  # noqa: TRY004 - a parse error
    return container


def _container_reader(
    path: str, json_decoder: JsonDecoder | None = None
) -> Callable[[bytes, str], Container]:
    """Decodes an answer of ``path`` (``PlexMalformedError`` if it cannot)."""

    def read(body: bytes, content_type: str) -> Container:
        try:
            return _decode(body, content_type, json_decoder)
        except ValueError as err:
            raise PlexMalformedError(f"unreadable answer from {path}: {err}") from err

    return read


class RawPage:
    """One page of a listing as it came (``PlexClient.section_page``), not decoded yet.

    A decoded page of a thousand items is some ten times its body, and thousands of
    objects for Python's garbage collector to scan at each collection while it waits.
    A full sync keeps the pages it fetched ahead as bodies and decodes each when its
    turn to be written comes.
    """

    __slots__ = ("_body", "_content_type", "_json_decoder", "_path")

    def __init__(
        self,
        body: bytes,
        content_type: str,
        path: str,
        json_decoder: JsonDecoder | None = None,
    ) -> None:
        self._body = body
        self._content_type = content_type
        self._path = path
        self._json_decoder = json_decoder

    def decode(self) -> tuple[list[dict[str, Any]], int]:
        """The items and the ``totalSize``, as ``section_metadata`` gives them.

        Raises ``PlexMalformedError`` for a body that is not JSON or XML (read the
        page again through ``section_metadata``, which retries).
        """
        read = _container_reader(self._path, self._json_decoder)
        return _listing(read(self._body, self._content_type))


@dataclass(frozen=True, slots=True)
class ListingShape:
    """Which attributes and child elements of each item a listing asks for.

    Plex's response customization (its API reference, "Response Customization"):
    ``includeFields`` keeps only the named attributes of each item,
    ``excludeElements`` leaves the named child elements off. Plex treats both as
    requests, not guarantees (an older server, or another endpoint, may send the
    whole items), so a caller reads what it asked for and ignores the rest.
    """

    include_fields: tuple[str, ...] = ()
    exclude_elements: tuple[str, ...] = ()

    def params(self) -> dict[str, str]:
        """The query arguments."""
        params = {}
        if self.include_fields:
            params["includeFields"] = ",".join(self.include_fields)
        if self.exclude_elements:
            params["excludeElements"] = ",".join(self.exclude_elements)
        return params


ITEM_ELEMENTS: Final = (
    "Media",
    "Genre",
    "Country",
    "Director",
    "Writer",
    "Producer",
    "Role",
    "Collection",
    "Label",
    "Mood",
    "Style",
    "Guid",
    "Image",
    "UltraBlurColors",
)
"""The child elements a listing's items can carry (``ListingShape.exclude_elements``
of a read that wants attributes only)."""


def _listing_request(
    section_key: str,
    plex_type: int,
    start: int,
    size: int,
    *,
    filters: Mapping[str, str | int] | None,
    sort: str | None,
    guids: bool,
    shape: ListingShape | None = None,
) -> tuple[str, dict[str, str | int]]:
    """The path and query of one page of ``/library/sections/{id}/all``."""
    params: dict[str, str | int] = {
        "type": plex_type,
        "X-Plex-Container-Start": start,
        "X-Plex-Container-Size": size,
        **(filters or {}),
    }
    if guids:
        params["includeGuids"] = 1
    if sort is not None:
        params["sort"] = sort
    if shape is not None:
        params |= shape.params()
    return f"/library/sections/{section_key}/all", params


def _listing(container: Container) -> tuple[list[dict[str, Any]], int]:
    """A listing's items and its ``totalSize`` (their number when it has none)."""
    items = children(container, "Metadata")
    total = as_int(container.get("totalSize"))
    return items, len(items) if total is None else total


class PlexClient:
    """Talks to one Plex Media Server over a shared aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        token: str,
        *,
        client_identifier: str = "plex-bridge",
        cache: TTLCache | None = None,
        breaker: CircuitBreaker | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        timeout: float = REQUEST_TIMEOUT,
        retries: int = RETRIES,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._session = session
        self.url = url.rstrip("/")
        self._token = token
        self.client_identifier = client_identifier
        self.cache = cache if cache is not None else TTLCache()
        self.breaker = breaker if breaker is not None else CircuitBreaker()
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._timeout = timeout
        self._retries = retries
        self._jitter = jitter
        self._command_id = 0
        self.request_counts: Counter[str] = Counter()
        self.machine_identifier: str | None = None

    # -- plumbing ------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The token, for the few callers that must hand it on (never logged)."""
        return self._token

    @property
    def requests_made(self) -> int:
        """How many HTTP requests this client has sent."""
        return sum(self.request_counts.values())

    def headers(self, *, json: bool = True) -> dict[str, str]:
        """The headers every request carries (the token among them)."""
        headers = {
            "X-Plex-Token": self._token,
            "X-Plex-Client-Identifier": self.client_identifier,
            "X-Plex-Product": PRODUCT,
            "X-Plex-Version": PRODUCT_VERSION,
            "X-Plex-Device-Name": "Home Assistant",
            "X-Plex-Platform": "Home Assistant",
        }
        if json:
            headers["Accept"] = "application/json"
        return headers

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        json_decoder: JsonDecoder | None = None,
    ) -> Container:
        """Send a request and return its ``MediaContainer`` (``{}`` for an empty body).

        ``retry`` defaults to ``True`` for GET only. ``json_decoder`` decodes a JSON
        body instead of ``orjson.loads`` (the mirror's keeps only what it stores).
        Raises the errors above.
        """
        return await self._retrying(
            method,
            path,
            params,
            headers=headers,
            retry=retry,
            read=_container_reader(path, json_decoder),
        )

    async def _retrying[T](
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        *,
        headers: Mapping[str, str] | None,
        retry: bool | None,
        read: Callable[[bytes, str], T],
    ) -> T:
        """``read(body, content_type)`` of the answer, with ``request``'s retries."""
        attempts = 1 + (
            self._retries if (method == "GET" if retry is None else retry) else 0
        )
        for attempt in range(attempts):
            try:
                return read(*await self._send_once(method, path, params, headers))
            except (PlexConnectionError, PlexResponseError) as err:
                if attempt + 1 >= attempts or isinstance(
                    err.__cause__, CircuitOpenError
                ):
                    raise
                delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt) * self._jitter()
                _LOGGER.debug("Retrying %s %s in %.2f s: %s", method, path, delay, err)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        extra_headers: Mapping[str, str] | None,
    ) -> tuple[bytes, str]:
        """One attempt: the body and its content type (lower case) of a 2xx/3xx answer."""
        try:
            self.breaker.before_request()
        except CircuitOpenError as err:
            raise PlexConnectionError(
                f"the server is not answering; next try in {err.retry_after:.0f} s"
            ) from err
        headers = self.headers()
        if extra_headers:
            headers.update(extra_headers)
        query = {name: str(value) for name, value in (params or {}).items()}
        self.request_counts[path.split("?", 1)[0]] += 1
        try:
            async with (
                self._in_flight,
                asyncio.timeout(self._timeout),
                self._session.request(
                    method, f"{self.url}{path}", params=query, headers=headers
                ) as response,
            ):
                status = response.status
                content_type = response.headers.get("Content-Type", "")
                body = await response.read()
        except aiohttp.ClientPayloadError as err:
            # The server answered, but the body broke off (a truncated answer).
            self.breaker.record_failure()
            raise PlexMalformedError(f"incomplete answer from {path}") from err
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            self.breaker.record_failure()
            raise PlexConnectionError(f"{type(err).__name__} from {path}") from err
        if status >= 500:
            self.breaker.record_failure()
            raise PlexResponseError(f"HTTP {status} from {path}")
        self.breaker.record_success()
        if status == 401:
            raise PlexAuthError("the server refused the token")
        if status == 404:
            raise PlexNotFoundError(f"HTTP 404 from {path}")
        if status >= 400:
            raise PlexCommandError(f"HTTP {status} from {path}")
        return body, content_type.lower()

    async def _get(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        json_decoder: JsonDecoder | None = None,
    ) -> Container:
        return await self.request("GET", path, params, json_decoder=json_decoder)

    def _cached[T](
        self, key: tuple[Any, ...], ttl: float, fetch: Callable[[], Awaitable[T]]
    ) -> Awaitable[T]:
        return self.cache.get_or_fetch(key, ttl, fetch)

    def invalidate_content(self, *, scan: bool = False) -> None:
        """Forget cached lists after the library changed (and sections after a scan)."""
        self.cache.invalidate(*(SCAN_NAMESPACES if scan else CONTENT_NAMESPACES))

    # -- the server --------------------------------------------------------------------

    async def server_info(self, *, cached: bool = False) -> ServerInfo:
        """The server's identity (``/``); ``cached`` keeps it for an hour."""

        async def fetch() -> ServerInfo:
            try:
                info = parse_server_info(await self._get("/"))
            except ValueError as err:
                raise PlexResponseError(str(err)) from err
            self.machine_identifier = info.machine_identifier
            return info

        if not cached:
            return await fetch()
        return await self._cached(("identity",), TTL_IDENTITY, fetch)

    async def clients(self, *, retry: bool = True) -> list[Device]:
        """The players the server can see right now (``/clients``)."""
        return parse_clients(await self.request("GET", "/clients", retry=retry))

    async def devices(self) -> list[SystemDevice]:
        """The devices the server has seen (``/devices``), which history names by id."""
        return parse_devices(await self._get("/devices"))

    async def accounts(self) -> list[Account]:
        """The server's accounts (``/accounts``)."""
        return parse_accounts(await self._get("/accounts"))

    async def update_status(self) -> UpdateStatus:
        """``/updater/status``: the newest release the server knows of."""
        return parse_update_status(await self._get("/updater/status"))

    # -- sessions ----------------------------------------------------------------------

    async def sessions(self, *, retry: bool = True) -> list[PlexSession]:
        """The live sessions (``/status/sessions``).

        A poll passes ``retry=False``: the next poll is its retry, and retrying
        inside it would only multiply the load on a struggling server.
        """
        return parse_sessions(
            await self.request("GET", "/status/sessions", retry=retry)
        )

    async def terminate_session(self, session_id: str, reason: str) -> None:
        """Stop a session, showing ``reason`` to the viewer."""
        await self.request(
            "GET",
            "/status/sessions/terminate",
            {"sessionId": session_id, "reason": reason},
            retry=False,
        )

    async def history(
        self,
        *,
        account_id: str | None = None,
        device_id: str | None = None,
        limit: int = 20,
    ) -> list[HistoryEntry]:
        """The latest plays, newest first, optionally of one account or device."""
        params: dict[str, str | int] = {
            "sort": "viewedAt:desc",
            "X-Plex-Container-Start": 0,
            "X-Plex-Container-Size": limit,
        }
        if account_id is not None:
            params["accountID"] = account_id
        if device_id is not None:
            params["deviceID"] = device_id
        return parse_history(await self._get("/status/sessions/history/all", params))

    # -- the library -------------------------------------------------------------------

    async def sections(self) -> list[Section]:
        """The library sections, kept for 5 minutes."""

        async def fetch() -> list[Section]:
            return parse_sections(await self._get("/library/sections"))

        return await self._cached(("sections",), TTL_SECTIONS, fetch)

    async def section_count(
        self, section_key: str, item_type: str | None = None
    ) -> int:
        """How many items (of one type) a section has, without fetching any."""

        async def fetch() -> int:
            params: dict[str, str | int] = {
                "X-Plex-Container-Start": 0,
                "X-Plex-Container-Size": 0,
            }
            if item_type is not None:
                params["type"] = ITEM_TYPES[item_type]
            container = await self._get(f"/library/sections/{section_key}/all", params)
            return as_int(container.get("totalSize")) or 0

        return await self._cached(("counts", section_key, item_type), TTL_COUNTS, fetch)

    async def recently_added(
        self, section_key: str | None = None, limit: int = 10
    ) -> list[MediaItem]:
        """The newest items of the library (or of one section), kept for 5 minutes."""

        async def fetch() -> list[MediaItem]:
            path = (
                f"/library/sections/{section_key}/recentlyAdded"
                if section_key
                else "/library/recentlyAdded"
            )
            params = {"X-Plex-Container-Start": 0, "X-Plex-Container-Size": limit}
            return parse_page(await self._get(path, params)).items

        return await self._cached(
            ("recently_added", section_key, limit), TTL_LISTS, fetch
        )

    async def on_deck(
        self, section_key: str | None = None, limit: int = 10
    ) -> list[MediaItem]:
        """What to watch next (On Deck), kept for 5 minutes."""

        async def fetch() -> list[MediaItem]:
            path = (
                f"/library/sections/{section_key}/onDeck"
                if section_key
                else "/library/onDeck"
            )
            params = {"X-Plex-Container-Start": 0, "X-Plex-Container-Size": limit}
            return parse_page(await self._get(path, params)).items

        return await self._cached(("on_deck", section_key, limit), TTL_LISTS, fetch)

    async def search(
        self, query: str, *, limit: int = 10, section_id: str | None = None
    ) -> list[Hub]:
        """The server's own search (``/hubs/search``), kept for a minute."""

        async def fetch() -> list[Hub]:
            params: dict[str, str | int] = {"query": query, "limit": limit}
            if section_id is not None:
                params["sectionId"] = section_id
            return parse_hubs(await self._get("/hubs/search", params))

        return await self._cached(
            ("search", query, limit, section_id), TTL_SEARCH, fetch
        )

    async def item(self, rating_key: str) -> MediaItem:
        """One item by its rating key (``PlexNotFoundError`` if there is none)."""
        container = await self._get(f"/library/metadata/{quote(rating_key, safe='')}")
        items = parse_items(children(container, "Metadata"))
        if not items:
            raise PlexNotFoundError(f"no item {rating_key}")
        return items[0]

    async def item_streams(self, rating_key: str) -> list[MediaStream]:
        """The video, audio and subtitle streams of an item's first file."""
        container = await self._get(f"/library/metadata/{quote(rating_key, safe='')}")
        return parse_item_streams(container)

    async def children(self, rating_key: str) -> list[MediaItem]:
        """An item's children: a show's seasons, a season's episodes, an album's tracks."""
        container = await self._get(
            f"/library/metadata/{quote(rating_key, safe='')}/children"
        )
        return parse_items(children(container, "Metadata"))

    async def section_items(
        self,
        section_key: str,
        *,
        start: int = 0,
        size: int = 100,
        item_type: str | None = None,
        filters: Mapping[str, str] | None = None,
        sort: str | None = None,
    ) -> Page:
        """One page of a section's items, optionally filtered and sorted."""
        params: dict[str, str | int] = {
            "X-Plex-Container-Start": start,
            "X-Plex-Container-Size": size,
            **(filters or {}),
        }
        if item_type is not None:
            params["type"] = ITEM_TYPES[item_type]
        if sort is not None:
            params["sort"] = sort
        return parse_page(
            await self._get(f"/library/sections/{section_key}/all", params)
        )

    async def section_directories(
        self, section_key: str, field: str
    ) -> list[DirectoryEntry]:
        """A section's values of a field: ``firstCharacter``, ``genre``, ``decade`` ..."""

        async def fetch() -> list[DirectoryEntry]:
            container = await self._get(f"/library/sections/{section_key}/{field}")
            return parse_directories(container)

        return await self._cached(("browse", section_key, field), TTL_LISTS, fetch)

    async def collections(self, section_key: str) -> list[MediaItem]:
        """A section's collections."""
        container = await self._get(f"/library/sections/{section_key}/collections")
        return parse_items(children(container, "Metadata"))

    async def collection_items(self, rating_key: str) -> list[MediaItem]:
        """The items of a collection."""
        container = await self._get(f"/library/collections/{rating_key}/children")
        return parse_items(children(container, "Metadata"))

    async def playlists(self) -> list[MediaItem]:
        """Every playlist."""
        return parse_items(children(await self._get("/playlists"), "Metadata"))

    async def playlist_items(self, rating_key: str) -> list[MediaItem]:
        """The items of a playlist."""
        container = await self._get(f"/playlists/{quote(rating_key, safe='')}/items")
        return parse_items(children(container, "Metadata"))

    async def refresh_section(self, section_key: str) -> None:
        """Ask the server to scan a section for new files."""
        await self.request(
            "GET", f"/library/sections/{section_key}/refresh", retry=False
        )

    async def mark_watched(self, rating_key: str) -> None:
        """Mark an item (and, for a show or season, its episodes) as watched."""
        await self.request(
            "GET",
            "/:/scrobble",
            {"key": rating_key, "identifier": "com.plexapp.plugins.library"},
            retry=False,
        )
        self.invalidate_content()

    async def mark_unwatched(self, rating_key: str) -> None:
        """Mark an item as not watched."""
        await self.request(
            "GET",
            "/:/unscrobble",
            {"key": rating_key, "identifier": "com.plexapp.plugins.library"},
            retry=False,
        )
        self.invalidate_content()

    async def image(self, path: str) -> tuple[bytes, str]:
        """An image the server serves (``thumb``/``art`` paths), with its content type."""
        if not path.startswith("/"):
            raise PlexNotFoundError("only the server's own images are fetched")
        try:
            self.breaker.before_request()
        except CircuitOpenError as err:
            raise PlexConnectionError("the server is not answering") from err
        self.request_counts["image"] += 1
        try:
            async with (
                self._in_flight,
                asyncio.timeout(self._timeout),
                self._session.get(
                    f"{self.url}{path}", headers=self.headers(json=False)
                ) as response,
            ):
                if response.status == 401:
                    raise PlexAuthError("the server refused the token")
                if response.status >= 400:
                    raise PlexNotFoundError(f"HTTP {response.status} for an image")
                content_type = response.headers.get("Content-Type", "image/jpeg")
                return await response.read(), content_type
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise PlexConnectionError(f"{type(err).__name__} for an image") from err

    # -- playback ----------------------------------------------------------------------

    def _next_command_id(self) -> int:
        self._command_id += 1
        return self._command_id

    async def command(
        self,
        client_identifier: str,
        command: str,
        params: Mapping[str, str | int] | None = None,
        *,
        controller: str = "playback",
    ) -> None:
        """Send ``/player/<controller>/<command>`` to a player through the server."""
        query: dict[str, str | int] = {
            **(params or {}),
            "commandID": self._next_command_id(),
        }
        await self.request(
            "GET",
            f"/player/{controller}/{command}",
            query,
            headers={"X-Plex-Target-Client-Identifier": client_identifier},
            retry=False,
        )

    async def create_play_queue(
        self,
        item: MediaItem,
        *,
        shuffle: bool = False,
        continuous: bool = False,
    ) -> PlayQueue:
        """A play queue for an item (a playlist's own queue for a playlist)."""
        params: dict[str, str | int] = {
            "type": self._queue_type(item),
            "shuffle": int(shuffle),
            "repeat": 0,
            "continuous": int(continuous),
            "own": 1,
        }
        if item.type == "playlist":
            params["playlistID"] = item.rating_key
        else:
            server = (
                self.machine_identifier
                or (await self.server_info(cached=True)).machine_identifier
            )
            params["uri"] = (
                f"server://{server}/com.plexapp.plugins.library"
                f"/library/metadata/{item.rating_key}"
            )
        container = await self.request("POST", "/playQueues", params, retry=False)
        try:
            return parse_play_queue(container)
        except ValueError as err:
            raise PlexResponseError(str(err)) from err

    @staticmethod
    def _queue_type(item: MediaItem) -> str:
        if item.type == "playlist":
            return {"audio": "audio", "photo": "photo"}.get(
                item.playlist_type or "", "video"
            )
        return QUEUE_TYPES.get(item.type, "video")

    async def play_media(
        self,
        client_identifier: str,
        item: MediaItem,
        *,
        offset_ms: int = 0,
        shuffle: bool = False,
    ) -> PlayQueue:
        """Make a play queue for ``item`` and start it on a player."""
        queue = await self.create_play_queue(
            item, shuffle=shuffle, continuous=item.type == "episode"
        )
        queue_type = self._queue_type(item)
        key = f"/library/metadata/{queue.selected_rating_key or item.rating_key}"
        server = (
            self.machine_identifier
            or (await self.server_info(cached=True)).machine_identifier
        )
        await self.command(
            client_identifier,
            "playMedia",
            {
                "machineIdentifier": server,
                "key": key,
                "offset": offset_ms,
                "containerKey": f"/playQueues/{queue.id}?own=1&window=200",
                "type": COMMAND_TYPES[queue_type],
            },
        )
        return queue

    async def item_or_none(self, rating_key: str) -> MediaItem | None:
        """One item, or ``None`` when the server has none by that key."""
        try:
            return await self.item(rating_key)
        except PlexNotFoundError:
            return None

    # -- raw reads for the library mirror ---------------------------------------------
    # The mirror stores Plex's own JSON dicts (its store reads every field it keeps),
    # so these return the decoded ``Metadata`` / ``Directory`` dicts, uncached.

    async def raw_sections(self) -> list[dict[str, Any]]:
        """``/library/sections`` as Plex sends it (never cached: a sync must see now)."""
        container = await self._get("/library/sections")
        return children(container, "Directory")

    async def section_metadata(
        self,
        section_key: str,
        plex_type: int,
        *,
        start: int = 0,
        size: int = 1000,
        filters: Mapping[str, str | int] | None = None,
        sort: str | None = None,
        guids: bool = True,
        shape: ListingShape | None = None,
        json_decoder: JsonDecoder | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a section's items of one numeric type, and the ``totalSize``.

        ``size=0`` asks only for the count (Plex answers ``totalSize`` and no
        items). ``guids`` adds ``includeGuids=1`` (the ``Guid`` elements).
        ``shape`` asks for less of each item (``ListingShape``). ``json_decoder``:
        as ``request``'s.
        """
        path, params = _listing_request(
            section_key,
            plex_type,
            start,
            size,
            filters=filters,
            sort=sort,
            guids=guids,
            shape=shape,
        )
        return _listing(await self._get(path, params, json_decoder=json_decoder))

    async def section_page(
        self,
        section_key: str,
        plex_type: int,
        *,
        start: int = 0,
        size: int = 1000,
        filters: Mapping[str, str | int] | None = None,
        sort: str | None = None,
        guids: bool = True,
        json_decoder: JsonDecoder | None = None,
    ) -> RawPage:
        """``section_metadata``'s page, decoded only by ``RawPage.decode``.

        The same request and retries; a body that cannot be decoded shows only when
        it is decoded (by ``json_decoder`` if it is JSON and one is given).
        """
        path, params = _listing_request(
            section_key, plex_type, start, size, filters=filters, sort=sort, guids=guids
        )
        return await self._retrying(
            "GET",
            path,
            params,
            headers=None,
            retry=None,
            read=lambda body, content_type: RawPage(
                body, content_type, path, json_decoder
            ),
        )

    async def metadata_batch(
        self,
        rating_keys: Sequence[str],
        *,
        guids: bool = True,
        json_decoder: JsonDecoder | None = None,
    ) -> list[dict[str, Any]]:
        """Several items by rating key in one request (``/library/metadata/1,2,3``).

        Keys the server no longer has are simply absent; when it has none of them
        Plex answers 404, which this returns as an empty list. ``json_decoder``: as
        ``request``'s.
        """
        if not rating_keys:
            return []
        ids = ",".join(quote(key, safe="") for key in rating_keys)
        params: dict[str, str | int] = {"includeGuids": 1} if guids else {}
        try:
            container = await self._get(
                f"/library/metadata/{ids}", params, json_decoder=json_decoder
            )
        except PlexNotFoundError:
            return []
        return children(container, "Metadata")

    async def metadata_children(
        self, rating_key: str, *, leaves: bool = False, guids: bool = False
    ) -> list[dict[str, Any]]:
        """An item's children (``/children``) or every leaf under it (``/allLeaves``).

        A show's seasons or episodes, an artist's albums or tracks, as dicts.
        """
        tail = "allLeaves" if leaves else "children"
        params: dict[str, str | int] = {"includeGuids": 1} if guids else {}
        container = await self._get(
            f"/library/metadata/{quote(rating_key, safe='')}/{tail}", params
        )
        return children(container, "Metadata")


__all__ = [
    "PlexAuthError",
    "PlexClient",
    "PlexCommandError",
    "PlexConnectionError",
    "PlexError",
    "PlexNotFoundError",
    "PlexResponseError",
    "PlexUnavailableError",
    "RawPage",
    "parse_item",
]
