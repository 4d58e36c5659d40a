"""The notification listener against the emulator: deliver, drop, reconnect, 401."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
import logging
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from yarl import URL

from custom_components.plex_bridge.api.notifications import (
    Notification,
    NotificationListener,
    PlayingNotification,
)
from tests.plex_server import PlexEmulator

TIMEOUT = 5  # safety net only: every wait below is answered by an event
NOTIFICATIONS = "/:/websockets/notifications"
LOGGER = "custom_components.plex_bridge.api.notifications"


class Recorder:
    """The listener's callbacks, recorded and waitable."""

    def __init__(self) -> None:
        self.notifications: asyncio.Queue[Notification] = asyncio.Queue()
        self.changes: asyncio.Queue[bool] = asyncio.Queue()
        self.change_log: list[bool] = []
        self.retries: asyncio.Queue[int] = asyncio.Queue()
        self._retry_count = 0

    def on_notifications(self, notifications: list[Notification]) -> None:
        """Queue every notification delivered."""
        assert notifications
        for notification in notifications:
            self.notifications.put_nowait(notification)

    def on_connection_change(self, connected: bool) -> None:
        """Record and queue a connection change."""
        self.change_log.append(connected)
        self.changes.put_nowait(connected)

    def random(self) -> float:
        """Fixed jitter (none) that also tells the test a retry is being planned."""
        self._retry_count += 1
        self.retries.put_nowait(self._retry_count)
        return 0.0

    async def change(self) -> bool:
        """The next connection change."""
        async with asyncio.timeout(TIMEOUT):
            return await self.changes.get()

    async def retry(self) -> int:
        """The number of the next retry planned."""
        async with asyncio.timeout(TIMEOUT):
            return await self.retries.get()

    async def playing(self) -> PlayingNotification:
        """The next PlayingNotification (other kinds are passed over)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                notification = await self.notifications.get()
                if isinstance(notification, PlayingNotification):
                    return notification


class RequestLog:
    """Every URL and header set the client session sent (an aiohttp trace)."""

    def __init__(self) -> None:
        self.requests: list[tuple[URL, dict[str, str]]] = []
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._on_request_start)

    async def _on_request_start(
        self,
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        self.requests.append((params.url, dict(params.headers)))


@pytest.fixture
def request_log() -> RequestLog:
    return RequestLog()


@pytest.fixture
async def http(request_log: RequestLog) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trace_configs=[request_log.config]) as session:
        yield session


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def make_listener(
    http: aiohttp.ClientSession, plex_server: PlexEmulator, recorder: Recorder
) -> AsyncIterator[Callable[..., NotificationListener]]:
    """Build listeners on the emulator; each one is stopped after the test."""
    listeners: list[NotificationListener] = []

    def make(**kwargs: Any) -> NotificationListener:
        kwargs.setdefault("token", plex_server.token)
        kwargs.setdefault("backoff_initial", 0.01)
        kwargs.setdefault("random", recorder.random)
        listener = NotificationListener(
            http,
            plex_server.url,
            on_notifications=recorder.on_notifications,
            on_connection_change=recorder.on_connection_change,
            **kwargs,
        )
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        await listener.stop()


async def test_delivers_playing_notifications(
    make_listener: Callable[..., NotificationListener],
    plex_server: PlexEmulator,
    recorder: Recorder,
) -> None:
    listener = make_listener()
    listener.start()
    listener.start()  # a second start changes nothing
    assert await recorder.change() is True
    assert listener.connected

    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1"
    )
    playing = await recorder.playing()

    assert playing.session_key == str(session.session_key)
    assert playing.rating_key == "1"
    assert playing.state == "playing"
    assert listener.as_dict() == {
        "connected": True,
        "reconnects": 0,
        "last_error": None,
        "next_retry_in": None,
        "auth_failed": False,
    }
    await listener.stop()
    assert not listener.connected
    assert recorder.change_log == [True]  # stopping is not reported as a loss


async def test_token_only_in_the_header_and_filters_in_the_query(
    make_listener: Callable[..., NotificationListener],
    plex_server: PlexEmulator,
    recorder: Recorder,
    request_log: RequestLog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    listener = make_listener(filters="playing")
    listener.start()
    assert await recorder.change() is True
    plex_server.notifications.drop_all()
    assert await recorder.change() is False
    assert await recorder.change() is True

    assert len(request_log.requests) == 2
    for url, headers in request_log.requests:
        assert url.path == NOTIFICATIONS
        assert dict(url.query) == {"filters": "playing"}
        assert plex_server.token not in str(url)
        assert headers["X-Plex-Token"] == plex_server.token
        assert headers["Accept"] == "application/json"
    assert plex_server.faults.count(NOTIFICATIONS) == 2

    messages = [record.getMessage() for record in caplog.records]
    assert any("Connected to the Plex notifications" in m for m in messages)
    assert any("Disconnected from the Plex notifications" in m for m in messages)
    for message in messages:
        assert plex_server.token not in message
        assert "filters" not in message
    assert plex_server.token not in str(listener.as_dict())


async def test_reconnects_after_a_drop(
    make_listener: Callable[..., NotificationListener],
    plex_server: PlexEmulator,
    recorder: Recorder,
) -> None:
    listener = make_listener()
    listener.start()
    assert await recorder.change() is True

    assert plex_server.notifications.drop_all() == 1
    assert await recorder.change() is False
    assert await recorder.retry() == 1
    assert await recorder.change() is True

    plex_server.sessions.start_session(player="Living Room TV", rating_key="1")
    assert (await recorder.playing()).rating_key == "1"
    assert listener.reconnects == 1
    assert listener.as_dict()["last_error"] is not None
    assert recorder.change_log == [True, False, True]


async def test_backs_off_while_the_server_refuses_then_starts_over(
    make_listener: Callable[..., NotificationListener],
    plex_server: PlexEmulator,
    recorder: Recorder,
) -> None:
    plex_server.faults.add(NOTIFICATIONS, ws_drop=True)
    listener = make_listener()
    attempts: list[int] = []
    original = listener.backoff_delay

    def record_attempt(attempt: int) -> float:
        attempts.append(attempt)
        return original(attempt)

    listener.backoff_delay = record_attempt  # type: ignore[method-assign]
    listener.start()
    assert await recorder.retry() == 1
    assert await recorder.retry() == 2
    assert listener.last_error is not None
    assert not listener.connected
    plex_server.faults.clear()

    assert await recorder.change() is True
    assert attempts[:2] == [0, 1]  # refused handshakes: the attempt count grows
    assert attempts == list(range(len(attempts)))
    assert recorder.change_log == [True]  # failed attempts are not losses

    plex_server.notifications.drop_all()
    assert await recorder.change() is False
    assert await recorder.change() is True
    assert attempts[-1] == 0  # a connection that worked starts the count again


async def test_wrong_token_backs_off_and_says_so(
    make_listener: Callable[..., NotificationListener],
    plex_server: PlexEmulator,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    listener = make_listener(token="wrong-token")
    listener.start()

    for attempt in (1, 2, 3):
        assert await recorder.retry() == attempt
    assert listener.auth_failed
    assert not listener.connected
    assert recorder.change_log == []
    assert listener.as_dict()["last_error"] == "WSServerHandshakeError"
    assert plex_server.faults.count(NOTIFICATIONS) >= 3
    assert "HTTP 401" in caplog.text
    assert "wrong-token" not in caplog.text


async def test_wrong_token_waits_at_least_the_initial_backoff(
    make_listener: Callable[..., NotificationListener],
    recorder: Recorder,
) -> None:
    listener = make_listener(token="wrong-token", backoff_initial=30.0)
    listener.start()
    await recorder.retry()  # random() gives 0, the floor still holds

    next_retry_in = listener.as_dict()["next_retry_in"]
    assert next_retry_in is not None
    assert 25.0 < next_retry_in <= 30.0


def test_backoff_is_full_jitter_capped_at_the_maximum() -> None:
    listener = NotificationListener(
        FakeSession([]),  # type: ignore[arg-type]
        "http://plex.invalid:32400/",
        "token",
        lambda _: None,
        lambda _: None,
        backoff_initial=1.0,
        backoff_max=60.0,
        random=lambda: 1.0,
    )
    assert [listener.backoff_delay(n) for n in range(8)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        60.0,
        60.0,
    ]
    assert listener.backoff_delay(100_000) == 60.0
    listener._random = lambda: 0.25
    assert listener.backoff_delay(2) == 1.0


async def test_callbacks_that_raise_are_logged_and_listening_goes_on(
    http: aiohttp.ClientSession,
    plex_server: PlexEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    connected = asyncio.Event()
    received: asyncio.Queue[Notification] = asyncio.Queue()
    calls = 0

    def on_notifications(notifications: list[Notification]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("handler bug")
        for notification in notifications:
            received.put_nowait(notification)

    def on_connection_change(is_connected: bool) -> None:
        if is_connected:
            connected.set()
        raise RuntimeError("handler bug")

    listener = NotificationListener(
        http,
        plex_server.url,
        plex_server.token,
        on_notifications,
        on_connection_change,
        filters="playing",
    )
    listener.start()
    try:
        async with asyncio.timeout(TIMEOUT):
            await connected.wait()
            session = plex_server.sessions.start_session(
                player="Living Room TV", rating_key="1"
            )
            plex_server.sessions.pause(session)
            notification = await received.get()
    finally:
        await listener.stop()

    assert isinstance(notification, PlayingNotification)
    assert notification.state == "paused"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "Error handling a Plex notification connection change",
        "Error handling Plex notifications",
    ]
    assert all(r.exc_info for r in errors)


async def test_create_task_is_used_when_given(
    make_listener: Callable[..., NotificationListener],
    recorder: Recorder,
) -> None:
    names: list[str] = []

    def create_task(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        names.append(name)
        return asyncio.create_task(coro, name=name)

    listener = make_listener(create_task=create_task)
    listener.start()
    assert await recorder.change() is True
    assert names == ["plex_bridge notification listener"]
    assert listener.running
    await listener.stop()
    assert not listener.running
    await listener.stop()  # stopping twice is harmless


class FakeSocket:
    """A websocket that yields a fixed list of messages, then ends."""

    def __init__(self, messages: list[aiohttp.WSMessage], error: Exception | None):
        self._messages = list(messages)
        self._error = error
        self.closed = False

    def __aiter__(self) -> FakeSocket:
        """Iterate over the messages."""
        return self

    async def __anext__(self) -> aiohttp.WSMessage:
        """The next message."""
        if not self._messages:
            raise StopAsyncIteration
        return self._messages.pop(0)

    def exception(self) -> Exception | None:
        """The error that ended the socket."""
        return self._error

    async def close(self) -> bool:
        """Record the close."""
        self.closed = True
        return True


class FakeSession:
    """Answers each ws_connect with the next socket, or raises the next error."""

    def __init__(self, outcomes: list[FakeSocket | Exception]) -> None:
        self.outcomes = outcomes

    async def ws_connect(self, *_args: Any, **_kwargs: Any) -> FakeSocket:
        """The next outcome."""
        outcome = self.outcomes.pop(0) if self.outcomes else RuntimeError("bug")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _message(kind: aiohttp.WSMsgType, data: Any) -> aiohttp.WSMessage:
    return aiohttp.WSMessage(kind, data, None)


PLAYING = (
    '{"NotificationContainer":{"type":"playing","PlaySessionStateNotification":'
    '[{"sessionKey":"7","ratingKey":"1","state":"playing"}]}}'
)


async def test_frames_of_every_kind_and_unexpected_errors(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    sockets = [
        FakeSocket(
            [
                _message(aiohttp.WSMsgType.TEXT, "not json"),
                _message(aiohttp.WSMsgType.BINARY, PLAYING.encode()),
                _message(aiohttp.WSMsgType.PING, b""),
                _message(aiohttp.WSMsgType.ERROR, None),
                _message(aiohttp.WSMsgType.TEXT, PLAYING),  # after the error: unread
            ],
            aiohttp.ServerTimeoutError("no pong"),
        ),
        FakeSocket([], None),
    ]
    session = FakeSession([*sockets, OSError("unreachable")])
    listener = NotificationListener(
        session,  # type: ignore[arg-type]
        "http://plex.invalid:32400",
        "secret-token",
        recorder.on_notifications,
        recorder.on_connection_change,
        backoff_initial=0.0,
        random=recorder.random,
    )
    listener.start()
    try:
        assert (await recorder.playing()).session_key == "7"
        assert await recorder.change() is True
        assert await recorder.change() is False
        assert listener.last_error == "ServerTimeoutError"
        assert await recorder.change() is True
        assert await recorder.change() is False
        for _ in range(4):
            await recorder.retry()
    finally:
        await listener.stop()

    assert recorder.notifications.empty()
    assert all(socket.closed for socket in sockets)
    assert listener.reconnects == 1
    assert listener.last_error == "RuntimeError"
    assert "Unexpected error in the Plex notification listener" in caplog.text
    assert "secret-token" not in caplog.text
