"""The Plex client against the emulator on loopback: reads, writes, errors, limits.

Every request is real HTTP to the emulator (``plex_server``); nothing of the client
is mocked. A small reverse proxy in front of the emulator drops ``Accept`` so that
the emulator answers XML, and the models read through it must equal the JSON ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import logging
import socket
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
import pytest
from yarl import URL

from custom_components.plex_bridge.api.breaker import BreakerState, CircuitBreaker
from custom_components.plex_bridge.api.cache import TTLCache
from custom_components.plex_bridge.api.client import (
    ITEM_ELEMENTS,
    ListingShape,
    PlexAuthError,
    PlexClient,
    PlexCommandError,
    PlexConnectionError,
    PlexError,
    PlexMalformedError,
    PlexNotFoundError,
    PlexResponseError,
    RawPage,
    _decode,
)
from custom_components.plex_bridge.api.models import (
    Account,
    Device,
    DirectoryEntry,
    HistoryEntry,
    Hub,
    MediaItem,
    Page,
    PlayQueue,
    PlexSession,
    Section,
    ServerInfo,
    UpdateStatus,
)
from tests.plex_server import PlexEmulator

LIVING_ROOM = "1234567890123456-com-plexapp-android"
BEDROOM = "plex-htpc-bedroom-0001"
CHROME = "plexweb-chrome-0001"
KITCHEN = "plexamp-kitchen-0001"
LOGGER = "custom_components.plex_bridge.api"


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """The current reading."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


class RequestTrace:
    """Every URL the client session requested, and how many were in flight at once."""

    def __init__(self) -> None:
        self.urls: list[URL] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.config = aiohttp.TraceConfig()
        self.config.on_request_start.append(self._on_start)
        self.config.on_request_end.append(self._on_end)
        self.config.on_request_exception.append(self._on_end)

    async def _on_start(
        self,
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        self.urls.append(params.url)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    async def _on_end(
        self, _session: aiohttp.ClientSession, _context: SimpleNamespace, _params: Any
    ) -> None:
        self.in_flight -= 1


@pytest.fixture
def trace() -> RequestTrace:
    return RequestTrace()


@pytest.fixture
async def http(trace: RequestTrace) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trace_configs=[trace.config]) as session:
        yield session


@pytest.fixture
def make_client(
    http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> Callable[..., PlexClient]:
    """Build clients of the emulator (immediate retries unless told otherwise)."""

    def make(**kwargs: Any) -> PlexClient:
        url = kwargs.pop("url", plex_server.url)
        token = kwargs.pop("token", plex_server.token)
        kwargs.setdefault("jitter", lambda: 0.0)
        return PlexClient(http, url, token, **kwargs)

    return make


@pytest.fixture
def client(make_client: Callable[..., PlexClient]) -> PlexClient:
    return make_client()


class XmlProxy:
    """A reverse proxy that forwards every request without its ``Accept`` header."""

    HOP_BY_HOP = frozenset(
        {"accept", "host", "content-length", "transfer-encoding", "connection"}
    )

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.content_types: list[str] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> None:
        """Serve on 127.0.0.1, on a free port."""
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in self.HOP_BY_HOP
        }
        body = await request.read()
        async with self._session.request(
            request.method,
            f"{self.upstream}{request.path_qs}",
            headers=headers,
            data=body or None,
            skip_auto_headers=("Accept",),
        ) as response:
            payload = await response.read()
            content_type = response.headers.get("Content-Type", "")
            self.content_types.append(content_type)
            answer = web.Response(status=response.status, body=payload)
            if content_type:
                answer.headers["Content-Type"] = content_type
            if "Content-Encoding" in response.headers:
                answer.headers["Content-Encoding"] = response.headers[
                    "Content-Encoding"
                ]
            return answer


@pytest.fixture
async def xml_proxy(plex_server: PlexEmulator) -> AsyncIterator[XmlProxy]:
    proxy = XmlProxy(plex_server.url)
    await proxy.start()
    yield proxy
    await proxy.stop()


def refused_url() -> str:
    """The URL of a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class StubServer:
    """A loopback server that answers each path with a fixed JSON container."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.app = web.Application()
        for path, container in answers.items():
            self.app.router.add_route("*", path, self._answer(container))
        self._runner: web.AppRunner | None = None
        self.url = ""

    @staticmethod
    def _answer(container: dict[str, Any]) -> Any:
        async def handler(_request: web.Request) -> web.Response:
            return web.json_response({"MediaContainer": container})

        return handler

    async def start(self) -> None:
        """Serve on 127.0.0.1, on a free port."""
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def stub(socket_enabled: None) -> AsyncIterator[StubServer]:
    """A server whose answers readable but not what the client needs."""
    server = StubServer(
        {
            "/": {"size": 0, "friendlyName": "no identity"},
            "/library/metadata/{key}": {"size": 0},
            "/playQueues": {"size": 0},
        }
    )
    await server.start()
    yield server
    await server.stop()


