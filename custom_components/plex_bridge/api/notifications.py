"""The Plex notification websocket: typed notifications and a reconnecting listener.

Plex pushes JSON text frames on ``GET {url}/:/websockets/notifications``, each one a
``NotificationContainer`` whose ``type`` names the kind and whose one array carries
the entries::

    {"NotificationContainer": {"type": "playing", "size": 1,
                               "PlaySessionStateNotification": [{...}]}}

``parse_notifications`` turns a frame into typed notifications and never raises.
``NotificationListener`` keeps one websocket open, delivers each frame's
notifications, and reconnects with exponential backoff and full jitter. The token
travels in the ``X-Plex-Token`` header only; logs show neither the token nor the
URL's query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
import logging
import random as _random
from typing import Any

import aiohttp
import orjson
from yarl import URL

_LOGGER = logging.getLogger(__name__)

NOTIFICATIONS_PATH = "/:/websockets/notifications"
DEFAULT_FILTERS = (
    "playing,timeline,activity,status,"
    "transcodeSession.start,transcodeSession.update,transcodeSession.end"
)
CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0
TRANSCODE_PREFIX = "transcodeSession."
# 2**32 times any sane initial backoff is past any maximum; bigger powers overflow.
MAX_BACKOFF_EXPONENT = 32


@dataclass(frozen=True, slots=True)
class PlayingNotification:
    """A play session changed state (``PlaySessionStateNotification``)."""

    session_key: str
    client_identifier: str
    rating_key: str
    key: str
    state: str
    view_offset: int | None
    transcode_session: str | None


@dataclass(frozen=True, slots=True)
class TimelineNotification:
    """A library item was created, updated or deleted (``TimelineEntry``)."""

    item_id: str
    section_id: str | None
    type: int | None
    state: int | None
    title: str | None
    identifier: str | None
    metadata_state: str | None
    updated_at: int | None


@dataclass(frozen=True, slots=True)
class ActivityNotification:
    """A server activity (a library scan) started, progressed or ended."""

    event: str
    uuid: str
    activity_type: str
    title: str | None
    progress: int | None
    section_id: str | None


@dataclass(frozen=True, slots=True)
class StatusNotification:
    """A server status message, e.g. ``LIBRARY_UPDATE`` "Library scan complete"."""

    notification_name: str
    title: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class TranscodeNotification:
    """A transcode session started, progressed or ended.

    ``event`` is the part of the container type after ``transcodeSession.``:
    ``"start"``, ``"update"`` or ``"end"``.
    """

    event: str
    key: str | None


Notification = (
    PlayingNotification
    | TimelineNotification
    | ActivityNotification
    | StatusNotification
    | TranscodeNotification
)


class _MalformedEntryError(ValueError):
    """An entry lacks a required field or has one of the wrong kind."""


# -- parsing ---------------------------------------------------------------------------


def _required_str(entry: dict[str, Any], name: str) -> str:
    """A field that must be present as a string or number; it is given as text."""
    value = _optional_str(entry.get(name))
    if value is None:
        raise _MalformedEntryError(name)
    return value


def _optional_str(value: Any) -> str | None:
    """Text for a string or number; ``None`` for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _optional_int(value: Any) -> int | None:
    """An integer for an int, float or decimal string; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


def _parse_playing(entry: dict[str, Any], _type: str) -> PlayingNotification:
    rating_key = _required_str(entry, "ratingKey")
    return PlayingNotification(
        session_key=_required_str(entry, "sessionKey"),
        client_identifier=_optional_str(entry.get("clientIdentifier")) or "",
        rating_key=rating_key,
        key=_optional_str(entry.get("key")) or f"/library/metadata/{rating_key}",
        state=_required_str(entry, "state"),
        view_offset=_optional_int(entry.get("viewOffset")),
        transcode_session=_optional_str(entry.get("transcodeSession")),
    )


def _parse_timeline(entry: dict[str, Any], _type: str) -> TimelineNotification:
    return TimelineNotification(
        item_id=_required_str(entry, "itemID"),
        section_id=_optional_str(entry.get("sectionID")),
        type=_optional_int(entry.get("type")),
        state=_optional_int(entry.get("state")),
        title=_optional_str(entry.get("title")),
        identifier=_optional_str(entry.get("identifier")),
        metadata_state=_optional_str(entry.get("metadataState")),
        updated_at=_optional_int(entry.get("updatedAt")),
    )


def _parse_activity(entry: dict[str, Any], _type: str) -> ActivityNotification:
    activity = entry.get("Activity")
    if not isinstance(activity, dict):
        raise _MalformedEntryError("Activity")
    context = activity.get("Context")
    section_id = (
        _optional_str(context.get("librarySectionID"))
        if isinstance(context, dict)
        else None
    )
    return ActivityNotification(
        event=_required_str(entry, "event"),
        uuid=_optional_str(entry.get("uuid")) or _required_str(activity, "uuid"),
        activity_type=_required_str(activity, "type"),
        title=_optional_str(activity.get("title")),
        progress=_optional_int(activity.get("progress")),
        section_id=section_id,
    )


def _parse_status(entry: dict[str, Any], _type: str) -> StatusNotification:
    return StatusNotification(
        notification_name=_required_str(entry, "notificationName"),
        title=_optional_str(entry.get("title")),
        description=_optional_str(entry.get("description")),
    )


def _parse_transcode(
    entry: dict[str, Any], notification_type: str
) -> TranscodeNotification:
    return TranscodeNotification(
        event=notification_type.removeprefix(TRANSCODE_PREFIX),
        key=_optional_str(entry.get("key")),
    )


type _EntryParser = Callable[[dict[str, Any], str], Notification]

# Container type -> (the key of its entries, how one entry is read).
_PARSERS: dict[str, tuple[str, _EntryParser]] = {
    "playing": ("PlaySessionStateNotification", _parse_playing),
    "timeline": ("TimelineEntry", _parse_timeline),
    "activity": ("ActivityNotification", _parse_activity),
    "status": ("StatusNotification", _parse_status),
    "transcodeSession.start": ("TranscodeSession", _parse_transcode),
    "transcodeSession.update": ("TranscodeSession", _parse_transcode),
    "transcodeSession.end": ("TranscodeSession", _parse_transcode),
}


def _container(text: str | bytes) -> dict[str, Any] | None:
    """The frame's ``NotificationContainer``, or ``None`` if it has none."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        _LOGGER.debug("Skipping a notification frame that is not JSON")
        return None
    container = data.get("NotificationContainer") if isinstance(data, dict) else None
    if not isinstance(container, dict):
        _LOGGER.debug("Skipping a frame without a NotificationContainer")
        return None
    return container


