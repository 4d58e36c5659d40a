"""python-plexapi, a real Plex client nobody here wrote, against the emulator, unpatched.

python-plexapi is synchronous (``requests``), so every call runs in Home Assistant's
executor while the emulator serves on the test's event loop. What it reads is
checked against the emulator's own world (``emu.library``, ``emu.sessions``,
``emu.players``), and what it commands must change that world: a play queue made
and played on a simulated player, paused, sought, a session terminated, history
read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
import math
from typing import Any, TypeVar

from homeassistant.core import HomeAssistant
from plexapi.exceptions import BadRequest
from plexapi.playqueue import PlayQueue
from plexapi.server import PlexServer
import pytest
import requests

from tests.plex_server import PlexEmulator
from tests.plex_server.items import Item, Section

T = TypeVar("T")

PAGE = 3
"""The page size the paging tests ask python-plexapi for (small, so that it pages)."""
TIMEOUT = 10
"""python-plexapi's request timeout: a safety net only, answers take milliseconds."""


class Plex:
    """A python-plexapi ``PlexServer`` whose calls run in the executor."""

    def __init__(self, hass: HomeAssistant, server: PlexServer) -> None:
        self.hass = hass
        self.server = server

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``func`` in the executor and wait for it."""
        return await self.hass.async_add_executor_job(partial(func, *args, **kwargs))


@pytest.fixture
async def plex(hass: HomeAssistant, plex_server: PlexEmulator) -> AsyncIterator[Plex]:
    """python-plexapi connected to the emulated server (``PlexServer(url, token)``).

    ``server.library`` is loaded here, in the executor: python-plexapi fetches it
    (``/library``) on first access, which must not happen on the event loop.
    """
    session = requests.Session()
    try:
        server = await hass.async_add_executor_job(
            partial(
                PlexServer,
                plex_server.url,
                plex_server.token,
                session=session,
                timeout=TIMEOUT,
            )
        )
        await hass.async_add_executor_job(getattr, server, "library")
        yield Plex(hass, server)
    finally:
        session.close()


def first_of_kind(emu: PlexEmulator, kind: str) -> Item:
    """The emulated world's first item of a kind (by ratingKey)."""
    return min(
        (item for item in emu.library.items.values() if item.kind == kind),
        key=lambda i: i.rating_key,
    )


def section_of_type(emu: PlexEmulator, section_type: str) -> Section:
    """The emulated world's first section of a type."""
    return next(
        section
        for section in emu.library.visible_sections()
        if section.type == section_type
    )


async def test_connects(plex: Plex, plex_server: PlexEmulator) -> None:
    """``PlexServer(url, token)`` reads the server's identity from ``/``."""
    assert plex.server.friendlyName == plex_server.name
    assert plex.server.machineIdentifier == plex_server.machine_identifier
    assert plex.server.version == plex_server.version
    assert plex.server.library.identifier == "com.plexapp.plugins.library"


async def test_lists_sections(plex: Plex, plex_server: PlexEmulator) -> None:
    """``library.sections()`` lists every section with its id, type and title."""
    sections = await plex.run(plex.server.library.sections)
    listed = [(str(section.key), section.type, section.title) for section in sections]
    expected = [
        (str(s.id), s.type, s.title) for s in plex_server.library.visible_sections()
    ]
    assert listed == expected
    assert {section.type for section in sections} == {
        "movie",
        "show",
        "artist",
        "photo",
    }


async def test_pages_a_section(plex: Plex, plex_server: PlexEmulator) -> None:
    """``search(container_start=, container_size=)`` pages through a section's items."""
    world_section = section_of_type(plex_server, "movie")
    section = await plex.run(plex.server.library.sectionByID, world_section.id)
    whole = await plex.run(section.search, container_size=1000)
    keys = [movie.ratingKey for movie in whole]
    assert sorted(keys) == sorted(
        item.rating_key for item in world_section.by_kind["movie"]
    )

    path = f"/library/sections/{world_section.id}/all"
    before = plex_server.faults.count(path)
    paged = await plex.run(section.search, container_start=0, container_size=PAGE)
    assert [movie.ratingKey for movie in paged] == keys
    assert plex_server.faults.count(path) - before == math.ceil(len(keys) / PAGE)

    window = await plex.run(
        section.search, container_start=4, container_size=PAGE, maxresults=5
    )
    assert [movie.ratingKey for movie in window] == keys[4:9]
    assert await plex.run(section.totalViewSize) == len(keys)


