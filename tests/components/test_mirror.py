"""The library mirror through Home Assistant, against the emulator.

Setup starts a full sync in the background; the mirror then follows the server by
itself (timeline notifications, library scans, a timer) and on demand (the
``sync`` action). Every wait is for an event (``plex_bridge_sync_finished``,
``plex_bridge_media_added``, a state change), never a sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import threading
from typing import Any

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.plex_bridge.const import (
    DOMAIN,
    EVENT_MEDIA_ADDED,
    EVENT_SYNC_FINISHED,
    OPTION_MIRROR_INTERVAL,
    OPTION_MIRROR_LIBRARIES,
)
from custom_components.plex_bridge.library_mirror import (
    FAILURES_FOR_ISSUE,
    PlexMirror,
    mirror_path,
)
from custom_components.plex_bridge.mirror.db import THREAD_NAME
from tests.plex_server import PlexEmulator
from tests.plex_server.items import Location, Section

from .conftest import async_wait_for_state, config_entry_for, wait_for_first_sync

SENSOR = "sensor.plex_bridge_emulator_library_mirror"
MATRIX = "1"
# The kinds of item the mirror holds (the emulator's names).
MIRRORED_KINDS = frozenset(
    {
        "movie",
        "show",
        "season",
        "episode",
        "artist",
        "album",
        "track",
        "photoalbum",
        "photo",
    }
)
PLAYER_ENTITY = "media_player.living_room_tv"
PLAYER_ID = "1234567890123456-com-plexapp-android"


# -- helpers --------------------------------------------------------------------------


class Events:
    """Every event of one type since the fixture started, and a wait for the next."""

    def __init__(self, hass: HomeAssistant, event_type: str) -> None:
        self.events: list[Event[Any]] = []
        self._woken = asyncio.Event()
        self._unsubscribe = hass.bus.async_listen(event_type, self._on_event)

    @callback
    def _on_event(self, event: Event[Any]) -> None:
        self.events.append(event)
        self._woken.set()

    async def wait(
        self,
        predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        *,
        after: int = 0,
    ) -> dict[str, Any]:
        """The data of the first event (from index ``after``) that matches, within 10 s."""
        async with asyncio.timeout(10):
            while True:
                self._woken.clear()
                for event in self.events[after:]:
                    if predicate(event.data):
                        return dict(event.data)
                await self._woken.wait()

    def close(self) -> None:
        """Stop listening."""
        self._unsubscribe()


@pytest.fixture
def finished(hass: HomeAssistant) -> Events:
    """``plex_bridge_sync_finished`` events (list before ``loaded_entry``)."""
    return Events(hass, EVENT_SYNC_FINISHED)


@pytest.fixture
def added(hass: HomeAssistant) -> Events:
    """``plex_bridge_media_added`` events (list before ``loaded_entry``)."""
    return Events(hass, EVENT_MEDIA_ADDED)


def mirror_of(entry: MockConfigEntry) -> PlexMirror:
    mirror = entry.runtime_data.mirror
    assert mirror is not None
    return mirror


def mirrored_items(emu: PlexEmulator) -> int:
    """How many items the emulator holds that a mirror copies."""
    return sum(item.kind in MIRRORED_KINDS for item in emu.library.items.values())


async def control(
    emu: PlexEmulator, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    """One call of the emulator's control API (``/_emulator/...``), over HTTP."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{emu.url}/_emulator{path}", json=body) as response,
    ):
        assert response.status < 300, await response.text()
        if response.content_type == "application/json":
            return await response.json()
        return None


