"""Push notifications: ``/:/websockets/notifications`` and the hub that publishes.

Real Plex pushes JSON text frames over a websocket, each one a
``NotificationContainer`` whose ``type`` names the kind of event and whose one
array (keyed by the entry kind) carries the entries::

    {"NotificationContainer": {"type": "playing", "size": 1,
                               "PlaySessionStateNotification": [{...}]}}

The kinds the emulator sends and their entry keys:

- ``playing`` / ``PlaySessionStateNotification``: a play session changed state
  (``sessionKey``, ``clientIdentifier``, ``guid``, ``ratingKey``, ``url``, ``key``,
  ``viewOffset``, ``playQueueItemID``, ``playQueueID``, ``state`` and, when the
  session transcodes, ``transcodeSession``), published by ``sessions``;
- ``timeline`` / ``TimelineEntry``: a library item was created, updated or deleted
  (``state`` codes 0 created ... 5 processed, 9 deleted), published by ``library``;
- ``activity`` / ``ActivityNotification``: a library scan started, progressed or
  ended, published by ``library``;
- ``status`` / ``StatusNotification``: ``title``, ``description``,
  ``notificationName`` (``LIBRARY_UPDATE`` "Library scan complete" after a scan,
  published by ``library``; ``publish_status`` for others);
- ``transcodeSession.start`` / ``.update`` / ``.end`` / ``TranscodeSession``,
  published by ``sessions`` for transcoded plays.

The spec does not describe these payloads; the shapes follow what real servers send
(python-plexapi's ``AlertListener`` reads ``NotificationContainer``; HA core's Plex
integration reads ``PlaySessionStateNotification[0]`` with ``sessionKey``,
``viewOffset``, ``ratingKey`` and ``state``; go-plex-client's structs list the
fields of every entry kind).

A client chooses the kinds it wants with ``?filters=`` as the spec documents for
``/:/websocket/notifications`` and ``/:/eventsource/notifications``:
``filters=playing,timeline`` only those, ``filters=-log`` (the default) all but
``log``, ``filters=`` everything. Both ``/:/websockets/notifications`` (what clients
use) and ``/:/websocket/notifications`` (the spec's spelling) are served.

Tests can also listen without a socket (``subscribe``), and fault injection can
drop every socket abruptly (``drop_all``).
"""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
from dataclasses import dataclass, field
import json
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import PlexEmulator

NOTIFICATION_PATHS = ("/:/websockets/notifications", "/:/websocket/notifications")
DEFAULT_FILTERS = "-log"
# Close code sent to clients when the emulator shuts down (1001: going away).
GOING_AWAY = 1001
PUBLISHED_KEPT = 1000

Notification = dict[str, Any]


@dataclass(frozen=True)
class TypeFilter:
    """Which notification types a listener wants, parsed from ``?filters=``."""

    names: frozenset[str] = frozenset()
    exclude: bool = True

    @classmethod
    def parse(cls, text: str | None) -> TypeFilter:
        """``a,b`` keeps only a and b; ``-a,b`` keeps all but a and b; empty keeps all."""
        text = DEFAULT_FILTERS if text is None else text.strip()
        exclude = text.startswith("-")
        names = frozenset(
            name.strip() for name in text.lstrip("-").split(",") if name.strip()
        )
        if not names:
            return cls(frozenset(), exclude=True)
        return cls(names, exclude=exclude)

    def accepts(self, notification_type: str) -> bool:
        """Whether a notification of this type passes the filter."""
        return (notification_type in self.names) != self.exclude


@dataclass(eq=False)
class _Listener:
    """One receiver of notifications: a websocket's send queue or a test's queue."""

    queue: asyncio.Queue[Any]
    type_filter: TypeFilter
    socket: web.WebSocketResponse | None = None
    request: web.Request | None = None
    writer: asyncio.Task[None] | None = field(default=None)


