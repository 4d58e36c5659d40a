"""The mirror's sync engine against the emulator, with a real SQLite file.

The client is our real ``PlexClient`` on an aiohttp session; the server is the
``plex_server`` emulator on the test's loop. Interruptions are real too: a task
cancelled mid-sync, the emulator answering 503 from some page on, and a store whose
disk fails on the n-th write (a store subclass: a fake disk, not a fake server).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from custom_components.plex_bridge.api.breaker import CircuitBreaker
from custom_components.plex_bridge.api.client import PlexClient, PlexUnavailableError
from custom_components.plex_bridge.mirror import sync as sync_module
from custom_components.plex_bridge.mirror.db import MirrorDB
from custom_components.plex_bridge.mirror.paths import PathMapper
from custom_components.plex_bridge.mirror.store import MirrorStore
from custom_components.plex_bridge.mirror.sync import (
    MirrorSync,
    SyncProgress,
    SyncResult,
)
from tests.plex_server import PlexEmulator

KIND_TYPES = {
    "movie": 1,
    "show": 2,
    "season": 3,
    "episode": 4,
    "artist": 8,
    "album": 9,
    "track": 10,
    "photo": 13,
    "photoalbum": 14,
}
LISTING = "/library/sections/{id}/all"


def emulator_counts(emu: PlexEmulator) -> dict[str, dict[int, int]]:
    """Library key -> Plex type -> items, as the emulator holds them."""
    return {
        str(section.id): {
            KIND_TYPES[kind]: len(items)
            for kind, items in section.by_kind.items()
            if items and kind in KIND_TYPES
        }
        for section in emu.library.sections.values()
    }


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pages of 4 items, so that the small world takes several pages per type."""
    monkeypatch.setattr(sync_module, "PAGE_SIZE", 4)
    monkeypatch.setattr(sync_module, "KEYS_PAGE_SIZE", 4)
    return 4


async def counts(db: MirrorDB) -> dict[str, dict[int, int]]:
    """The mirror's counts (empty libraries left out, like the emulator's)."""
    found = await db.call(lambda store: store.counts())
    return {key: {t: n for t, n in types.items() if n} for key, types in found.items()}


def listing_requests(client: PlexClient) -> int:
    """How many listing requests (``/library/sections/N/all``) the client sent."""
    return sum(
        n
        for path, n in client.request_counts.items()
        if path.startswith("/library/sections/") and path.endswith("/all")
    )


