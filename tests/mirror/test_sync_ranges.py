"""Deletions of flat types (movies, photos, shows, artists) narrowed by addedAt ranges.

Against the emulator over real HTTP; the requests are observed with an aiohttp
trace on the session (what went on the wire, not a patched client).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from yarl import URL

from custom_components.plex_bridge.api.client import PlexClient
from custom_components.plex_bridge.mirror import sync as sync_module
from custom_components.plex_bridge.mirror.db import MirrorDB
from custom_components.plex_bridge.mirror.sync import MirrorSync
from tests.plex_server import PlexEmulator
from tests.plex_server.shaping import ResponseShape

MOVIES = "/library/sections/1/all"


@pytest.fixture
async def traced(
    plex_server: PlexEmulator,
) -> AsyncIterator[tuple[PlexClient, list[URL]]]:
    """Our client, and the URLs of every request it sent."""
    sent: list[URL] = []

    async def on_start(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
    ) -> None:
        sent.append(params.url)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = PlexClient(
            session, plex_server.url, plex_server.token, jitter=lambda: 0.0
        )
        yield client, sent


@pytest.fixture
def ranges(monkeypatch: pytest.MonkeyPatch) -> int:
    """Ranges of two movies at least, six at most (the small world has a dozen)."""
    monkeypatch.setattr(sync_module, "RANGE_MIN", 2)
    monkeypatch.setattr(sync_module, "RANGES", 6)
    return 6


def movie_listings(sent: list[URL]) -> list[URL]:
    """Listings of the movie type."""
    return [url for url in sent if url.path == MOVIES and url.query.get("type") == "1"]


async def test_deleted_movies_are_found_by_counting_ranges(
    plex_server: PlexEmulator,
    traced: tuple[PlexClient, list[URL]],
    db: MirrorDB,
    ranges: int,
) -> None:
    """Only the ranges whose counts differ are read; an old item no stamp shows is found."""
    client, sent = traced
    library = plex_server.library
    sync = MirrorSync(client, db)
    await sync.full()
    movies = sorted(
        library.sections[1].by_kind["movie"],
        key=lambda item: (item.added_at, item.rating_key),
    )
    middle = movies[len(movies) // 2].added_at
    doomed = [movies[0], movies[-1]]
    for movie in doomed:
        library.delete_item(movie.rating_key)
    # Added with old stamps (a restored file, say): no addedAt/updatedAt query finds
    # it, but its range's count grew. (Within one range, one added and one removed
    # would cancel out, as they do in a type's total.)
    old = library.add_item(1, "Found Again", addedAt=middle, updatedAt=middle)
    sent.clear()

    result = await sync.incremental()

    assert result.removed == len(doomed)
    assert str(old.rating_key) in result.added_keys
    keys = await db.call(lambda store: store.rating_keys("1", 1))
    assert keys == {
        str(movie.rating_key) for movie in library.sections[1].by_kind["movie"]
    }
    listings = movie_listings(sent)
    # (The change queries, addedAt>> too, ask for the Guid elements; ranges do not.)
    ranged = [
        url
        for url in listings
        if ("addedAt<<" in url.query or "addedAt>>" in url.query)
        and "includeGuids" not in url.query
    ]
    counted = [url for url in ranged if url.query.get("X-Plex-Container-Size") == "0"]
    read = [url for url in ranged if url.query.get("X-Plex-Container-Size") != "0"]
    # Every range counted once; read: the oldest, the middle one and the newest,
    # their keys only.
    assert len(counted) == ranges
    assert len(read) == 3
    assert all(url.query.get("includeFields") == "ratingKey" for url in read)
    assert all("Media" in url.query.get("excludeElements", "") for url in read)
    # No read of every movie's key.
    whole = [
        url
        for url in listings
        if url not in ranged
        and url.query.get("X-Plex-Container-Size") == str(sync_module.KEYS_PAGE_SIZE)
    ]
    assert whole == []
    again = await sync.incremental()
    assert (again.added, again.updated, again.removed) == (0, 0, 0)


async def test_small_types_are_read_whole(
    plex_server: PlexEmulator, traced: tuple[PlexClient, list[URL]], db: MirrorDB
) -> None:
    """A type with fewer than two ranges' worth of items is simply read (keys only)."""
    client, sent = traced
    library = plex_server.library
    sync = MirrorSync(client, db)
    await sync.full()
    movie = library.sections[1].by_kind["movie"][3]
    library.delete_item(movie.rating_key)
    sent.clear()

    result = await sync.incremental()

    assert result.removed == 1
    listings = movie_listings(sent)
    assert not [url for url in listings if "addedAt<<" in url.query]
    assert [
        url
        for url in listings
        if url.query.get("X-Plex-Container-Size") == str(sync_module.KEYS_PAGE_SIZE)
    ]