async def sync(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "sync", data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def search(hass: HomeAssistant, **data: Any) -> list[dict[str, Any]]:
    response = await hass.services.async_call(
        DOMAIN, "search", data, blocking=True, return_response=True
    )
    assert response is not None
    results: list[dict[str, Any]] = response["results"]  # type: ignore[assignment]
    assert response["count"] == len(results)
    return results


def mute_timeline(emu: PlexEmulator) -> Callable[[], None]:
    """Keep the emulator's notifications to itself (so only a sync sees changes)."""
    emu.library.bind(lambda *args, **kwargs: None)
    return lambda: emu.library.bind(emu.notifications.publish)


# -- the first sync -------------------------------------------------------------------


async def test_first_full_sync_runs_in_the_background(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
    finished: Events,
    added: Events,
) -> None:
    """Setup returns at once; the sensor shows the sync, then its result."""
    states: list[tuple[str, dict[str, Any]]] = []

    @callback
    def record(event: Event[Any]) -> None:
        if event.data["entity_id"] == SENSOR and event.data["new_state"] is not None:
            new = event.data["new_state"]
            states.append((new.state, dict(new.attributes)))

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    result = await finished.wait()

    total = mirrored_items(plex_server)
    assert result["kind"] == "full"
    assert result["added"] == total
    assert result["updated"] == 0
    assert result["removed"] == 0
    assert result["server"] == plex_server.name
    assert result["server_id"] == plex_server.machine_identifier
    assert result["config_entry_id"] == mock_config_entry.entry_id
    assert sorted(result["libraries"]) == ["1", "2", "3", "4"]
    assert "added_keys" not in result
    # Not one "media added" for the items of the first sync.
    await hass.async_block_till_done()
    assert added.events == []

    # The sensor went through "syncing" with progress, and ended idle.
    syncing = [attributes for state, attributes in states if state == "syncing"]
    assert syncing
    with_progress = [a for a in syncing if a["percent"] is not None]
    assert with_progress
    assert all(0 <= a["percent"] <= 100 for a in with_progress)
    assert {a["library"] for a in with_progress} <= {
        "Movies",
        "TV Shows",
        "Music",
        "Photos",
    }
    state = await async_wait_for_state(hass, SENSOR, "idle")
    assert state.attributes["device_class"] == "enum"
    assert state.attributes["options"] == ["idle", "syncing", "error"]
    assert state.attributes["percent"] is None
    assert state.attributes["last_result"]["added"] == total
    assert state.attributes["error"] is None

    mirror = mirror_of(mock_config_entry)
    assert mirror.synced
    counts = await mirror.async_counts()
    assert sum(sum(per_type.values()) for per_type in counts.values()) == total
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_each_server_has_its_own_file(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
    finished: Events,
) -> None:
    entries = [config_entry_for(plex_server), config_entry_for(second_plex_server)]
    for entry in entries:
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    for entry in entries:
        await wait_for_first_sync(entry)
    assert {event.data["server_id"] for event in finished.events} == {
        plex_server.machine_identifier,
        second_plex_server.machine_identifier,
    }
    for emu in (plex_server, second_plex_server):
        path = mirror_path(hass, emu.machine_identifier)
        assert await hass.async_add_executor_job(path.is_file)
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)


async def test_unload_during_a_sync_is_clean(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    """Unloading cancels the running sync and closes the file; no thread is left."""
    # The server holds the first sync's pages until the test lets them go.
    fault = plex_server.faults.add(
        "/library/sections/{id}/all", hold=True, query={"includeGuids": "1"}
    )
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await async_wait_for_state(hass, SENSOR, "syncing")
    await fault.held()
    mirror = mirror_of(mock_config_entry)
    assert mirror.last_result is None
    # An action's sync waits for the running one.
    queued = asyncio.Event()
    unsubscribe = mirror.async_add_listener(
        lambda: queued.set() if mirror.pending_actions else None
    )
    action = hass.async_create_task(sync(hass, mode="full"))
    async with asyncio.timeout(5):
        await queued.wait()
    unsubscribe()

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as caught:
        await action
    assert caught.value.translation_key == "mirror_closed"
    assert fault.fired >= 1
    assert mirror.last_result is None  # cancelled, not finished
    assert mirror.db.closed
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]
    fault.release()
    plex_server.faults.clear()

    # The next setup resumes from what the cancelled sync committed.
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await wait_for_first_sync(mock_config_entry)
    mirror = mirror_of(mock_config_entry)
    assert mirror.synced
    counts = await mirror.async_counts()
    assert sum(sum(t.values()) for t in counts.values()) == mirrored_items(plex_server)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_corrupt_file_is_rebuilt_with_a_repair(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    path = mirror_path(hass, plex_server.machine_identifier)

    def write_garbage() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"this is no SQLite database\x00" * 100)

    await hass.async_add_executor_job(write_garbage)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"mirror_rebuilt_{mock_config_entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_key == "mirror_rebuilt"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["server"] == plex_server.name
    await wait_for_first_sync(mock_config_entry)
    mirror = mirror_of(mock_config_entry)
    assert mirror.last_result is not None
    assert mirror.last_result.added == mirrored_items(plex_server)
    aside = await hass.async_add_executor_job(
        lambda: [p.name for p in path.parent.iterdir() if ".corrupt-" in p.name]
    )
    assert len(aside) == 1
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