async def test_readable_answers_without_what_is_needed(
    http: aiohttp.ClientSession, stub: StubServer
) -> None:
    client = PlexClient(http, stub.url, "token", jitter=lambda: 0.0)
    playlist = MediaItem(rating_key="5", type="playlist", title="P")

    with pytest.raises(PlexResponseError, match="machineIdentifier"):
        await client.server_info()
    with pytest.raises(PlexNotFoundError, match="no item 1"):
        await client.item("1")
    assert await client.item_streams("1") == []
    with pytest.raises(PlexResponseError, match="no play queue"):
        await client.create_play_queue(playlist)


# -- the server ---------------------------------------------------------------------------


async def test_server_info(client: PlexClient, plex_server: PlexEmulator) -> None:
    info = await client.server_info()

    assert isinstance(info, ServerInfo)
    assert info.machine_identifier == plex_server.machine_identifier
    assert info.friendly_name == plex_server.name
    assert info.version == plex_server.version
    assert info.platform
    assert client.machine_identifier == plex_server.machine_identifier
    assert client.token == plex_server.token
    assert client.requests_made == 1


async def test_server_info_cached_is_read_once(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    first = await client.server_info(cached=True)
    second = await client.server_info(cached=True)

    assert first == second
    assert plex_server.faults.count("/") == 1
    await client.server_info()
    assert plex_server.faults.count("/") == 2


async def test_clients(client: PlexClient) -> None:
    clients = {device.machine_identifier: device for device in await client.clients()}

    assert set(clients) == {LIVING_ROOM, BEDROOM, CHROME, KITCHEN}
    assert all(isinstance(device, Device) for device in clients.values())
    living_room = clients[LIVING_ROOM]
    assert living_room.name == "Living Room TV"
    assert living_room.product == "Plex for Android (TV)"
    assert "playback" in living_room.protocol_capabilities
    assert living_room.controllable
    # Plex Web lists playback but refuses commands through the server.
    assert "playback" in clients[CHROME].protocol_capabilities
    assert clients[CHROME].product == "Plex Web"
    assert not clients[CHROME].controllable


async def test_devices(client: PlexClient) -> None:
    devices = await client.devices()

    assert devices
    assert all(device.id and device.name for device in devices)


async def test_accounts(client: PlexClient) -> None:
    accounts = await client.accounts()

    assert all(isinstance(account, Account) for account in accounts)
    assert Account(id="1", name="plexbridge") in accounts
    assert len(accounts) >= 2


async def test_update_status(client: PlexClient) -> None:
    status = await client.update_status()

    assert isinstance(status, UpdateStatus)
    assert isinstance(status.can_install, bool)
    assert status.checked_at is not None
    assert status.release is not None
    assert status.release.version


# -- sessions ------------------------------------------------------------------------------


async def test_no_sessions(client: PlexClient) -> None:
    assert await client.sessions() == []


async def test_transcoded_movie_session(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    started = plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1", transcode=True
    )

    [session] = await client.sessions()

    assert isinstance(session, PlexSession)
    assert session.session_key == started.session_key
    assert session.session_id == started.id
    assert session.item.rating_key == "1"
    assert session.item.type == "movie"
    assert session.item.title == "The Matrix"
    assert session.item.library_section_id == 1
    assert session.player.machine_identifier == LIVING_ROOM
    assert session.player.name == "Living Room TV"
    assert session.player.product == "Plex for Android (TV)"
    assert session.state == "playing"
    assert session.user is not None
    assert session.user.title == "plexbridge"
    assert session.quality.decision == "transcode"
    assert session.transcoding
    assert session.location == "lan"
    assert session.bandwidth


async def test_direct_play_and_paused_session(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.sessions.start_session(player="Bedroom", rating_key="1", state="paused")

    [session] = await client.sessions(retry=False)

    assert session.state == "paused"
    assert session.quality.decision == "direct play"
    assert not session.transcoding


async def test_live_tv_session(client: PlexClient, plex_server: PlexEmulator) -> None:
    plex_server.sessions.start_live_tv(player="Living Room TV")

    [session] = await client.sessions()

    assert session.item.live
    assert session.item.library_section_id == -4
    assert session.item.type in {"episode", "movie"}
    assert session.item.rating_key
    # The tuner's streams are copied into HLS.
    assert session.quality.decision == "copy"


async def test_preroll_and_trailer_sessions(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.sessions.start_clip(player="Living Room TV", clip="preroll", before=1)
    plex_server.sessions.start_clip(player="Bedroom", clip="trailer", trailer_of=1)

    sessions = {s.player.machine_identifier: s for s in await client.sessions()}

    preroll, trailer = sessions[LIVING_ROOM], sessions[BEDROOM]
    assert preroll.item.type == "clip"
    assert preroll.item.library_section_id == -2
    assert preroll.item.library_section_title is None
    assert trailer.item.type == "clip"
    assert trailer.item.subtype == "trailer"


async def test_unknown_item_session_without_user(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.sessions.start_unknown(player="Bedroom", include_user=False)
    plex_server.sessions.start_unknown(
        player="Kitchen", library_section_id=None, include_user=True
    )

    sessions = {s.player.machine_identifier: s for s in await client.sessions()}

    unknown = sessions[BEDROOM]
    assert unknown.item.type == "clip"
    assert unknown.item.library_section_id == -3
    assert unknown.item.library_section_title is None
    assert unknown.user is None
    assert sessions[KITCHEN].item.library_section_id is None
    assert sessions[KITCHEN].user is not None


async def test_session_without_user(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.sessions.start_session(
        player="Bedroom", rating_key="1", include_user=False
    )

    [session] = await client.sessions()

    assert session.user is None
    assert session.item.rating_key == "1"


async def test_photo_session(client: PlexClient, plex_server: PlexEmulator) -> None:
    plex_server.sessions.start_session(player="Bedroom", rating_key="75")

    [session] = await client.sessions()

    assert session.item.type == "photo"
    assert session.item.library_section_id == 4
    assert session.item.title == "IMG_0005"


async def test_plex_web_session_is_not_controllable(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.sessions.start_session(player="Chrome", rating_key="1")

    [session] = await client.sessions()

    assert session.player.product == "Plex Web"
    assert session.player.platform == "Chrome"
    assert session.player.name == "Chrome"
    assert not session.player.controllable


async def test_terminate_session(client: PlexClient, plex_server: PlexEmulator) -> None:
    started = plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1"
    )
    [session] = await client.sessions()
    assert session.session_id is not None

    await client.terminate_session(session.session_id, "Time for bed")

    assert await client.sessions() == []
    assert started.player.termination_reason == "Time for bed"


async def test_history(client: PlexClient, plex_server: PlexEmulator) -> None:
    movie = plex_server.library.get("1")
    assert movie.duration
    session = plex_server.sessions.start_session(
        player="Bedroom", rating_key="1", view_offset=movie.duration - 1000
    )
    plex_server.sessions.stop_session(session)

    history = await client.history()
    mine = await client.history(account_id="1", limit=5)
    device = next(d for d in await client.devices() if d.name == "Bedroom")
    by_device = await client.history(device_id=device.id)

    assert history
    entry = history[0]
    assert isinstance(entry, HistoryEntry)
    assert entry.rating_key == "1"
    assert entry.title == "The Matrix"
    assert entry.type == "movie"
    assert entry.account_id == "1"
    assert entry.viewed_at is not None
    assert entry.library_section_id == 1
    assert mine[0] == entry
    assert by_device
    assert all(e.device_id == device.id for e in by_device)


# -- the library ---------------------------------------------------------------------------


async def test_sections_and_counts(client: PlexClient) -> None:
    sections = await client.sections()

    assert [(s.key, s.title, s.type) for s in sections] == [
        ("1", "Movies", "movie"),
        ("2", "TV Shows", "show"),
        ("3", "Music", "artist"),
        ("4", "Photos", "photo"),
    ]
    assert all(isinstance(s, Section) and s.uuid for s in sections)
    assert await client.section_count("1") == 12
    assert await client.section_count("2", "show") == 3
    assert await client.section_count("2", "episode") > 3


async def test_recently_added_and_on_deck(client: PlexClient) -> None:
    recent = await client.recently_added()
    recent_movies = await client.recently_added("1", limit=3)
    deck = await client.on_deck()
    deck_tv = await client.on_deck("2")

    assert 0 < len(recent) <= 10
    assert all(isinstance(item, MediaItem) for item in recent)
    assert len(recent_movies) == 3
    assert {item.type for item in recent_movies} == {"movie"}
    assert deck
    assert deck[0].type == "episode"
    assert deck[0].grandparent_title
    assert deck[0].view_offset
    assert deck_tv
    assert all(item.library_section_id == 2 for item in deck_tv)


async def test_search(client: PlexClient) -> None:
    hubs = await client.search("matrix")
    movies_only = await client.search("the", section_id="1", limit=3)

    assert all(isinstance(hub, Hub) for hub in hubs)
    movie_hub = next(hub for hub in hubs if hub.type == "movie")
    assert any(item.title == "The Matrix" for item in movie_hub.items)
    for hub in movies_only:
        assert len(hub.items) <= 3
        assert all(item.library_section_id in (None, 1) for item in hub.items)


async def test_item_children_and_streams(client: PlexClient) -> None:
    movie = await client.item("1")
    show = (await client.section_items("2", size=1)).items[0]
    seasons = await client.children(show.rating_key)
    episodes = await client.children(seasons[0].rating_key)
    streams = await client.item_streams("1")

    assert movie.title == "The Matrix"
    assert movie.type == "movie"
    assert movie.year == 1999
    assert movie.genres
    assert movie.image
    assert {s.type for s in seasons} == {"season"}
    assert seasons[0].parent_rating_key == show.rating_key
    assert {e.type for e in episodes} == {"episode"}
    assert episodes[0].grandparent_title == show.title
    assert {1, 2} <= {s.stream_type for s in streams}
    assert await client.item_or_none("1") == movie


async def test_section_items_paging(client: PlexClient) -> None:
    first = await client.section_items("1", size=5)
    second = await client.section_items("1", start=5, size=5)
    third = await client.section_items("1", start=10, size=5)
    everything = await client.section_items("1")

    assert isinstance(first, Page)
    assert (first.offset, first.total_size, len(first.items)) == (0, 12, 5)
    assert (second.offset, second.total_size, len(second.items)) == (5, 12, 5)
    assert (third.offset, third.total_size, len(third.items)) == (10, 12, 2)
    assert first.items + second.items + third.items == everything.items


async def test_section_items_filtered_and_sorted(client: PlexClient) -> None:
    episodes = await client.section_items("2", item_type="episode", size=3)
    by_year = await client.section_items("1", sort="year:desc")
    unwatched = await client.section_items("1", filters={"unwatched": "1"})

    assert {item.type for item in episodes.items} == {"episode"}
    years = [item.year or 0 for item in by_year.items]
    assert years == sorted(years, reverse=True)
    assert 0 < unwatched.total_size < 12
    assert all(not item.view_count for item in unwatched.items)


async def test_section_directories(client: PlexClient) -> None:
    letters = await client.section_directories("1", "firstCharacter")
    genres = await client.section_directories("1", "genre")

    assert all(isinstance(entry, DirectoryEntry) for entry in letters)
    assert sum(entry.size or 0 for entry in letters) == 12
    assert "M" in {entry.key for entry in letters}
    assert genres
    assert all(entry.title for entry in genres)


async def test_collections_and_playlists(client: PlexClient) -> None:
    collections = await client.collections("1")
    matrix = next(c for c in collections if c.title == "The Matrix Collection")
    members = await client.collection_items(matrix.rating_key)
    playlists = await client.playlists()
    movie_night = next(p for p in playlists if p.title == "Movie Night")
    entries = await client.playlist_items(movie_night.rating_key)

    assert {c.type for c in collections} == {"collection"}
    assert any(item.title == "The Matrix" for item in members)
    assert {p.type for p in playlists} == {"playlist"}
    assert movie_night.playlist_type == "video"
    assert entries
    assert all(item.type in {"movie", "episode"} for item in entries)


async def test_refresh_section(client: PlexClient, plex_server: PlexEmulator) -> None:
    await client.refresh_section("1")

    assert plex_server.faults.count("/library/sections/1/refresh") == 1


async def test_mark_watched_and_unwatched(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    movie = plex_server.library.get("2")
    movie.view_count = 0

    await client.mark_watched("2")
    assert plex_server.library.get("2").view_count == 1
    assert (await client.item("2")).view_count == 1

    await client.mark_unwatched("2")
    assert plex_server.library.get("2").view_count == 0
    assert not (await client.item("2")).view_count


async def test_image(client: PlexClient) -> None:
    movie = await client.item("1")
    assert movie.thumb is not None

    body, content_type = await client.image(movie.thumb)

    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert content_type == "image/png"
    assert client.request_counts["image"] == 1


async def test_image_errors(
    make_client: Callable[..., PlexClient], client: PlexClient
) -> None:
    with pytest.raises(PlexNotFoundError):
        await client.image("http://elsewhere.example/thumb.png")
    with pytest.raises(PlexNotFoundError):
        await client.image("/library/metadata/999999/thumb/1")
    with pytest.raises(PlexAuthError):
        await make_client(token="wrong").image("/library/metadata/1/thumb/1")
    with pytest.raises(PlexConnectionError):
        await make_client(url=refused_url()).image("/library/metadata/1/thumb/1")


# -- playback ------------------------------------------------------------------------------


async def test_command_reaches_the_player(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1"
    )

    await client.command(LIVING_ROOM, "pause")
    await client.command(LIVING_ROOM, "play")
    await client.command(LIVING_ROOM, "seekTo", {"offset": 60_000})

    commands = plex_server.players.commands
    assert [c.command for c in commands] == [
        "playback/pause",
        "playback/play",
        "playback/seekTo",
    ]
    assert [c.command_id for c in commands] == [1, 2, 3]
    assert all(c.machine_identifier == LIVING_ROOM and c.accepted for c in commands)
    assert commands[2].params["offset"] == "60000"
    assert plex_server.sessions.position(session) == 60_000


async def test_pause_pauses_the_session(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.sessions.start_session(player="Bedroom", rating_key="1")

    await client.command(BEDROOM, "pause")

    [session] = await client.sessions()
    assert session.state == "paused"


async def test_create_play_queue(client: PlexClient, plex_server: PlexEmulator) -> None:
    movie = await client.item("1")
    playlist = next(p for p in await client.playlists() if p.title == "Movie Night")

    queue = await client.create_play_queue(movie)
    playlist_queue = await client.create_play_queue(playlist, shuffle=True)

    assert isinstance(queue, PlayQueue)
    assert queue.id.isdigit()
    assert queue.selected_rating_key == "1"
    assert queue.selected_item_id is not None
    assert queue.total_count == 1
    assert playlist_queue.id.isdigit()
    assert playlist_queue.id != queue.id
    assert playlist_queue.total_count > 1
    assert plex_server.sessions.queues.get(queue.id) is not None


async def test_play_media_starts_a_session(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    episode = (await client.on_deck())[0]

    queue = await client.play_media(BEDROOM, episode, offset_ms=5000)

    [session] = await client.sessions()
    assert session.player.machine_identifier == BEDROOM
    assert session.item.rating_key == episode.rating_key
    assert plex_server.players.commands[-1].command == "playback/playMedia"
    params = plex_server.players.commands[-1].params
    assert params["containerKey"].startswith(f"/playQueues/{queue.id}")
    assert params["type"] == "video"
    assert params["machineIdentifier"] == plex_server.machine_identifier


async def test_play_media_of_music_and_a_playlist(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    album = next(i for i in await client.recently_added() if i.type == "album")
    playlist = next(p for p in await client.playlists() if p.title == "Road Trip")

    await client.play_media(KITCHEN, album)
    assert plex_server.players.commands[-1].params["type"] == "music"
    await client.play_media(BEDROOM, playlist)

    sessions = {s.player.machine_identifier: s for s in await client.sessions()}
    assert sessions[KITCHEN].item.type == "track"
    assert BEDROOM in sessions


async def test_plex_web_refuses_commands(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    with pytest.raises(PlexCommandError, match="406"):
        await client.command(CHROME, "pause")

    assert plex_server.players.commands[-1].accepted is False


async def test_unknown_player_is_a_response_error(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    with pytest.raises(PlexResponseError, match="500"):
        await client.command("no-such-player", "pause")

    # Commands are never retried.
    assert plex_server.faults.count("/player/playback/pause") == 1


async def test_unknown_command_is_a_command_error(client: PlexClient) -> None:
    with pytest.raises(PlexCommandError, match="400"):
        await client.command(KITCHEN, "stepForward", controller="navigation")


# -- JSON and XML --------------------------------------------------------------------------


async def test_xml_answers_give_the_same_models(
    make_client: Callable[..., PlexClient],
    plex_server: PlexEmulator,
    xml_proxy: XmlProxy,
) -> None:
    sessions = plex_server.sessions
    sessions.start_session(player="Living Room TV", rating_key="1", transcode=True)
    sessions.start_session(player="Bedroom", rating_key="75", include_user=False)
    sessions.start_live_tv(player="Kitchen")
    sessions.start_session(player="Chrome", rating_key="15")

    json_client = make_client()
    xml_client = make_client(url=xml_proxy.url)

    async def read(client: PlexClient) -> dict[str, Any]:
        movie = await client.item("1")
        show = (await client.section_items("2", size=1)).items[0]
        season = (await client.children(show.rating_key))[0]
        playlist = (await client.playlists())[0]
        collection = (await client.collections("1"))[0]
        return {
            "server": await client.server_info(),
            "clients": await client.clients(),
            "devices": await client.devices(),
            "accounts": await client.accounts(),
            "update": await client.update_status(),
            "sessions": await client.sessions(),
            "history": await client.history(),
            "sections": await client.sections(),
            "count": await client.section_count("1", "movie"),
            "recent": await client.recently_added(),
            "deck": await client.on_deck(),
            "search": await client.search("the"),
            "movie": movie,
            "streams": await client.item_streams("1"),
            "seasons": await client.children(show.rating_key),
            "episodes": await client.children(season.rating_key),
            "tracks": await client.section_items("3", item_type="track"),
            "photos": await client.section_items("4"),
            "page": await client.section_items("1", start=3, size=4),
            "letters": await client.section_directories("1", "firstCharacter"),
            "genres": await client.section_directories("2", "genre"),
            "collections": await client.collections("1"),
            "collection": await client.collection_items(collection.rating_key),
            "playlists": await client.playlists(),
            "playlist": await client.playlist_items(playlist.rating_key),
        }

    from_json = await read(json_client)
    from_xml = await read(xml_client)

    # The proxy's answers really were XML.
    assert xml_proxy.content_types
    assert all("xml" in ct for ct in xml_proxy.content_types if ct)
    for name, value in from_json.items():
        assert from_xml[name] == value, name
    assert len(from_json["sessions"]) == 4
    assert from_json["page"].total_size == 12

    movie = from_json["movie"]
    json_queue = await json_client.create_play_queue(movie)
    xml_queue = await xml_client.create_play_queue(movie)
    assert json_queue.id.isdigit()
    assert xml_queue.id.isdigit()
    assert (json_queue.selected_rating_key, json_queue.total_count) == (
        xml_queue.selected_rating_key,
        xml_queue.total_count,
    )
    # The other kinds of session, and a finished one in the history.
    for session in sessions.sessions:
        sessions.stop_session(session)
    movie_duration = plex_server.library.get("1").duration or 0
    sessions.stop_session(
        sessions.start_session(
            player="Bedroom", rating_key="1", view_offset=movie_duration - 1000
        )
    )
    sessions.start_clip(player="Living Room TV", clip="preroll", before=1)
    sessions.start_clip(player="Bedroom", clip="trailer", include_user=False)
    sessions.start_unknown(player="Kitchen", library_section_id=None)
    sessions.start_unknown(player="Chrome", transcode=True)
    json_sessions = await json_client.sessions()
    assert len(json_sessions) == 4
    assert await xml_client.sessions() == json_sessions
    json_history = await json_client.history()
    assert json_history
    assert await xml_client.history() == json_history

    # A command's answer through the proxy (XML or a bare "OK") reads as well.
    await xml_client.command(LIVING_ROOM, "pause")
    await xml_client.command(BEDROOM, "play")


def test_decode_picks_the_form_by_content_type() -> None:
    assert _decode(b"", "application/json") == {}
    assert _decode(b" OK\n", "text/plain") == {}
    assert _decode(b'<MediaContainer size="1"/>', "text/xml") == {"size": "1"}
    assert _decode(b'<MediaContainer size="1"/>', "") == {"size": "1"}
    assert _decode(b'{"MediaContainer": {"size": 1}}', "") == {"size": 1}
    with pytest.raises(ValueError, match="MediaContainer"):
        _decode(b'{"size": 1}', "application/json")
    with pytest.raises(ValueError, match="MediaContainer"):
        _decode(b"[1, 2]", "application/json")
    with pytest.raises(ValueError):
        _decode(b"<html></html>", "text/html")


# -- errors --------------------------------------------------------------------------------


async def test_wrong_token_is_an_auth_error(
    make_client: Callable[..., PlexClient], plex_server: PlexEmulator
) -> None:
    client = make_client(token="not-the-token")

    with pytest.raises(PlexAuthError):
        await client.server_info()
    with pytest.raises(PlexAuthError):
        await client.sections()

    # Not retried: the server answered.
    assert plex_server.faults.count("/") == 1
    assert client.breaker.state is BreakerState.CLOSED


async def test_missing_item_is_not_found(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    with pytest.raises(PlexNotFoundError):
        await client.item("999999")
    assert await client.item_or_none("999999") is None

    assert plex_server.faults.count("/library/metadata/999999") == 2


async def test_server_errors_are_retried_for_reads(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.faults.add("/library/sections", status=503)

    with pytest.raises(PlexResponseError, match="503"):
        await client.sections()

    assert plex_server.faults.count("/library/sections") == 3


async def test_a_retry_can_succeed(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.faults.add("/library/sections", status=500, times=2)

    assert len(await client.sections()) == 4
    assert plex_server.faults.count("/library/sections") == 3


async def test_polls_and_commands_are_not_retried(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.faults.add("/status/sessions", status=503)
    plex_server.faults.add("/clients", status=503)
    plex_server.faults.add("/library/sections/1/refresh", status=503)

    with pytest.raises(PlexResponseError):
        await client.sessions(retry=False)
    with pytest.raises(PlexResponseError):
        await client.clients(retry=False)
    with pytest.raises(PlexResponseError):
        await client.refresh_section("1")

    assert plex_server.faults.count("/status/sessions") == 1
    assert plex_server.faults.count("/clients") == 1
    assert plex_server.faults.count("/library/sections/1/refresh") == 1


async def test_connection_reset(client: PlexClient, plex_server: PlexEmulator) -> None:
    plex_server.faults.add("/library/sections", reset=True)

    with pytest.raises(PlexConnectionError, match="ServerDisconnectedError"):
        await client.sections()

    # Three attempts; aiohttp itself sends each idempotent request once more when
    # the server drops the connection without answering (RFC 9112, 9.3.1).
    assert client.request_counts["/library/sections"] == 3
    assert plex_server.faults.count("/library/sections") == 6


async def test_refused_port(make_client: Callable[..., PlexClient]) -> None:
    client = make_client(url=refused_url())

    with pytest.raises(PlexConnectionError) as caught:
        await client.server_info()

    assert isinstance(caught.value.__cause__, (aiohttp.ClientError, OSError))
    assert client.requests_made == 3


async def test_truncated_body(client: PlexClient, plex_server: PlexEmulator) -> None:
    plex_server.faults.add("/library/sections", truncate=True)

    with pytest.raises(PlexResponseError):
        await client.sections()

    assert plex_server.faults.count("/library/sections") == 3


@pytest.mark.parametrize("proxied", [False, True])
async def test_malformed_body(
    make_client: Callable[..., PlexClient],
    plex_server: PlexEmulator,
    xml_proxy: XmlProxy,
    proxied: bool,
) -> None:
    client = make_client(url=xml_proxy.url) if proxied else make_client()
    plex_server.faults.add("/library/sections", malformed=True)

    with pytest.raises(PlexResponseError, match="unreadable"):
        await client.sections()

    assert plex_server.faults.count("/library/sections") == 3


@pytest.mark.parametrize("proxied", [False, True])
async def test_a_raw_page_is_decoded_when_asked(
    make_client: Callable[..., PlexClient],
    plex_server: PlexEmulator,
    xml_proxy: XmlProxy,
    proxied: bool,
) -> None:
    """``section_page`` is ``section_metadata``'s page, its body read only on ``decode``.

    JSON, or XML through a proxy that drops ``Accept``. A body that is not JSON
    comes back without an error (and without retries); the error is the decode's,
    naming the path.
    """
    client = make_client(url=xml_proxy.url) if proxied else make_client()
    page = await client.section_page("2", 4, start=2, size=3, sort="addedAt")
    assert isinstance(page, RawPage)
    assert page.decode() == await client.section_metadata(
        "2", 4, start=2, size=3, sort="addedAt"
    )
    items, total = page.decode()
    assert len(items) == 3
    assert {item["type"] for item in items} == {"episode"}
    assert all(item.get("Guid") for item in items)
    assert total == len(plex_server.library.sections[2].by_kind["episode"])

    fault = plex_server.faults.add("/library/sections/2/all", malformed=True)
    broken = await client.section_page("2", 4, size=3)
    assert fault.fired == 1
    with pytest.raises(
        PlexMalformedError, match=r"unreadable answer from /library/sections/2/all:"
    ):
        broken.decode()


@pytest.mark.parametrize("proxied", [False, True])
async def test_a_listing_shape_asks_for_less(
    make_client: Callable[..., PlexClient],
    plex_server: PlexEmulator,
    xml_proxy: XmlProxy,
    proxied: bool,
) -> None:
    """``ListingShape``: only the named attributes, none of the listed elements.

    JSON, and XML through the proxy; paging and ``totalSize`` as without it.
    """
    client = make_client(url=xml_proxy.url) if proxied else make_client()
    shape = ListingShape(("ratingKey", "leafCount"), ITEM_ELEMENTS)
    items, total = await client.section_metadata(
        "2", 3, start=1, size=4, sort="addedAt", guids=False, shape=shape
    )
    whole, _ = await client.section_metadata(
        "2", 3, start=1, size=4, sort="addedAt", guids=False
    )
    assert total == len(plex_server.library.sections[2].by_kind["season"])
    # (An XML element's dict also names its tag.)
    assert [{k: v for k, v in item.items() if k != "_tag"} for item in items] == [
        {"ratingKey": item["ratingKey"], "leafCount": item["leafCount"]}
        for item in whole
    ]
    assert len(items) == 4
    episodes, _ = await client.section_metadata(
        "2", 4, size=3, shape=ListingShape(("ratingKey",), ITEM_ELEMENTS)
    )
    assert [set(item) - {"_tag"} for item in episodes] == [{"ratingKey"}] * 3


async def test_timeout(
    make_client: Callable[..., PlexClient], plex_server: PlexEmulator
) -> None:
    client = make_client(timeout=0.2, retries=0)
    plex_server.faults.add("/library/sections", latency=1.0, times=1)

    with pytest.raises(PlexConnectionError, match="TimeoutError"):
        await client.sections()

    assert plex_server.faults.count("/library/sections") == 1


async def test_breaker_opens_after_five_failures(
    make_client: Callable[..., PlexClient], plex_server: PlexEmulator
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock)
    client = make_client(breaker=breaker, retries=0)
    fault = plex_server.faults.add("/", status=503)

    for _ in range(5):
        with pytest.raises(PlexResponseError):
            await client.server_info()
    assert plex_server.faults.count("/") == 5
    assert breaker.state is BreakerState.OPEN

    plex_server.faults.reset_counts()
    for _ in range(3):
        with pytest.raises(PlexConnectionError, match="not answering"):
            await client.server_info()
    with pytest.raises(PlexConnectionError, match="not answering"):
        await client.image("/library/metadata/1/thumb/1")
    assert plex_server.faults.count("/") == 0
    assert plex_server.faults.count("/library/metadata/1/thumb/1") == 0

    clock.advance(breaker.cooldown)
    plex_server.faults.remove(fault)
    assert (await client.server_info()).machine_identifier
    assert plex_server.faults.count("/") == 1
    assert breaker.state is BreakerState.CLOSED


async def test_open_breaker_stops_retries(
    make_client: Callable[..., PlexClient], plex_server: PlexEmulator
) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=FakeClock())
    client = make_client(breaker=breaker)
    plex_server.faults.add("/library/sections", status=503)

    with pytest.raises(PlexConnectionError, match="not answering"):
        await client.sections()

    # Two failures open the breaker; the third attempt never leaves the client.
    assert plex_server.faults.count("/library/sections") == 2


def test_errors_share_a_base() -> None:
    for error in (
        PlexAuthError,
        PlexNotFoundError,
        PlexConnectionError,
        PlexResponseError,
        PlexCommandError,
    ):
        assert issubclass(error, PlexError)


# -- token hygiene -------------------------------------------------------------------------


async def test_the_token_stays_out_of_urls_messages_and_logs(
    make_client: Callable[..., PlexClient],
    plex_server: PlexEmulator,
    trace: RequestTrace,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = plex_server.token
    client = make_client(retries=1, breaker=CircuitBreaker(failure_threshold=100))
    errors: list[BaseException] = []

    async def attempt(call: Any) -> None:
        try:
            await call
        except PlexError as err:
            errors.append(err)

    plex_server.sessions.start_session(player="Living Room TV", rating_key="1")
    await attempt(client.server_info())
    await attempt(client.sections())
    await attempt(client.sessions())
    await attempt(client.search("matrix"))
    await attempt(client.image("/library/metadata/1/thumb/1"))
    await attempt(client.command(LIVING_ROOM, "pause"))
    await attempt(client.play_media(BEDROOM, await client.item("1")))
    await attempt(client.update_status())
    plex_server.faults.add("/library/sections/1/all", status=503)
    plex_server.faults.add("/library/sections/2/all", reset=True)
    plex_server.faults.add("/library/sections/3/all", truncate=True)
    plex_server.faults.add("/library/sections/4/all", malformed=True)
    for key in "1234":
        await attempt(client.section_items(key))
    await attempt(client.item("999999"))
    await attempt(client.command(CHROME, "pause"))
    await attempt(client.command("no-such-player", "pause"))
    await attempt(make_client(url=refused_url()).server_info())

    assert len(errors) == 8
    assert trace.urls
    for url in trace.urls:
        assert token not in str(url)
        assert "X-Plex-Token" not in url.query
    for error in errors:
        assert token not in str(error)
        assert token not in repr(error)
        assert token not in str(error.__cause__)
    assert caplog.records
    for record in caplog.records:
        assert token not in record.getMessage()
    assert token not in caplog.text


# -- the cache -----------------------------------------------------------------------------


async def test_sections_are_cached_until_a_scan(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    first = await client.sections()
    second = await client.sections()

    assert first == second
    assert plex_server.faults.count("/library/sections") == 1

    client.invalidate_content()  # content changed: sections are still good
    await client.sections()
    assert plex_server.faults.count("/library/sections") == 1

    client.invalidate_content(scan=True)
    await client.sections()
    assert plex_server.faults.count("/library/sections") == 2


async def test_counts_and_lists_are_dropped_when_content_changes(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    await client.section_count("1")
    await client.recently_added()
    await client.on_deck()
    await client.section_directories("1", "genre")
    await client.section_count("1")
    await client.recently_added()
    await client.on_deck()
    await client.section_directories("1", "genre")
    assert plex_server.faults.count("/library/sections/1/all") == 1
    assert plex_server.faults.count("/library/recentlyAdded") == 1
    assert plex_server.faults.count("/library/onDeck") == 1
    assert plex_server.faults.count("/library/sections/1/genre") == 1

    await client.mark_watched("3")  # drops what the change made stale

    await client.section_count("1")
    await client.recently_added()
    await client.on_deck()
    await client.section_directories("1", "genre")
    assert plex_server.faults.count("/library/sections/1/all") == 2
    assert plex_server.faults.count("/library/recentlyAdded") == 2
    assert plex_server.faults.count("/library/onDeck") == 2
    assert plex_server.faults.count("/library/sections/1/genre") == 2


async def test_search_is_cached_for_a_minute(
    make_client: Callable[..., PlexClient], plex_server: PlexEmulator
) -> None:
    clock = FakeClock()
    client = make_client(cache=TTLCache(clock=clock))

    first = await client.search("matrix")
    clock.advance(59)
    assert await client.search("matrix") == first
    assert plex_server.faults.count("/hubs/search") == 1

    await client.search("office")  # another query is another entry
    assert plex_server.faults.count("/hubs/search") == 2

    clock.advance(1)
    assert await client.search("matrix") == first
    assert plex_server.faults.count("/hubs/search") == 3


async def test_failures_are_not_cached(
    client: PlexClient, plex_server: PlexEmulator
) -> None:
    plex_server.faults.add("/library/sections", status=503, times=3)
    with pytest.raises(PlexResponseError):
        await client.sections()

    assert len(await client.sections()) == 4
    assert plex_server.faults.count("/library/sections") == 4


# -- concurrency ---------------------------------------------------------------------------


async def test_at_most_max_in_flight_requests(
    make_client: Callable[..., PlexClient],
    plex_server: PlexEmulator,
    trace: RequestTrace,
) -> None:
    client = make_client(max_in_flight=2)
    plex_server.faults.add("/library/metadata/*", latency=0.2)

    items = await asyncio.gather(*(client.item(str(key)) for key in range(1, 7)))

    assert [item.rating_key for item in items] == ["1", "2", "3", "4", "5", "6"]
    assert len(trace.urls) == 6
    assert trace.in_flight == 0
    # The requests did overlap, but never more than two at once.
    assert trace.max_in_flight == 2
    assert client.requests_made == 6