def parse_notifications(text: str | bytes) -> list[Notification]:
    """Every entry of one frame, in order.

    Unknown types and malformed entries are skipped (logged at debug); malformed
    JSON gives []. Never raises.
    """
    container = _container(text)
    if container is None:
        return []
    notification_type = container.get("type")
    if not isinstance(notification_type, str) or notification_type not in _PARSERS:
        _LOGGER.debug("Skipping notifications of type %r", notification_type)
        return []
    entries_key, parse_entry = _PARSERS[notification_type]
    entries = container.get(entries_key)
    if not isinstance(entries, list):
        _LOGGER.debug("Skipping a %s frame without %s", notification_type, entries_key)
        return []
    notifications: list[Notification] = []
    for entry in entries:
        if not isinstance(entry, dict):
            _LOGGER.debug(
                "Skipping a %s entry that is not an object", notification_type
            )
            continue
        try:
            notifications.append(parse_entry(entry, notification_type))
        except _MalformedEntryError as err:
            _LOGGER.debug(
                "Skipping a %s entry without a valid %s", notification_type, err
            )
    return notifications


# -- listening -------------------------------------------------------------------------

type CreateTask = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]


def jitter() -> float:
    """The random factor of full jitter, in [0, 1) (looked up at each retry)."""
    return _random.random()  # noqa: S311 - a backoff, not a secret


def _safe_url(url: str) -> str:
    """The URL as logs may show it: no user, password, query or fragment."""
    parsed = URL(url)
    return str(
        parsed.with_user(None).with_password(None).with_query(None).with_fragment(None)
    )