# -- following the server ---------------------------------------------------------------


async def test_incremental_sync_by_the_action(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    added: Events,
    loaded_entry: MockConfigEntry,
) -> None:
    """Changes the mirror heard nothing of are found by an incremental sync."""
    restore = mute_timeline(plex_server)
    try:
        await control(plex_server, "POST", "/clock/advance", {"seconds": 60})
        new = await control(
            plex_server,
            "POST",
            "/items",
            {"section": 1, "title": "Brand New Movie", "year": 2026},
        )
        await control(
            plex_server, "PATCH", f"/items/{MATRIX}", {"summary": "Neo wakes up."}
        )
        gone = next(
            item
            for item in plex_server.library.items.values()
            if item.kind == "movie" and item.title == "Spirited Away"
        )
        await control(plex_server, "DELETE", f"/items/{gone.rating_key}")
        plex_server.library.mark_watched("2")
        result = await sync(hass)
    finally:
        restore()
    assert result["kind"] == "incremental"
    assert result["server"] == plex_server.name
    assert result["added"] == 1
    assert result["updated"] >= 2  # the summary, the play
    assert result["removed"] == 1
    assert result["requests"] > 0

    mirror = mirror_of(loaded_entry)
    matrix = await mirror.async_item(MATRIX)
    assert matrix is not None
    assert matrix.summary == "Neo wakes up."
    watched = await mirror.async_item("2")
    assert watched is not None
    assert watched.view_count
    assert await mirror.async_item(str(gone.rating_key)) is None
    new_key = (
        str(new["ratingKey"]) if isinstance(new, dict) and "ratingKey" in new else None
    )
    event = await added.wait(lambda data: data["title"] == "Brand New Movie")
    assert event["media_type"] == "movie"
    assert event["library"] == "Movies"
    assert event["server"] == plex_server.name
    if new_key is not None:
        assert event["rating_key"] == new_key
    assert event["media_content_id"] == (
        f"plex_bridge://{plex_server.machine_identifier}/item/{event['rating_key']}"
    )
    state = await async_wait_for_state(hass, SENSOR, "idle")
    assert state.attributes["last_result"]["kind"] == "incremental"
    assert state.attributes["last_result"]["added"] == 1

    full = await sync(hass, mode="full", library="Movies")
    assert full["kind"] == "full"
    assert full["libraries"] == ["1"]
    assert full["added"] == 0


async def test_timeline_changes_are_followed(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    finished: Events,
    added: Events,
    loaded_entry: MockConfigEntry,
) -> None:
    """The mirror follows the server's timeline notifications, with no action."""
    mirror = mirror_of(loaded_entry)
    seen = len(finished.events)
    await control(
        plex_server, "PATCH", f"/items/{MATRIX}", {"title": "The Matrix (Remastered)"}
    )
    await finished.wait(lambda data: data["kind"] == "refetch", after=seen)
    matrix = await mirror.async_item(MATRIX)
    assert matrix is not None
    assert matrix.title == "The Matrix (Remastered)"

    # A new episode: one "media added" with where it belongs.
    show = next(
        item for item in plex_server.library.items.values() if item.kind == "show"
    )
    season = plex_server.library.children(show)[0]
    await control(
        plex_server,
        "POST",
        "/items",
        {"section": 2, "parent": season.rating_key, "title": "A Fresh Start"},
    )
    event = await added.wait(lambda data: data["title"] == "A Fresh Start")
    assert event["media_type"] == "episode"
    assert event["show"] == show.title
    assert event["season"] == season.index
    assert event["episode"] == len(plex_server.library.children(season))
    assert event["library"] == "TV Shows"
    assert event["full_title"].startswith(f"{show.title} - S")
    assert event["media_content_id"].endswith(f"/item/{event['rating_key']}")

    # A show deleted: it goes, with its seasons and episodes.
    seen = len(finished.events)
    episodes = plex_server.library.leaves(show)
    await control(plex_server, "DELETE", f"/items/{show.rating_key}")
    await finished.wait(
        lambda data: data["kind"] == "remove" and data["removed"] > 0, after=seen
    )
    assert await mirror.async_item(str(show.rating_key)) is None
    for episode in episodes:
        assert await mirror.async_item(str(episode.rating_key)) is None