class NotificationHub:
    """Fans every published notification out to the connected websockets."""

    def __init__(self, emu: PlexEmulator) -> None:
        self.emu = emu
        self._listeners: list[_Listener] = []
        # The most recent notifications, newest last, for tests and the control API.
        self.published: deque[Notification] = deque(maxlen=PUBLISHED_KEPT)

    # -- publishing -----------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        """How many websocket clients are connected."""
        return sum(1 for listener in self._listeners if listener.socket is not None)

    def publish(
        self, notification_type: str, key: str, entries: list[dict[str, Any]]
    ) -> None:
        """Send ``{"NotificationContainer": {"type", "size", key: entries}}`` to every listener."""
        message: Notification = {
            "NotificationContainer": {
                "type": notification_type,
                "size": len(entries),
                key: entries,
            }
        }
        self.published.append(message)
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        for listener in self._listeners:
            if listener.type_filter.accepts(notification_type):
                listener.queue.put_nowait(
                    text if listener.socket is not None else message
                )

    def publish_status(
        self, notification_name: str, title: str, description: str = ""
    ) -> None:
        """A ``status`` notification, e.g. ``LIBRARY_UPDATE`` / "Library scan complete"."""
        entry = {
            "title": title,
            "description": description,
            "notificationName": notification_name,
        }
        self.publish("status", "StatusNotification", [entry])

    # -- listening without a socket (tests) -------------------------------------------

    def subscribe(self, filters: str | None = "") -> asyncio.Queue[Notification]:
        """A queue that receives every notification (as a dict) from now on.

        ``filters`` has the ``?filters=`` syntax; by default every type is delivered.
        Call ``unsubscribe`` when done.
        """
        queue: asyncio.Queue[Notification] = asyncio.Queue()
        self._listeners.append(_Listener(queue, TypeFilter.parse(filters)))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Notification]) -> None:
        """Stop delivering to a queue returned by ``subscribe``."""
        self._listeners = [
            listener for listener in self._listeners if listener.queue is not queue
        ]

    # -- websockets -------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /:/websockets/notifications``: stream notifications until the client leaves."""
        filters = request.query.get("filters", request.query.get("filter"))
        socket = web.WebSocketResponse(autoping=True)
        listener = _Listener(
            asyncio.Queue(), TypeFilter.parse(filters), socket, request
        )
        # Listening starts before the handshake ends, so that nothing published after a
        # client's connect returns is missed; the writer sends once the socket is open.
        self._listeners.append(listener)
        try:
            await socket.prepare(request)
            listener.writer = asyncio.create_task(
                self._write(listener), name="plex-emulator-websocket-writer"
            )
            async for message in socket:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            await self._forget(listener)
        return socket

    @staticmethod
    async def _write(listener: _Listener) -> None:
        """Send queued notifications to one socket, in order."""
        assert listener.socket is not None
        while True:
            text = await listener.queue.get()
            if listener.socket.closed:
                return
            try:
                await listener.socket.send_str(text)
            except ConnectionError:
                return

    async def _forget(self, listener: _Listener) -> None:
        """Remove a listener and end its writer task."""
        if listener in self._listeners:
            self._listeners.remove(listener)
        if listener.writer is not None:
            listener.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener.writer
            listener.writer = None

    def drop_all(self) -> int:
        """Fault injection: cut every websocket's connection without a close frame.

        Returns how many connections were dropped. Clients see the connection reset.
        """
        dropped = 0
        for listener in list(self._listeners):
            if listener.request is not None and listener.request.transport is not None:
                listener.request.transport.abort()
                dropped += 1
        return dropped

    async def close_all(self) -> None:
        """Close every websocket cleanly (1001 going away) and forget test queues."""
        for listener in list(self._listeners):
            if listener.socket is not None and not listener.socket.closed:
                with contextlib.suppress(ConnectionError):
                    await listener.socket.close(
                        code=GOING_AWAY, message=b"Server shutting down"
                    )
            await self._forget(listener)


def add_routes(app: web.Application, emu: PlexEmulator) -> None:
    """Register the notification websocket under both spellings of its path."""
    for path in NOTIFICATION_PATHS:
        app.router.add_get(path, emu.notifications.handle)