async def test_full_sync_mirrors_every_type(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """Every movie, show, season, episode, artist, album, track, photo album, photo."""
    seen: list[SyncProgress] = []
    result = await MirrorSync(client, db, on_progress=seen.append).full()

    expected = emulator_counts(plex_server)
    assert await counts(db) == expected
    total = sum(n for types in expected.values() for n in types.values())
    assert result.kind == "full"
    assert result.added == total == len(result.added_keys)
    assert result.updated == result.removed == 0
    assert sorted(result.libraries) == sorted(expected)
    assert result.requests == client.requests_made
    # Progress ends at 100% for every library, with its title.
    last = {progress.library_key: progress for progress in seen}
    assert {p.percent for p in last.values()} == {100.0}
    assert last["2"].library_title == "TV Shows"
    assert last["2"].done == last["2"].total == sum(expected["2"].values())
    # The items carry what the store reads from the JSON (guids included).
    matrix = await db.call(lambda store: store.item("1"))
    assert matrix is not None
    assert matrix.title == "The Matrix"
    ids = plex_server.library.get("1").external_ids
    assert ids is not None
    imdb, tmdb, _ = ids
    assert matrix.guids["imdb"] == f"tt{imdb:07d}"
    assert matrix.guids["tmdb"] == str(tmdb)
    pilot = await db.call(lambda store: store.item("15"))
    assert pilot is not None
    assert (pilot.type, pilot.parent_key, pilot.grandparent_key) == (
        "episode",
        "14",
        "13",
    )
    album = await db.call(lambda store: store.item("70"))
    assert album is not None
    assert album.type == "photoalbum"
    state = await db.call(lambda store: store.sync_state("1"))
    assert state.progress == {}
    assert state.cursor is not None
    # The newest stamp when the sync began: that of the last updated movie.
    top = max(
        plex_server.library.sections[1].by_kind["movie"], key=lambda i: i.updated_at
    )
    assert state.cursor == max(top.updated_at, top.added_at, top.last_viewed_at or 0)


async def test_full_sync_costs_pages_not_shows(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB, small_pages: int
) -> None:
    """Only listings are read, one request per page of a type (plus its count)."""
    await MirrorSync(client, db).full()

    assert not [p for p in client.request_counts if p.startswith("/library/metadata")]
    expected = emulator_counts(plex_server)
    pages = sum(
        1 + -(-n // small_pages)  # the count, then the pages
        for types in expected.values()
        for n in types.values()
    )
    # ... and the watch-window probes of each library before its pages: the
    # newest play, then the plays within the margin before it (none: one probe).
    leaf_kinds = {
        "movie": "movie",
        "show": "episode",
        "artist": "track",
        "photo": "photo",
    }
    probes = sum(
        2
        if any(
            leaf.last_viewed_at for leaf in section.by_kind[leaf_kinds[section.type]]
        )
        else 1
        for section in plex_server.library.sections.values()
    )
    assert listing_requests(client) == pages + probes
    assert set(client.request_counts) == {"/library/sections"} | {
        f"/library/sections/{key}/all" for key in expected
    }
    assert await counts(db) == expected


async def test_paths_are_mapped(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """The path mapper given to the sync reaches the store's parts."""
    mapper = PathMapper([{"plex": "/data/movies", "local": "D:\\Media\\Movies"}])
    await MirrorSync(client, db, paths=mapper, libraries=["1"]).full()

    matrix = await db.call(lambda store: store.item("1"))
    assert matrix is not None
    assert matrix.parts
    plex_path, local = matrix.parts[0]
    assert plex_path.startswith("/data/movies/")
    assert local is not None
    assert local.startswith("D:\\Media\\Movies\\")
    # Only the library asked for is mirrored.
    assert set(await counts(db)) == {"1"}


async def test_incremental_without_changes_is_one_request_per_library(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """Sections once, then one watch probe per library: fewer than its types."""
    sync = MirrorSync(client, db)
    await sync.full()
    before = client.requests_made

    result = await sync.incremental()

    assert (result.added, result.updated, result.removed) == (0, 0, 0)
    libraries = len(plex_server.library.sections)
    types = sum(len(t) for t in emulator_counts(plex_server).values())
    assert result.requests == client.requests_made - before == 1 + libraries
    assert result.requests <= types


async def test_incremental_applies_updates_additions_and_deletions(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """Changed, new and deleted items (a show with its seasons and episodes)."""
    library = plex_server.library
    sync = MirrorSync(client, db)
    await sync.full()
    show = library.sections[2].by_kind["show"][-1]
    doomed = {item.rating_key for item in show.walk()}
    assert len(doomed) > 3

    library.update_item("1", title="The Matrix (4K)")
    season = library.sections[2].by_kind["season"][0]
    episode = library.add_item(2, "A New Episode", parent=season.rating_key)
    library.delete_item(show.rating_key)
    track = library.sections[3].by_kind["track"][0]
    library.delete_item(track.rating_key)

    result = await sync.incremental()

    assert await counts(db) == emulator_counts(plex_server)
    matrix = await db.call(lambda store: store.item("1"))
    assert matrix is not None
    assert matrix.title == "The Matrix (4K)"
    new = await db.call(lambda store: store.item(str(episode.rating_key)))
    assert new is not None
    assert new.parent_key == str(season.rating_key)
    assert str(episode.rating_key) in result.added_keys
    gone = await db.call(lambda store: store.items([str(key) for key in doomed]))
    assert gone == []
    assert result.removed == len(doomed) + 1
    assert result.added == 1
    # The next run finds nothing more to do.
    again = await sync.incremental()
    assert (again.added, again.updated, again.removed) == (0, 0, 0)


async def test_incremental_picks_up_watched_state(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """Watching changes no ``updatedAt``; ``lastViewedAt>>=`` finds it anyway."""
    library = plex_server.library
    sync = MirrorSync(client, db)
    await sync.full()
    movie = next(m for m in library.sections[1].by_kind["movie"] if not m.view_count)
    stamp = library.sections[1].content_changed_at
    plex_server.clock.advance(3600)

    library.mark_watched(movie.rating_key)
    assert library.sections[1].content_changed_at == stamp
    result = await sync.incremental()

    item = await db.call(lambda store: store.item(str(movie.rating_key)))
    assert item is not None
    assert item.view_count == 1
    assert item.last_viewed_at == movie.last_viewed_at
    assert result.updated >= 1
    # A watched episode also refreshes its season and show.
    episode = library.sections[2].by_kind["episode"][-1]
    library.mark_watched(episode.rating_key)
    before = client.request_counts.copy()
    await sync.incremental()
    batches = [
        path
        for path in client.request_counts - before
        if path.startswith("/library/metadata/")
    ]
    # One batched read of the parents (those of anything played within the
    # margin before the cursor come along).
    assert len(batches) == 1
    asked = set(batches[0].rsplit("/", 1)[1].split(","))
    parent = episode.parent
    assert parent is not None
    assert parent.parent is not None
    assert {str(parent.rating_key), str(parent.parent.rating_key)} <= asked
    season = await db.call(lambda store: store.item(str(parent.rating_key)))
    assert season is not None
    assert season.last_viewed_at == episode.last_viewed_at
    # Then it is quiet again.
    quiet = await sync.incremental()
    assert quiet.requests == 1 + len(library.sections)


async def test_refetch_and_remove(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """Timeline-driven updates: one batched read for several items; removal."""
    library = plex_server.library
    sync = MirrorSync(client, db)
    await sync.full()
    library.update_item("1", title="Renamed 1")
    library.update_item("2", title="Renamed 2")
    library.delete_item("3")

    result = await sync.refetch(["1", "2", "3"])

    assert client.request_counts["/library/metadata/1,2,3"] == 1
    assert result.updated == 2
    assert result.removed == 1
    titles = [i.title for i in await db.call(lambda s: s.items(["1", "2", "3"]))]
    assert sorted(titles) == ["Renamed 1", "Renamed 2"]

    season = library.sections[2].by_kind["season"][0]
    assert season.parent is not None
    show_key = str(season.parent.rating_key)
    before = client.request_counts.copy()
    removed = await sync.remove([str(season.rating_key)])
    assert removed.removed == 1 + len(season.children or [])
    # Its show is read again (one request): its counts changed with it.
    assert client.request_counts - before == {f"/library/metadata/{show_key}": 1}
    assert removed.updated == 1

    # A new episode brings its season and show along, in the same few requests.
    target = library.sections[2].by_kind["season"][-1]
    episode = library.add_item(2, "Fresh", parent=target.rating_key)
    before = client.request_counts.copy()
    added = await sync.refetch([str(episode.rating_key)])
    assert added.added == 1
    assert added.updated == 2
    assert sum((client.request_counts - before).values()) == 2


async def test_cancelled_full_sync_resumes(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB, small_pages: int
) -> None:
    """A cancel keeps every committed page; the next full sync starts after them."""
    task: asyncio.Task[SyncResult] | None = None
    pages = 0

    def cancel_after_three_pages(progress: SyncProgress) -> None:
        nonlocal pages
        if progress.library_key == "2" and progress.done > 0:
            pages += 1
            if pages == 3 and task is not None:
                task.cancel()

    sync = MirrorSync(client, db, on_progress=cancel_after_three_pages)
    task = asyncio.ensure_future(sync.full())
    with pytest.raises(asyncio.CancelledError):
        await task

    state = await db.call(lambda store: store.sync_state("2"))
    assert state.cursor is None
    assert state.progress  # offsets of the committed pages
    partial = await counts(db)
    assert partial["1"] == emulator_counts(plex_server)["1"]  # finished before
    committed = sum(partial.get("2", {}).values())
    assert committed == sum(v for t, v in state.progress.items() if t)
    assert 0 < committed < sum(emulator_counts(plex_server)["2"].values())

    # The next full sync reads only what is left.
    before = listing_requests(client)
    resumed = await MirrorSync(client, db).full(["2"])
    expected = emulator_counts(plex_server)
    assert (await counts(db))["2"] == expected["2"]
    items = sum(expected["2"].values())
    # A fresh run: a count per type, its pages, two watch probes.
    fresh_pages = sum(1 + -(-n // small_pages) for n in expected["2"].values()) + 2
    assert listing_requests(client) - before <= fresh_pages - 3
    assert resumed.added == items - committed
    state = await db.call(lambda store: store.sync_state("2"))
    assert state.progress == {}
    assert state.cursor is not None


async def test_server_going_away_mid_sync_resumes(
    plex_server: PlexEmulator, db: MirrorDB, small_pages: int
) -> None:
    """From some page on the listing answers 503: the mirror stays at its last commit."""
    now = [0.0]
    session = aiohttp.ClientSession()
    client = PlexClient(
        session,
        plex_server.url,
        plex_server.token,
        jitter=lambda: 0.0,
        breaker=CircuitBreaker(clock=lambda: now[0]),
    )
    try:
        await _server_going_away(plex_server, client, db, small_pages, now)
    finally:
        await session.close()


async def _server_going_away(
    plex_server: PlexEmulator,
    client: PlexClient,
    db: MirrorDB,
    small_pages: int,
    now: list[float],
) -> None:
    faulted = False

    def fail_listing(progress: SyncProgress) -> None:
        nonlocal faulted
        if progress.library_key == "2" and progress.done >= 8 and not faulted:
            faulted = True
            plex_server.faults.add(LISTING, status=503)

    with pytest.raises(PlexUnavailableError):
        await MirrorSync(client, db, on_progress=fail_listing).full(["2"])

    state = await db.call(lambda store: store.sync_state("2"))
    assert state.cursor is None
    committed = sum((await counts(db)).get("2", {}).values())
    assert committed == sum(v for t, v in state.progress.items() if t) >= 8

    plex_server.faults.clear()
    plex_server.faults.reset_counts()
    now[0] += client.breaker.cooldown + 1  # the breaker lets requests through again
    resumed = await MirrorSync(client, db).full(["2"])
    expected = emulator_counts(plex_server)["2"]
    assert (await counts(db))["2"] == expected
    assert resumed.added == sum(expected.values()) - committed
    # Pages already committed were not asked for again: the first page of shows
    # (offset 0) is read by the first run only.
    assert plex_server.faults.count(LISTING) < sum(
        1 + -(-n // small_pages) for n in expected.values()
    )


class FailingDiskStore(MirrorStore):
    """A store whose disk fails on one write (the n-th ``upsert_items``)."""

    fail_on = 4  # the first call saves the start stamp, then two pages
    calls = 0

    def upsert_items(self, *args: Any, **kwargs: Any) -> Any:
        """Count, and raise instead of writing on the n-th call."""
        type(self).calls += 1
        if type(self).calls == self.fail_on:
            raise OSError("disk I/O error")
        return super().upsert_items(*args, **kwargs)


async def test_a_page_that_cannot_be_read_is_read_again(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB, small_pages: int
) -> None:
    """A page whose body is not JSON is fetched again, and the sync goes on.

    A full sync keeps the pages it fetched ahead undecoded until their turn; the one
    that fails to decode then is read again through the client's retries.
    """
    fault = plex_server.faults.add(
        LISTING.format(id=2),
        malformed=True,
        times=1,
        query={"type": "4", "X-Plex-Container-Start": str(small_pages)},
    )

    result = await MirrorSync(client, db).full()

    assert fault.fired == 1
    assert await counts(db) == emulator_counts(plex_server)
    assert result.added == sum(
        n for types in emulator_counts(plex_server).values() for n in types.values()
    )


async def test_write_failure_leaves_last_commit_and_resumes(
    plex_server: PlexEmulator, client: PlexClient, tmp_path: Path, small_pages: int
) -> None:
    """A write that fails: the pages before it stay, the next sync resumes."""
    FailingDiskStore.calls = 0
    path = tmp_path / "mirror.db"
    failing, _ = await MirrorDB.open(path, store_class=FailingDiskStore)
    try:
        with pytest.raises(OSError, match="disk I/O error"):
            await MirrorSync(client, failing).full(["1"])
        state = await failing.call(lambda store: store.sync_state("1"))
        assert {t: v for t, v in state.progress.items() if t} == {1: 2 * small_pages}
        assert await failing.call(lambda store: store.count("1")) == 2 * small_pages
    finally:
        await failing.close()

    db, _ = await MirrorDB.open(path)
    try:
        before = listing_requests(client)
        result = await MirrorSync(client, db).full(["1"])
        movies = emulator_counts(plex_server)["1"][1]
        assert await db.call(lambda store: store.count("1")) == movies
        assert result.added == movies - 2 * small_pages
        # count + the two watch probes + the pages after the second
        left = -(-(movies - 2 * small_pages) // small_pages)
        assert listing_requests(client) - before == 1 + 2 + left
    finally:
        await db.close()


async def test_full_sync_removes_what_the_server_lost(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """A second full sync also drops items deleted meanwhile (keys reconciled)."""
    sync = MirrorSync(client, db)
    await sync.full()
    artist = plex_server.library.sections[3].by_kind["artist"][0]
    gone = {item.rating_key for item in artist.walk()}
    plex_server.library.delete_item(artist.rating_key)

    result = await sync.full(["3"])

    assert result.removed == len(gone)
    assert (await counts(db))["3"] == emulator_counts(plex_server)["3"]


async def test_unknown_library_is_refused(client: PlexClient, db: MirrorDB) -> None:
    """Naming a library the server does not have is an error, not a silent no-op."""
    with pytest.raises(KeyError, match="99"):
        await MirrorSync(client, db).full(["99"])


async def test_deleted_episode_is_found_through_its_season(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """Only the season whose leaf count changed is read, not every episode."""
    library = plex_server.library
    sync = MirrorSync(client, db)
    await sync.full()
    show = library.sections[2].by_kind["show"][0]
    episode = show.leaves()[-1]
    season = episode.parent
    assert season is not None
    library.delete_item(episode.rating_key)
    before = client.request_counts.copy()

    result = await sync.incremental()

    assert result.removed == 1
    assert await db.call(lambda store: store.item(str(episode.rating_key))) is None
    asked = client.request_counts - before
    children = [path for path in asked if path.endswith(("/children", "/allLeaves"))]
    # The season's episodes come in one listing (season.id=, test_sync_ranges.py).
    assert children == []
    assert (await counts(db))["2"] == emulator_counts(plex_server)["2"]
    # The season and the show were read again: their leaf counts changed.
    parents = ",".join(sorted([str(season.rating_key), str(show.rating_key)]))
    assert asked[f"/library/metadata/{parents}"] == 1, asked


async def test_margin_rereads_are_not_rewritten(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """Items re-read within the margin but unchanged count (and cost) nothing."""
    library = plex_server.library
    episodes = library.sections[2].by_kind["episode"]
    # A scan stamps several items with the same second: the cursor lands on it.
    for episode in episodes[:3]:
        library.update_item(episode.rating_key, summary="Rescanned")
    sync = MirrorSync(client, db)
    await sync.full()
    cursor = (await db.call(lambda store: store.sync_state("2"))).cursor
    assert cursor == episodes[0].updated_at
    plex_server.clock.advance(5)
    # A deletion in the library read first must not make the next one forget.
    library.delete_item(library.sections[1].by_kind["movie"][-1].rating_key)
    library.update_item(episodes[-1].rating_key, title="Renamed")
    before = client.request_counts.copy()

    result = await sync.incremental()

    # The three were read again (they lie within the margin) but not rewritten.
    asked = client.request_counts - before
    assert asked["/library/sections/2/all"] >= 3
    assert (result.added, result.updated, result.removed) == (0, 1, 1)
    item = await db.call(lambda store: store.item(str(episodes[-1].rating_key)))
    assert item is not None
    assert item.title == "Renamed"


async def test_changes_during_a_full_sync_are_not_skipped(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB, small_pages: int
) -> None:
    """A page changed after it was read is found by the next incremental.

    It changed before items on later pages did: a cursor taken from those would
    pass it by. The cursor stops at the newest stamp from when the sync began.
    """
    library = plex_server.library
    movies = library.sections[1].by_kind["movie"]
    first_page = sorted(movies, key=lambda m: m.added_at)[:small_pages]
    early, late = first_page[0], max(movies, key=lambda m: m.added_at)
    changed = False

    def change_mid_sync(progress: SyncProgress) -> None:
        nonlocal changed
        if progress.library_key == "1" and progress.done >= small_pages and not changed:
            changed = True
            plex_server.clock.advance(10)
            library.update_item(early.rating_key, title="Changed early")
            plex_server.clock.advance(1000)
            library.update_item(late.rating_key, title="Changed late")

    sync = MirrorSync(client, db, on_progress=change_mid_sync)
    await sync.full(["1"])
    assert changed
    stale = await db.call(lambda store: store.item(str(early.rating_key)))
    assert stale is not None
    assert stale.title != "Changed early"  # its page was read before the change

    await sync.incremental(["1"])

    fresh = await db.call(lambda store: store.items([str(early.rating_key)]))
    assert [item.title for item in fresh] == ["Changed early"]
    last = await db.call(lambda store: store.item(str(late.rating_key)))
    assert last is not None
    assert last.title == "Changed late"