async def wait_until_idle(mirror: PlexMirror) -> None:
    """Until no sync runs or waits (woken by the mirror, at most 10 s)."""
    woken = asyncio.Event()
    unsubscribe = mirror.async_add_listener(woken.set)
    try:
        async with asyncio.timeout(10):
            while mirror.busy:
                await woken.wait()
                woken.clear()
    finally:
        unsubscribe()


async def test_requests_during_a_sync_are_folded_into_one(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
    finished: Events,
) -> None:
    """Scans, timers and timeline news during a sync cost one more sync, not one each."""
    fault = plex_server.faults.add(
        "/library/sections/{id}/all", hold=True, query={"includeGuids": "1"}
    )
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await async_wait_for_state(hass, SENSOR, "syncing")
    await fault.held()
    mirror = mirror_of(mock_config_entry)
    for _ in range(3):
        mirror.async_request_sync("incremental")
    mirror.async_handle_timeline(["2", "3"], [])
    mirror.async_handle_timeline(["4"], [])
    plex_server.faults.clear()
    fault.release()
    await wait_until_idle(mirror)
    assert [event.data["kind"] for event in finished.events] == [
        "full",
        "incremental",
        "refetch",
    ]
    refetch = finished.events[-1].data
    assert refetch["updated"] + refetch["added"] <= 3
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_library_scan_starts_an_incremental_sync(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    finished: Events,
    loaded_entry: MockConfigEntry,
) -> None:
    seen = len(finished.events)
    await control(plex_server, "POST", "/sections/1/scan")
    result = await finished.wait(lambda data: data["kind"] == "incremental", after=seen)
    assert result["added"] == result["updated"] == result["removed"] == 0


@pytest.mark.parametrize("entry_options", [{OPTION_MIRROR_INTERVAL: 5}])
async def test_incremental_sync_on_a_timer(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    finished: Events,
    loaded_entry: MockConfigEntry,
) -> None:
    seen = len(finished.events)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=4))
    await hass.async_block_till_done()
    assert len(finished.events) == seen
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5, seconds=1))
    result = await finished.wait(lambda data: data["kind"] == "incremental", after=seen)
    assert result["server_id"] == plex_server.machine_identifier