async def test_walks_a_show(plex: Plex, plex_server: PlexEmulator) -> None:
    """A show's ``seasons()`` and ``episodes()``, and a season's ``episodes()``."""
    world_show = first_of_kind(plex_server, "show")
    show = await plex.run(plex.server.fetchItem, world_show.rating_key)
    assert (show.type, show.title) == ("show", world_show.title)

    seasons = await plex.run(show.seasons)
    world_seasons = plex_server.library.children(world_show)
    assert [season.ratingKey for season in seasons] == [
        s.rating_key for s in world_seasons
    ]
    assert [season.index for season in seasons] == sorted(
        season.index for season in seasons
    )

    episodes = await plex.run(show.episodes)
    assert [e.ratingKey for e in episodes] == [
        e.rating_key for e in plex_server.library.leaves(world_show)
    ]
    assert {e.grandparentTitle for e in episodes} == {world_show.title}

    first_season = seasons[0]
    season_episodes = await plex.run(first_season.episodes)
    assert [e.ratingKey for e in season_episodes] == [
        e.rating_key for e in plex_server.library.children(world_seasons[0])
    ]
    assert {e.parentIndex for e in season_episodes} == {first_season.index}


async def test_reads_sessions(plex: Plex, plex_server: PlexEmulator) -> None:
    """``sessions()`` gives user, player, session and transcode details, live."""
    movie, episode = (
        first_of_kind(plex_server, "movie"),
        first_of_kind(plex_server, "episode"),
    )
    plex_server.sessions.start_session(
        player="Living Room TV", rating_key=movie.rating_key, user="Sam"
    )
    plex_server.sessions.start_session(
        player="Bedroom",
        rating_key=episode.rating_key,
        transcode=True,
        bandwidth=4000,
        location="wan",
    )
    plex_server.sessions.advance(30)

    sessions = {s.player.title: s for s in await plex.run(plex.server.sessions)}
    assert set(sessions) == {"Living Room TV", "Bedroom"}

    direct = sessions["Living Room TV"]
    assert (direct.ratingKey, direct.type, direct.usernames) == (
        movie.rating_key,
        "movie",
        ["Sam"],
    )
    assert (direct.player.state, direct.player.product) == (
        "playing",
        "Plex for Android (TV)",
    )
    assert (direct.session.location, direct.viewOffset) == ("lan", 30_000)
    assert direct.transcodeSession is None
    assert direct.media[0].parts[0].decision == "directplay"

    transcoded = sessions["Bedroom"]
    assert (transcoded.ratingKey, transcoded.type) == (episode.rating_key, "episode")
    assert (transcoded.session.location, transcoded.session.bandwidth) == ("wan", 4000)
    assert transcoded.usernames == [plex_server.owner_name]
    assert transcoded.transcodeSession is not None
    assert transcoded.transcodeSession.videoDecision == "transcode"


async def test_reads_clients(plex: Plex, plex_server: PlexEmulator) -> None:
    """``clients()`` lists every simulated player by name, identifier and product."""
    clients = await plex.run(plex.server.clients)
    listed = {(c.title, c.machineIdentifier, c.product) for c in clients}
    assert listed == {
        (p.title, p.machine_identifier, p.product) for p in plex_server.players
    }
    bedroom = next(c for c in clients if c.title == "Bedroom")
    assert "playback" in bedroom.protocolCapabilities


def movies_titled(emu: PlexEmulator) -> tuple[str, set[int]]:
    """A word of a movie's title, and the ratingKeys of every movie whose title has it."""
    word = max(first_of_kind(emu, "movie").title.split(), key=len)
    keys = {
        item.rating_key
        for item in emu.library.items.values()
        if item.kind == "movie" and word.lower() in item.title.lower()
    }
    return word, keys


async def test_searches_hubs(plex: Plex, plex_server: PlexEmulator) -> None:
    """``server.search()`` (``/hubs/search``) finds the movies whose title has a word."""
    word, expected = movies_titled(plex_server)
    found = await plex.run(plex.server.search, word)
    assert expected
    assert expected <= {item.ratingKey for item in found if item.type == "movie"}


async def test_searches_library_by_title(plex: Plex, plex_server: PlexEmulator) -> None:
    """``library.search(title=)`` (``/library/all``) finds the movies whose title has a word."""
    word, expected = movies_titled(plex_server)
    titled = await plex.run(plex.server.library.search, title=word, libtype="movie")
    assert {item.ratingKey for item in titled} == expected


async def test_lists_playlists_and_collections(
    plex: Plex, plex_server: PlexEmulator
) -> None:
    """``playlists()`` with their items, and a section's ``collections()`` with theirs."""
    playlists = await plex.run(plex.server.playlists)
    world_playlists = plex_server.library.playlists
    assert {p.ratingKey: p.title for p in playlists} == {
        k: p.title for k, p in world_playlists.items()
    }
    playlist = playlists[0]
    items = await plex.run(playlist.items)
    assert [i.ratingKey for i in items] == [
        item.rating_key for _, item in world_playlists[playlist.ratingKey].entries
    ]

    world_section = section_of_type(plex_server, "movie")
    section = await plex.run(plex.server.library.sectionByID, world_section.id)
    collections = await plex.run(section.collections)
    world_collections = {
        key: c
        for key, c in plex_server.library.collections.items()
        if c.section is world_section
    }
    assert {c.ratingKey: c.title for c in collections} == {
        k: c.title for k, c in world_collections.items()
    }
    collection = collections[0]
    members = await plex.run(collection.items)
    assert {m.ratingKey for m in members} == {
        i.rating_key for i in world_collections[collection.ratingKey].items
    }