async def test_deleted_episodes_are_found_through_their_seasons(
    plex_server: PlexEmulator, traced: tuple[PlexClient, list[URL]], db: MirrorDB
) -> None:
    """One listing of the episodes under the seasons whose counts differ, keys only."""
    client, sent = traced
    library = plex_server.library
    sync = MirrorSync(client, db)
    await sync.full()
    shows = library.sections[2].by_kind["show"]
    doomed = [shows[0].leaves()[-1], shows[1].leaves()[0]]
    seasons = sorted(
        str(episode.parent.rating_key) for episode in doomed if episode.parent
    )
    for episode in doomed:
        library.delete_item(episode.rating_key)
    sent.clear()

    result = await sync.incremental()

    assert result.removed == len(doomed)
    keys = await db.call(lambda store: store.rating_keys("2", 4))
    assert keys == {
        str(item.rating_key) for item in library.sections[2].by_kind["episode"]
    }
    episodes = [
        url
        for url in sent
        if url.path == "/library/sections/2/all" and url.query.get("type") == "4"
    ]
    under = [url for url in episodes if "season.id" in url.query]
    assert [url.query["season.id"] for url in under] == [",".join(seasons)]
    assert all("includeGuids" not in url.query for url in under)
    assert [url.query.get("includeFields") for url in under] == ["ratingKey"]
    # The seasons' counts: keys and leafCount alone.
    assert [
        url.query.get("includeFields")
        for url in sent
        if url.path == "/library/sections/2/all"
        and url.query.get("type") == "3"
        and "updatedAt>>" not in url.query
        and "addedAt>>" not in url.query
        and url.query.get("X-Plex-Container-Size") != "0"
    ] == ["ratingKey,leafCount"]
    # Nothing else lists episodes but the change queries, the watch probe and the
    # count (X-Plex-Container-Size=0).
    others = [url for url in episodes if url not in under]
    assert all(
        {"updatedAt>>", "addedAt>>", "lastViewedAt>>"} & set(url.query)
        or url.query.get("X-Plex-Container-Size") == "0"
        for url in others
    )
    assert not [url for url in sent if url.path.endswith(("/children", "/allLeaves"))]


async def test_a_server_that_sends_whole_items_is_read_the_same(
    plex_server: PlexEmulator,
    traced: tuple[PlexClient, list[URL]],
    db: MirrorDB,
    ranges: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Plex may ignore ``includeFields``: deletions are found all the same.

    The emulator is made to answer whole items, as an endpoint that disregards
    the customization does (Plex's reference says they are requests).
    """
    client, _ = traced
    library = plex_server.library
    sync = MirrorSync(client, db)
    await sync.full()
    monkeypatch.setattr(ResponseShape, "from_query", classmethod(lambda cls, q: None))
    whole, _ = await client.section_metadata(
        "1", 1, size=1, guids=False, shape=sync_module.KEYS_ONLY
    )
    assert "title" in whole[0]
    assert "Media" in whole[0]
    movie = library.sections[1].by_kind["movie"][0]
    episode = library.sections[2].by_kind["show"][0].leaves()[0]
    for item in (movie, episode):
        library.delete_item(item.rating_key)

    result = await sync.incremental()

    assert result.removed == 2
    for section, plex_type, kind in (("1", 1, "movie"), ("2", 4, "episode")):
        keys = await db.call(
            lambda store, s=section, t=plex_type: store.rating_keys(s, t)
        )
        assert keys == {
            str(item.rating_key)
            for item in library.sections[int(section)].by_kind[kind]
        }