async def test_failing_syncs_raise_a_repair_until_one_succeeds(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    issue_id = f"mirror_sync_failed_{loaded_entry.entry_id}"
    registry = ir.async_get(hass)
    plex_server.faults.add("/library/sections/{id}/all", status=404)
    for attempt in range(1, FAILURES_FOR_ISSUE + 1):
        with pytest.raises(HomeAssistantError) as caught:
            await sync(hass)
        assert caught.value.translation_key == "mirror_sync_failed"
        assert plex_server.token not in str(caught.value.translation_placeholders)
        expected = attempt == FAILURES_FOR_ISSUE
        assert (registry.async_get_issue(DOMAIN, issue_id) is not None) is expected

    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "mirror_sync_failed"
    assert issue.severity is ir.IssueSeverity.ERROR
    placeholders = issue.translation_placeholders or {}
    assert placeholders["server"] == plex_server.name
    assert placeholders["failures"] == str(FAILURES_FOR_ISSUE)
    assert "404" in placeholders["error"]
    assert plex_server.token not in str(placeholders)
    state = await async_wait_for_state(hass, SENSOR, "error")
    assert "404" in state.attributes["error"]
    assert plex_server.token not in str(state.attributes)

    # Search still answers from the last good copy.
    assert (await search(hass, query="The Matrix"))[0]["title"] == "The Matrix"

    plex_server.faults.clear()
    await sync(hass)
    assert registry.async_get_issue(DOMAIN, issue_id) is None
    state = await async_wait_for_state(hass, SENSOR, "idle")
    assert state.attributes["error"] is None


# -- the sync action's bad input -------------------------------------------------------


@pytest.mark.parametrize("entry_options", [{OPTION_MIRROR_LIBRARIES: ["1"]}])
async def test_sync_bad_input(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    async def refused(data: dict[str, Any]) -> dict[str, str] | None:
        with pytest.raises(HomeAssistantError) as caught:
            await sync(hass, **data)
        assert caught.value.translation_domain == DOMAIN
        return {
            "key": str(caught.value.translation_key),
            **(caught.value.translation_placeholders or {}),
        }

    assert (await refused({"library": "Nope"}))["key"] == "unknown_library"
    assert (await refused({"config_entry_id": "nope"}))["key"] == "unknown_server"
    not_mirrored = await refused({"library": "TV Shows"})
    assert not_mirrored == {"key": "library_not_mirrored", "library": "TV Shows"}
    # Only the chosen library is mirrored.
    result = await sync(hass, library="Movies")
    assert result["libraries"] == ["1"]
    counts = await mirror_of(loaded_entry).async_counts()
    assert set(counts) == {"1"}


# -- search -----------------------------------------------------------------------------


def imdb_of(emu: PlexEmulator, rating_key: str) -> str:
    external = emu.library.get(rating_key).external_ids
    assert external is not None
    return f"tt{external[0]:07d}"


async def test_search_results(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    server_id = plex_server.machine_identifier
    results = await search(hass, query="the matrix")
    best = results[0]
    assert best["title"] == "The Matrix"
    assert best["type"] == "movie"
    assert best["year"] == 1999
    assert best["library"] == "Movies"
    assert best["server"] == plex_server.name
    assert best["rating_key"] == MATRIX
    assert best["media_content_id"] == f"plex_bridge://{server_id}/item/{MATRIX}"
    assert best["external_ids"]["imdb"] == imdb_of(plex_server, MATRIX)
    assert best["summary"]
    assert best["local_path"] is None  # no mapping
    assert [copy["server"] for copy in best["copies"]] == [plex_server.name]
    assert [r["title"] for r in results[:3]] == [
        "The Matrix",
        "The Matrix Reloaded",
        "The Matrix Revolutions",
    ]

    # An episode carries its show, season and number.
    episode = next(
        item for item in plex_server.library.items.values() if item.kind == "episode"
    )
    [found] = [
        r
        for r in await search(hass, query=episode.title, type="episode")
        if r["rating_key"] == str(episode.rating_key)
    ]
    season = episode.parent
    assert season is not None and season.parent is not None
    assert found["show"] == season.parent.title
    assert found["season"] == season.index
    assert found["episode"] == episode.index
    # A track, its artist and album.
    track = next(
        item for item in plex_server.library.items.values() if item.kind == "track"
    )
    [song] = [
        r
        for r in await search(hass, query=track.title, type=["track"], library="Music")
        if r["rating_key"] == str(track.rating_key)
    ]
    album = track.parent
    assert album is not None and album.parent is not None
    assert song["artist"] == album.parent.title
    assert song["album"] == album.title

    # Filters without a query.
    by_id = await search(hass, external_id=f"imdb:{imdb_of(plex_server, MATRIX)}")
    assert [r["rating_key"] for r in by_id] == [MATRIX]
    in_2003 = await search(hass, type="movie", year=2003)
    assert {r["title"] for r in in_2003} >= {
        "The Matrix Reloaded",
        "The Matrix Revolutions",
    }
    assert all(r["year"] == 2003 for r in in_2003)
    decade = await search(hass, type="movie", year="1990-1999", limit=50)
    assert decade
    assert all(1990 <= r["year"] <= 1999 for r in decade)
    assert len(await search(hass, type="movie", limit=3)) == 3
    unwatched = await search(hass, type="movie", watched=False, limit=50)
    watched = await search(hass, type="movie", watched=True, limit=50)
    assert {r["rating_key"] for r in unwatched}.isdisjoint(
        r["rating_key"] for r in watched
    )
    assert len(unwatched) + len(watched) == 12
    assert await search(hass, query="no such title anywhere at all") == []


@pytest.mark.parametrize(
    "entry_options",
    [
        {
            "path_mappings": [
                {"plex": "/data/movies", "local": "D:\\Media\\Movies"},
                {"plex": "/data/tv", "local": "\\\\nas\\share\\tv"},
            ]
        }
    ],
)
async def test_search_maps_paths(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """Windows and UNC targets keep their form, with separators converted."""
    renderer = plex_server.library.renderer
    matrix = plex_server.library.get(MATRIX)
    [movie] = await search(hass, external_id=f"imdb:{imdb_of(plex_server, MATRIX)}")
    relative = renderer.file(matrix).removeprefix("/data/movies/")
    assert movie["local_path"] == "D:\\Media\\Movies\\" + relative.replace("/", "\\")
    assert movie["copies"][0]["file"] == renderer.file(matrix)

    episode = next(
        item for item in plex_server.library.items.values() if item.kind == "episode"
    )
    [found] = [
        r
        for r in await search(hass, query=episode.title, type="episode")
        if r["rating_key"] == str(episode.rating_key)
    ]
    relative = renderer.file(episode).removeprefix("/data/tv/")
    assert found["local_path"] == "\\\\nas\\share\\tv\\" + relative.replace("/", "\\")
    # Music is not mapped.
    track = next(
        item for item in plex_server.library.items.values() if item.kind == "track"
    )
    [song] = [
        r
        for r in await search(hass, query=track.title, type="track")
        if r["rating_key"] == str(track.rating_key)
    ]
    assert song["local_path"] is None


async def test_search_groups_copies_across_servers(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
) -> None:
    """One result per title; each copy with its server and library."""
    other = next(
        item
        for item in second_plex_server.library.items.values()
        if item.kind == "movie" and item.title == "The Matrix"
    )
    # The same film on both servers: the same external ids.
    other.external_ids = plex_server.library.get(MATRIX).external_ids
    other.invalidate()
    entries = [config_entry_for(plex_server), config_entry_for(second_plex_server)]
    for entry in entries:
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    for entry in entries:
        await wait_for_first_sync(entry)

    results = await search(hass, query="The Matrix", type="movie")
    [matrix] = [r for r in results if r["title"] == "The Matrix"]
    assert sorted(
        (copy["server"], copy["library"], copy["rating_key"])
        for copy in matrix["copies"]
    ) == sorted(
        [
            (plex_server.name, "Movies", MATRIX),
            (second_plex_server.name, "Movies", str(other.rating_key)),
        ]
    )
    assert {copy["media_content_id"] for copy in matrix["copies"]} == {
        f"plex_bridge://{plex_server.machine_identifier}/item/{MATRIX}",
        f"plex_bridge://{second_plex_server.machine_identifier}/item/{other.rating_key}",
    }
    # The other films differ in their ids: one result per copy.
    assert len([r for r in results if r["title"] == "The Matrix Reloaded"]) == 2

    # One server named: its copies only.
    only = await search(
        hass, query="The Matrix", type="movie", config_entry_id=entries[1].entry_id
    )
    assert {copy["server"] for r in only for copy in r["copies"]} == {
        second_plex_server.name
    }
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)


def add_movie_library(emu: PlexEmulator, section_id: int, title: str) -> None:
    """A second movie library on the emulated server (as a user adds one)."""
    movies = emu.library.section(1)
    emu.library.sections[section_id] = Section(
        section_id=section_id,
        section_type="movie",
        title=title,
        agent=movies.agent,
        scanner=movies.scanner,
        location=Location(section_id, f"/data/{title.lower().replace(' ', '-')}"),
        uuid=f"00000000-0000-4000-8000-{section_id:012d}",
        created_at=emu.clock.timestamp(),
        updated_at=emu.clock.timestamp(),
    )
    emu.library.generation += 1


async def test_search_groups_copies_across_libraries(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    """The same film in two libraries (same ids) is one result with two copies."""
    add_movie_library(plex_server, 5, "4K Movies")
    copy = plex_server.library.add_item(5, "The Matrix", year=1999)
    copy.external_ids = plex_server.library.get(MATRIX).external_ids
    copy.invalidate()
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await wait_for_first_sync(mock_config_entry)

    [matrix] = [
        r
        for r in await search(hass, query="The Matrix", type="movie")
        if r["title"] == "The Matrix"
    ]
    assert sorted((c["library"], c["rating_key"]) for c in matrix["copies"]) == [
        ("4K Movies", str(copy.rating_key)),
        ("Movies", MATRIX),
    ]
    assert {c["server"] for c in matrix["copies"]} == {plex_server.name}
    # One library named: its copy only.
    [only] = [
        r
        for r in await search(hass, query="The Matrix", library="4K Movies")
        if r["title"] == "The Matrix"
    ]
    assert [c["rating_key"] for c in only["copies"]] == [str(copy.rating_key)]
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_search_bad_input(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    async def refused(data: dict[str, Any]) -> str:
        with pytest.raises(HomeAssistantError) as caught:
            await search(hass, **data)
        assert caught.value.translation_domain == DOMAIN
        return str(caught.value.translation_key)

    assert await refused({}) == "empty_query"
    assert await refused({"query": "   "}) == "empty_query"
    assert await refused({"query": "x", "type": "film"}) == "invalid_search_type"
    assert await refused({"query": "x", "type": ["movie", "cd"]}) == (
        "invalid_search_type"
    )
    for limit in (0, -1, 201, "many", 2.5):
        assert await refused({"query": "x", "limit": limit}) == "invalid_limit"
    for year in ("19x9", "1999-1990", "12", "1999-2001-2003"):
        assert await refused({"query": "x", "year": year}) == "invalid_year"
    for external_id in ("tt0133093", "imdb:", "foo:bar", ":123"):
        assert await refused({"external_id": external_id}) == "invalid_external_id"
    assert await refused({"query": "x", "library": "Nope"}) == "unknown_library"
    assert await refused({"query": "x", "config_entry_id": "nope"}) == (
        "unknown_server"
    )
    # Good input of each kind is taken.
    assert await search(hass, query="x", limit="5", year="1999") is not None
    assert await search(hass, query="matrix", library="movies", type="MOVIE")


async def test_search_before_the_first_sync(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    """Until the mirror has synced, search refuses and the players ask the server."""
    # The server holds the first sync's pages until the test lets them go.
    fault = plex_server.faults.add(
        "/library/sections/{id}/all", hold=True, query={"includeGuids": "1"}
    )
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await async_wait_for_state(hass, SENSOR, "syncing")
    await fault.held()
    assert not mirror_of(mock_config_entry).synced
    with pytest.raises(HomeAssistantError) as caught:
        await search(hass, query="The Matrix")
    assert caught.value.translation_key == "mirror_not_synced"

    asked = plex_server.faults.count("/hubs/search")
    response = await hass.services.async_call(
        "media_player",
        "search_media",
        {"entity_id": PLAYER_ENTITY, "search_query": "The Matrix"},
        blocking=True,
        return_response=True,
    )
    assert response[PLAYER_ENTITY].result[0].title == "The Matrix"  # type: ignore[union-attr]
    assert plex_server.faults.count("/hubs/search") > asked
    plex_server.faults.clear()
    fault.release()
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


# -- players ----------------------------------------------------------------------------


def last_play(emu: PlexEmulator) -> dict[str, str]:
    command = emu.players.commands[-1]
    assert command.machine_identifier == PLAYER_ID
    assert command.command == "playback/playMedia"
    return command.params


async def test_play_media_of_a_search_result(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    [result, *_] = await search(hass, query="inception")
    await hass.services.async_call(
        "media_player",
        "play_media",
        {
            "entity_id": PLAYER_ENTITY,
            "media_content_type": result["type"],
            "media_content_id": result["media_content_id"],
        },
        blocking=True,
    )
    assert last_play(plex_server)["key"] == f"/library/metadata/{result['rating_key']}"


async def test_players_search_and_play_through_the_mirror(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """search_media and titles for play_media: the mirror, not the server's search."""
    asked = plex_server.faults.count("/hubs/search")
    response = await hass.services.async_call(
        "media_player",
        "search_media",
        {"entity_id": PLAYER_ENTITY, "search_query": "matrx reloaded"},
        blocking=True,
        return_response=True,
    )
    results = response[PLAYER_ENTITY].result  # type: ignore[union-attr]
    assert results[0].title == "The Matrix Reloaded"  # one typo forgiven
    await hass.services.async_call(
        "media_player",
        "play_media",
        {
            "entity_id": PLAYER_ENTITY,
            "media_content_type": "movie",
            "media_content_id": "Back to the Future Part II",
        },
        blocking=True,
    )
    key = next(
        item.rating_key
        for item in plex_server.library.items.values()
        if item.title == "Back to the Future Part II"
    )
    assert last_play(plex_server)["key"] == f"/library/metadata/{key}"
    assert plex_server.faults.count("/hubs/search") == asked


async def test_voice_play_x_on_y(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """Home Assistant's own "play X on Y" intent, answered by the mirror."""
    from homeassistant.helpers import intent
    from homeassistant.setup import async_setup_component

    assert await async_setup_component(hass, "intent", {})
    await hass.async_block_till_done()  # the media player's intents are registered
    asked = plex_server.faults.count("/hubs/search")
    response = await intent.async_handle(
        hass,
        "test",
        "HassMediaSearchAndPlay",
        {"search_query": {"value": "The Matrix"}, "name": {"value": "Living Room TV"}},
    )
    assert response.response_type is intent.IntentResponseType.ACTION_DONE
    assert last_play(plex_server)["key"] == f"/library/metadata/{MATRIX}"
    assert plex_server.faults.count("/hubs/search") == asked


async def test_browse_search_entry(
    hass: HomeAssistant,
    hass_ws_client: Any,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    server_id = plex_server.machine_identifier
    client = await hass_ws_client(hass)

    async def browse(content_id: str) -> dict[str, Any]:
        await client.send_json_auto_id(
            {
                "type": "media_player/browse_media",
                "entity_id": PLAYER_ENTITY,
                "media_content_type": "search",
                "media_content_id": content_id,
            }
        )
        answer = await client.receive_json()
        assert answer["success"], answer
        result: dict[str, Any] = answer["result"]
        return result

    entry = await browse(f"plex_bridge://{server_id}/search")
    assert entry["title"] == "Search"
    assert entry["can_search"] is True
    assert entry["children"] == []
    found = await browse(f"plex_bridge://{server_id}/search/back%20to%20the%20future")
    titles = [child["title"] for child in found["children"]]
    assert titles[0] == "Back to the Future"
    assert set(titles[:3]) == {
        "Back to the Future",
        "Back to the Future Part II",
        "Back to the Future Part III",
    }
    assert all(child["can_play"] for child in found["children"])


async def test_without_a_mirror_file_the_rest_works(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    """A mirror that cannot be opened (no room for its folder) is left out."""
    folder = mirror_path(hass, plex_server.machine_identifier).parent
    await hass.async_add_executor_job(folder.write_text, "in the way")
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert mock_config_entry.runtime_data.mirror is None
    assert hass.states.get(SENSOR) is None
    with pytest.raises(HomeAssistantError) as caught:
        await sync(hass)
    assert caught.value.translation_key == "mirror_unavailable"
    with pytest.raises(HomeAssistantError) as caught:
        await search(hass, query="The Matrix")
    assert caught.value.translation_key == "mirror_not_synced"
    # The players search the server.
    response = await hass.services.async_call(
        "media_player",
        "search_media",
        {"entity_id": PLAYER_ENTITY, "search_query": "The Matrix"},
        blocking=True,
        return_response=True,
    )
    assert response[PLAYER_ENTITY].result[0].title == "The Matrix"  # type: ignore[index]
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_mark_unwatched_reaches_the_mirror(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """Unwatched clears lastViewedAt, which no incremental can see: the action refetches."""
    mirror = mirror_of(loaded_entry)
    plex_server.library.mark_watched("2")
    await hass.services.async_call(
        DOMAIN, "sync", {"mode": "incremental"}, blocking=True, return_response=True
    )
    watched = await mirror.async_item("2")
    assert watched is not None
    assert watched.view_count

    await hass.services.async_call(
        DOMAIN, "mark_unwatched", {"rating_key": "2"}, blocking=True
    )
    await wait_until_idle(mirror)
    unwatched = await mirror.async_item("2")
    assert unwatched is not None
    assert not unwatched.view_count