async def test_plays_a_play_queue_on_a_player(
    plex: Plex, plex_server: PlexEmulator
) -> None:
    """``PlayQueue.create`` then ``playMedia``, ``pause``, ``seekTo`` through the server."""
    world_movie = first_of_kind(plex_server, "movie")
    movie = await plex.run(plex.server.fetchItem, world_movie.rating_key)
    queue = await plex.run(PlayQueue.create, plex.server, movie)
    assert queue.playQueueTotalCount == 1
    assert [item.ratingKey for item in queue.items] == [world_movie.rating_key]

    client = await plex.run(plex.server.client, "Bedroom")
    client.proxyThroughServer()
    player = plex_server.players.require("Bedroom")

    await plex.run(client.playMedia, queue)
    session = plex_server.sessions.for_player(player)
    assert session is not None
    assert (player.state, session.item.rating_key) == (
        "playing",
        world_movie.rating_key,
    )
    assert session.play_queue.id == queue.playQueueID

    await plex.run(client.pause)
    assert (player.state, session.state) == ("paused", "paused")

    await plex.run(client.seekTo, 120_000)
    assert plex_server.sessions.position(session) == 120_000

    commands = [
        c
        for c in plex_server.players.commands
        if c.machine_identifier == player.machine_identifier
    ]
    assert [c.command for c in commands] == [
        "playback/playMedia",
        "playback/pause",
        "playback/seekTo",
    ]
    assert [c.command_id for c in commands] == [1, 2, 3]
    assert commands[-1].params["offset"] == "120000"


async def test_plays_an_item_on_a_player_that_answers_ok(
    plex: Plex, plex_server: PlexEmulator
) -> None:
    """``playMedia(item)`` makes its own queue; Android TV's bare ``OK`` is accepted."""
    world_episode = first_of_kind(plex_server, "episode")
    episode = await plex.run(plex.server.fetchItem, world_episode.rating_key)
    client = await plex.run(plex.server.client, "Living Room TV")
    client.proxyThroughServer()

    await plex.run(client.playMedia, episode, offset=90_000)
    player = plex_server.players.require("Living Room TV")
    session = plex_server.sessions.for_player(player)
    assert session is not None
    assert (session.item.rating_key, plex_server.sessions.position(session)) == (
        world_episode.rating_key,
        90_000,
    )
    (command,) = plex_server.players.commands
    assert (command.command, command.params["key"]) == (
        "playback/playMedia",
        f"/library/metadata/{world_episode.rating_key}",
    )
    assert command.params["machineIdentifier"] == plex_server.machine_identifier


async def test_a_player_that_refuses_control(
    plex: Plex, plex_server: PlexEmulator
) -> None:
    """Plex Web takes no remote control: the server answers 406, plexapi raises."""
    client = await plex.run(plex.server.client, "Chrome")
    client.proxyThroughServer()
    with pytest.raises(BadRequest, match="406"):
        await plex.run(client.pause)
    assert plex_server.players.require("Chrome").state == "stopped"


async def test_terminates_a_session(plex: Plex, plex_server: PlexEmulator) -> None:
    """A session's ``stop(reason=)`` ends it and tells the player why."""
    movie = first_of_kind(plex_server, "movie")
    plex_server.sessions.start_session(
        player="Living Room TV", rating_key=movie.rating_key
    )
    (playing,) = await plex.run(plex.server.sessions)

    await plex.run(playing.stop, reason="Time for bed")
    assert plex_server.sessions.sessions == []
    assert (
        plex_server.players.require("Living Room TV").termination_reason
        == "Time for bed"
    )
    assert await plex.run(plex.server.sessions) == []


async def test_reads_history(plex: Plex, plex_server: PlexEmulator) -> None:
    """``history()`` lists a finished play first, with who watched it and when."""
    movie = first_of_kind(plex_server, "movie")
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key=movie.rating_key, user="Sam"
    )
    plex_server.sessions.seek(session, session.duration - 60_000)
    plex_server.sessions.advance(30)  # 30 s short of the end: well past Plex's 90 %
    finished_at = plex_server.clock.timestamp()
    plex_server.sessions.stop_session(session)

    history = await plex.run(plex.server.history)
    assert history, "the history is empty after a finished play"
    latest = history[0]
    assert (latest.ratingKey, latest.accountID) == (movie.rating_key, 1000)
    assert int(latest.viewedAt.timestamp()) == finished_at
    sams = await plex.run(plex.server.history, accountID=1000)
    assert {entry.accountID for entry in sams} == {1000}