class NotificationListener:
    """Keeps the notification websocket of one Plex server open and delivers it.

    ``on_notifications`` receives each frame's parsed, non-empty list;
    ``on_connection_change`` receives ``True`` once connected and ``False`` once
    when a connection that worked is lost (not for each failed attempt, nor on
    ``stop``). Between attempts the listener waits a random time between 0 and
    ``min(backoff_max, backoff_initial * 2**attempt)`` (full jitter: ``random()``,
    or the module's ``jitter()``, times that); the attempt count starts again after
    a connection that worked. After a 401 it waits at least ``backoff_initial`` and
    ``auth_failed`` is true until a connection succeeds.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        token: str,
        on_notifications: Callable[[list[Notification]], None],
        on_connection_change: Callable[[bool], None],
        *,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        heartbeat: float = 30.0,
        filters: str = DEFAULT_FILTERS,
        create_task: CreateTask | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        self._session = session
        self._url = url.rstrip("/") + NOTIFICATIONS_PATH
        self._log_url = _safe_url(self._url)
        self._token = token
        self._on_notifications = on_notifications
        self._on_connection_change = on_connection_change
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.heartbeat = heartbeat
        self.filters = filters
        self._create_task = create_task
        self._random = random
        """The jitter's draw; ``None``: ``jitter()`` of this module."""
        self._task: asyncio.Task[None] | None = None
        self._connected = False
        self._stopping = False
        self._attempt = 0
        self._retry_at: float | None = None
        self.reconnects = 0
        """Connections made after the first one."""
        self.connections = 0
        """Connections made in all."""
        self.attempts = 0
        """Connection attempts made in all, failed ones included."""
        self.auth_failed = False
        """Whether the last handshake was refused with 401."""
        self.last_error: str | None = None
        """The type name of the last error (never its text, which may hold URLs)."""

    @property
    def connected(self) -> bool:
        """Whether the websocket is open now."""
        return self._connected

    @property
    def running(self) -> bool:
        """Whether the background task is running."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start listening in a background task (does nothing if already started)."""
        if self.running:
            return
        self._stopping = False
        name = "plex_bridge notification listener"
        if self._create_task is not None:
            self._task = self._create_task(self._run(), name)
        else:
            self._task = asyncio.create_task(self._run(), name=name)

    async def stop(self) -> None:
        """Stop listening: cancel the task, close the socket, leave nothing behind."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        task.cancel()
        # wait() neither raises the task's CancelledError nor swallows our own.
        await asyncio.wait([task])
        self._retry_at = None
        self._connected = False

    def as_dict(self) -> dict[str, Any]:
        """The listener for diagnostics (no URL, no token, no error text)."""
        return {
            "connected": self._connected,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "next_retry_in": self.next_retry_in,
            "auth_failed": self.auth_failed,
        }

    @property
    def next_retry_in(self) -> float | None:
        """Seconds until the next connection attempt while waiting; else ``None``."""
        if self._retry_at is None:
            return None
        loop = asyncio.get_running_loop()
        return round(max(0.0, self._retry_at - loop.time()), 3)

    def backoff_delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (0-based): full jitter."""
        exponent = min(attempt, MAX_BACKOFF_EXPONENT)
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0**exponent)
        draw = self._random() if self._random is not None else jitter()
        return draw * ceiling

    async def _run(self) -> None:
        """Connect, listen, and reconnect after a pause, until cancelled."""
        while True:
            self.attempts += 1
            try:
                worked = await self._connect_once()
            except Exception as err:
                # A bug must not end the listener: log it and try again later.
                _LOGGER.exception("Unexpected error in the Plex notification listener")
                self._record_error(err)
                self._set_connected(False)
                worked = False
            if worked:
                self._attempt = 0
            delay = self.backoff_delay(self._attempt)
            if self.auth_failed:
                delay = max(delay, self.backoff_initial)
            self._attempt += 1
            _LOGGER.debug("Reconnecting to the Plex notifications in %.2f s", delay)
            self._retry_at = asyncio.get_running_loop().time() + delay
            try:
                await asyncio.sleep(delay)
            finally:
                self._retry_at = None

    async def _connect_once(self) -> bool:
        """One connection, from handshake to close; whether it was established."""
        try:
            socket = await self._handshake()
        except aiohttp.WSServerHandshakeError as err:
            self._record_error(err)
            self.auth_failed = err.status == 401
            _LOGGER.debug(
                "Plex refused the notification websocket at %s: HTTP %s",
                self._log_url,
                err.status,
            )
            return False
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            self._record_error(err)
            _LOGGER.debug(
                "Could not connect to the Plex notifications at %s: %s",
                self._log_url,
                type(err).__name__,
            )
            return False
        self.auth_failed = False
        try:
            await self._listen(socket)
        finally:
            await socket.close()
            self._set_connected(False)
        return True

    async def _handshake(self) -> aiohttp.ClientWebSocketResponse:
        """Open the websocket (the token in a header, the filters in the query)."""
        headers = {"Accept": "application/json", "X-Plex-Token": self._token}
        async with asyncio.timeout(CONNECT_TIMEOUT):
            return await self._session.ws_connect(
                self._url,
                params={"filters": self.filters},
                headers=headers,
                heartbeat=self.heartbeat,
                timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT),
            )

    async def _listen(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        """Deliver every frame until the socket closes."""
        self.connections += 1
        if self.connections > 1:
            self.reconnects += 1
        _LOGGER.debug("Connected to the Plex notifications at %s", self._log_url)
        self._set_connected(True)
        async for message in socket:
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                self._deliver(message.data)
            elif message.type is aiohttp.WSMsgType.ERROR:
                break
        error = socket.exception()
        self.last_error = type(error).__name__ if error else "WebSocketClosed"
        _LOGGER.debug(
            "Disconnected from the Plex notifications at %s (%s)",
            self._log_url,
            self.last_error,
        )

    def _deliver(self, data: str | bytes) -> None:
        """Parse one frame and hand its notifications over (errors are logged)."""
        notifications = parse_notifications(data)
        if not notifications:
            return
        try:
            self._on_notifications(notifications)
        except Exception:
            _LOGGER.exception("Error handling Plex notifications")

    def _set_connected(self, connected: bool) -> None:
        """Record the connection state and tell the owner when it changes."""
        if connected == self._connected:
            return
        self._connected = connected
        if self._stopping:
            return
        try:
            self._on_connection_change(connected)
        except Exception:
            _LOGGER.exception("Error handling a Plex notification connection change")

    def _record_error(self, err: BaseException) -> None:
        """Remember the type of the last error (only its name)."""
        self.last_error = type(err).__name__
