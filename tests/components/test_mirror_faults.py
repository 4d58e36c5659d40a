"""The library mirror under faults, through Home Assistant, against the emulator.

Each case states what the user sees and checks it:

- a sync interrupted at each phase (cancelled by an unload, the server gone, a
  write that fails) leaves the mirror as it was at a commit, and the next sync
  resumes: it does not read again the pages that were committed;
- a full disk: a repairs issue that says so and where the file is, the sensor in
  "error" with the reason, syncs that back off instead of looping, the rest of
  the integration working, and recovery when there is room again;
- a mirror file that cannot be made at all (a file where its folder should be):
  the entry loads without a mirror, and a fixable repairs issue says where and
  why; its fix reloads the entry, says so while the way is still blocked, and
  ends once the mirror opens and syncs;
- Home Assistant stopping in the middle of a sync: a quick, clean stop, and the
  next start finds the mirror consistent and resumes;
- a corrupt file: a repairs issue, one rebuild (no loop), and a mirror that stays
  good across the next start.

The faults are real. The server's are the emulator's (``hold`` to stop at an exact
page, ``query`` to pick that page). The disk's are SQLite's own, reached through
the mirror's connection on its own thread (``MirrorDB.call``): ``PRAGMA
query_only`` makes SQLite refuse the next write ("attempt to write a readonly
database"), ``PRAGMA max_page_count`` caps the file at its size so that SQLite
itself raises ``SQLITE_FULL`` ("database or disk is full"). Nothing of ours is
patched, except the page size of a full sync (``PAGE_SIZE``, a tuning constant),
made 4 so that the small world takes several pages per type.

Interruption cases already proven elsewhere are not repeated: tests/mirror/test_sync
(no Home Assistant: a cancel, 503s and a failing write in the middle of a library)
and test_mirror (an unload at the first page, three failed syncs raise an issue).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
import json
import logging
from pathlib import Path
import sqlite3
import threading

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.components.media_player import MediaPlayerState
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame, issue_registry as ir, translation
from homeassistant.loader import DATA_CUSTOM_COMPONENTS
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plex_bridge.const import DOMAIN
from custom_components.plex_bridge.library_mirror import (
    MIRROR_DIR,
    RETRY_FIRST,
    RETRY_MAX,
    PlexMirror,
    mirror_path,
)
from custom_components.plex_bridge.mirror import sync as sync_module
from custom_components.plex_bridge.mirror.db import THREAD_NAME
from custom_components.plex_bridge.mirror.store import MirrorStore
from tests.plex_server import PlexEmulator
from tests.plex_server.faults import Fault

from .conftest import (
    async_until,
    async_wait_for_state,
    wait_for_first_sync,
    wait_for_listeners,
)
from .test_faults import SCAN_CLIENTS
from .test_mirror import SENSOR, Events, mirror_of, mute_timeline

PAGE = 4
LISTING = "/library/sections/{}/all"
LIVING_ROOM = "media_player.living_room_tv"
PLAYER = "Living Room TV"
# Plex type numbers of each library of the small world, in the order a full sync
# reads them, and the emulator's names for them.
LIBRARY_TYPES = {"1": (1,), "2": (2, 3, 4), "3": (8, 9, 10), "4": (14, 13)}
KINDS = {
    1: "movie",
    2: "show",
    3: "season",
    4: "episode",
    8: "artist",
    9: "album",
    10: "track",
    13: "photo",
    14: "photoalbum",
}


# -- helpers --------------------------------------------------------------------------


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pages of 4 items: the small world takes several pages per type."""
    monkeypatch.setattr(sync_module, "PAGE_SIZE", PAGE)
    monkeypatch.setattr(sync_module, "KEYS_PAGE_SIZE", PAGE)
    return PAGE


@pytest.fixture
def finished(hass: HomeAssistant) -> Events:
    """``plex_bridge_sync_finished`` events."""
    return Events(hass, "plex_bridge_sync_finished")


def server_counts(emu: PlexEmulator) -> dict[str, dict[int, int]]:
    """Library key -> Plex type -> items, as the emulator holds them."""
    return {
        key: {t: len(emu.library.sections[int(key)].by_kind[KINDS[t]]) for t in types}
        for key, types in LIBRARY_TYPES.items()
    }


def page_query(plex_type: int, offset: int) -> dict[str, str]:
    """The query that picks one page of a full sync (and no other read)."""
    return {
        "type": str(plex_type),
        "X-Plex-Container-Start": str(offset),
        "includeGuids": "1",
        "sort": "addedAt",
    }


def page_counter(emu: PlexEmulator, library: str, plex_type: int, offset: int) -> Fault:
    """A fault that changes nothing (no latency): it counts one page's requests."""
    return emu.faults.add(
        LISTING.format(library), latency=0.0, query=page_query(plex_type, offset)
    )


@dataclass
class Snapshot:
    """What the mirror's file holds, and whether it is whole."""

    counts: dict[str, dict[int, int]]
    keys: dict[tuple[str, int], set[str]]
    progress: dict[str, dict[int, int]]
    cursors: dict[str, int | None]
    problems: list[str] = field(default_factory=list)


def read_snapshot(path: Path) -> Snapshot:
    """Read the file with a connection of its own, read-only (blocking: executor)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        counts: dict[str, dict[int, int]] = {}
        keys: dict[tuple[str, int], set[str]] = {}
        for library, plex_type, key in connection.execute(
            "SELECT library_key, type, rating_key FROM items"
        ):
            per_type = counts.setdefault(library, {})
            per_type[plex_type] = per_type.get(plex_type, 0) + 1
            keys.setdefault((library, plex_type), set()).add(key)
        progress: dict[str, dict[int, int]] = {}
        cursors: dict[str, int | None] = {}
        for library, saved, cursor in connection.execute(
            "SELECT library_key, progress, cursor FROM sync_state"
        ):
            progress[library] = {int(t): int(v) for t, v in json.loads(saved).items()}
            cursors[library] = cursor
        problems: list[str] = []
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            problems.append(f"integrity: {integrity}")
        if broken := connection.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(f"foreign keys: {broken}")
        checks = {
            "children without their parent": (
                "SELECT COUNT(*) FROM items c WHERE c.type IN (3, 4, 9, 10) AND NOT "
                "EXISTS (SELECT 1 FROM items p WHERE p.rating_key = c.parent_key)"
            ),
            "items without their title index": (
                "SELECT COUNT(*) FROM items WHERE id NOT IN "
                "(SELECT rowid FROM search_titles)"
            ),
            "title index rows without their item": (
                "SELECT COUNT(*) FROM search_titles WHERE rowid NOT IN "
                "(SELECT id FROM items)"
            ),
            "text index rows without their item": (
                "SELECT COUNT(*) FROM search_text WHERE rowid NOT IN "
                "(SELECT id FROM items)"
            ),
            "tags without their item": (
                "SELECT COUNT(*) FROM item_tags WHERE item_id NOT IN "
                "(SELECT id FROM items)"
            ),
            "external ids without their item": (
                "SELECT COUNT(*) FROM external_ids WHERE item_id NOT IN "
                "(SELECT id FROM items)"
            ),
            "parts without their item": (
                "SELECT COUNT(*) FROM parts WHERE item_id NOT IN (SELECT id FROM items)"
            ),
        }
        for name, query in checks.items():
            if found := connection.execute(query).fetchone()[0]:
                problems.append(f"{found} {name}")
        return Snapshot(counts, keys, progress, cursors, problems)
    finally:
        connection.close()


async def snapshot(hass: HomeAssistant, emu: PlexEmulator) -> Snapshot:
    """The mirror file of the emulated server, read beside whoever has it open."""
    path = mirror_path(hass, emu.machine_identifier)
    return await hass.async_add_executor_job(read_snapshot, path)


async def server_keys(
    emu: PlexEmulator, library: str, plex_type: int, limit: int
) -> set[str]:
    """The first ``limit`` keys of a type in a full sync's order, asked over HTTP."""
    params = {
        "type": str(plex_type),
        "sort": "addedAt",
        "X-Plex-Container-Start": "0",
        "X-Plex-Container-Size": str(limit),
    }
    headers = {"X-Plex-Token": emu.token, "Accept": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{emu.url}{LISTING.format(library)}", params=params, headers=headers
        ) as response,
    ):
        data = await response.json()
    return {
        str(item["ratingKey"]) for item in data["MediaContainer"].get("Metadata", [])
    }


async def wait_for(mirror: PlexMirror, predicate: Callable[[], bool]) -> None:
    """Until ``predicate()`` holds, woken by the mirror's listeners (at most 10 s)."""
    await wait_for_listeners(mirror, predicate, seconds=10)


def committed_before(
    emu: PlexEmulator, library: str, plex_type: int, offset: int
) -> int:
    """Items of the library a full sync has written when it asks for this page."""
    types = LIBRARY_TYPES[library]
    counts = server_counts(emu)[library]
    return sum(counts[t] for t in types[: types.index(plex_type)]) + offset


async def wait_for_pages_before(
    mirror: PlexMirror, emu: PlexEmulator, library: str, plex_type: int, offset: int
) -> None:
    """Until the full sync has committed every page before this one.

    The pages are written in order, so while this page is held, the sync's
    progress reaches the items of the pages before it.
    """
    before = committed_before(emu, library, plex_type, offset)
    await wait_for(
        mirror,
        lambda: (
            mirror.progress is not None
            and mirror.progress.library_key == library
            and mirror.progress.done >= before
        ),
    )


def expected_at_commit(
    emu: PlexEmulator, library: str, plex_type: int, offset: int
) -> dict[str, dict[int, int]]:
    """The counts at the commit before the page: earlier libraries and types whole."""
    counts = server_counts(emu)
    expected: dict[str, dict[int, int]] = {}
    for key, types in LIBRARY_TYPES.items():
        if int(key) < int(library):
            expected[key] = dict(counts[key])
        elif key == library:
            done = {t: counts[key][t] for t in types[: types.index(plex_type)]}
            if offset:
                done[plex_type] = offset
            if done:
                expected[key] = done
    return expected


async def set_pragma(mirror: PlexMirror, pragma: str) -> None:
    """Run a PRAGMA on the mirror's own connection, on the mirror's thread."""

    def run(store: MirrorStore) -> None:
        store.connection.execute(f"PRAGMA {pragma}")

    await mirror.db.call(run)


def mirror_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]


# -- 1. a full sync interrupted at every kind of page ----------------------------------

# (library, Plex type, offset of the page the interruption hits): each type's
# pages, movies, shows / seasons / episodes, artists / albums / tracks, photos.
FULL_PHASES = {
    "movies": ("1", 1, 4),
    "shows": ("2", 2, 0),
    "seasons": ("2", 3, 4),
    "episodes": ("2", 4, 12),
    "artists": ("3", 8, 0),
    "albums": ("3", 9, 0),
    "tracks": ("3", 10, 4),
    "photos": ("4", 13, 4),
}
INTERRUPTIONS = ("cancelled", "server_gone", "write_failed")


@pytest.mark.parametrize("interruption", INTERRUPTIONS)
@pytest.mark.parametrize("phase", list(FULL_PHASES))
async def test_full_sync_interrupted_resumes(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
    small_pages: int,
    finished: Events,
    phase: str,
    interruption: str,
) -> None:
    """The mirror is what it was at the last commit; the next sync reads only the rest.

    ``cancelled``: the entry is unloaded while the page is on the wire, then set
    up again. ``server_gone``: the page's connection breaks, and on every retry.
    ``write_failed``: SQLite refuses to write the page (``PRAGMA query_only``).
    The last two leave the entry loaded: the sensor shows the error, and the
    mirror's own retry (after its back-off) resumes.
    """
    library, plex_type, offset = FULL_PHASES[phase]
    total = sum(sum(types.values()) for types in server_counts(plex_server).values())
    gone = interruption == "server_gone"
    fault = plex_server.faults.add(
        LISTING.format(library),
        hold=True,
        reset=gone,  # every try of this page, until cleared
        times=None if gone else 1,
        query=page_query(plex_type, offset),
    )
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await fault.held()
    mirror = mirror_of(mock_config_entry)
    await wait_for_pages_before(mirror, plex_server, library, plex_type, offset)

    match interruption:
        case "cancelled":
            assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
            assert mirror.db.closed
            assert not mirror_threads()
            fault.release()
        case "server_gone":
            fault.release()
            state = await async_wait_for_state(hass, SENSOR, "error")
            assert "from /library/sections" in state.attributes["error"]
        case _:
            await set_pragma(mirror, "query_only = ON")
            fault.release()
            state = await async_wait_for_state(hass, SENSOR, "error")
            assert "readonly" in state.attributes["error"]
            await set_pragma(mirror, "query_only = OFF")
    plex_server.faults.clear()

    # The mirror is the state of the last commit: whole libraries and types before
    # the page, exactly the items of the pages before it, nothing half-written.
    found = await snapshot(hass, plex_server)
    assert found.problems == []
    expected = expected_at_commit(plex_server, library, plex_type, offset)
    assert found.counts == expected
    if offset:
        assert found.keys[library, plex_type] == await server_keys(
            plex_server, library, plex_type, offset
        )
        assert found.progress[library][plex_type] == offset
    assert found.cursors[library] is None  # not finished: the cursor did not move
    for key in expected:
        if key != library:
            assert found.cursors[key] is not None
            assert found.progress[key] == {}

    # The next sync starts at the page that was not committed.
    types = LIBRARY_TYPES[library]
    counts = server_counts(plex_server)[library]
    skipped = [
        page_counter(plex_server, library, t, start)
        for t in types[: types.index(plex_type)]
        for start in range(0, counts[t], small_pages)
    ] + [
        page_counter(plex_server, library, plex_type, start)
        for start in range(0, offset, small_pages)
    ]
    again = page_counter(plex_server, library, plex_type, offset)
    seen = len(finished.events)
    if interruption == "cancelled":
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        mirror = mirror_of(mock_config_entry)
    else:
        # The mirror's own retry, after its back-off (no action needed).
        async_fire_time_changed(
            hass, dt_util.utcnow() + RETRY_FIRST + timedelta(seconds=1)
        )
    result = await finished.wait(lambda data: data["kind"] == "full", after=seen)
    assert [counter.fired for counter in skipped] == [0] * len(skipped)
    assert again.fired == 1
    assert result["added"] == total - sum(sum(t.values()) for t in expected.values())

    found = await snapshot(hass, plex_server)
    assert found.problems == []
    assert found.counts == server_counts(plex_server)
    assert all(progress == {} for progress in found.progress.values())
    assert all(cursor is not None for cursor in found.cursors.values())
    state = await async_wait_for_state(hass, SENSOR, "idle")
    assert state.attributes["error"] is None
    plex_server.faults.clear()
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


# -- 1b. incremental sync, deletion reconcile, timeline refetch ------------------------

LATER_PHASES = ("sections", "incremental", "reconcile", "refetch")
MATRIX = "1"


@pytest.mark.parametrize("interruption", INTERRUPTIONS)
@pytest.mark.parametrize("phase", LATER_PHASES)
async def test_later_syncs_interrupted_catch_up(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    finished: Events,
    phase: str,
    interruption: str,
) -> None:
    """An interrupted incremental sync, reconcile or refetch loses nothing.

    The server changed (a movie renamed, a movie added, an episode deleted) while
    its timeline was muted, so that only a sync finds out; for ``refetch`` the
    timeline announces the rename and the refetch it starts is interrupted. The
    phases: the ``/library/sections`` read, the page of changed movies, the last
    read of the episode the server seems to have lost (the deletion reconcile),
    the refetch of the renamed movie. After the interruption the mirror is what it
    was at a commit, the interrupted library's cursor has not moved, and the next
    sync (the back-off's retry, or the next setup after an unload) is an
    incremental one that catches up.
    """
    mirror = mirror_of(loaded_entry)
    assert mirror.last_result is not None
    full_requests = mirror.last_result.requests
    start = await snapshot(hass, plex_server)
    movies_cursor = start.cursors["1"]
    assert movies_cursor is not None
    library = plex_server.library
    episode = library.sections[2].by_kind["episode"][5]
    unmute = mute_timeline(plex_server)
    if phase == "refetch":
        unmute()
    library.update_item(MATRIX, title="The Matrix (Remastered)")
    if phase != "refetch":
        library.add_item(1, "A Movie Added Quietly")
        library.delete_item(episode.rating_key)
    path, query = {
        "sections": ("/library/sections", None),
        "incremental": (
            LISTING.format("1"),
            {"type": "1", "updatedAt>>": str(movies_cursor - sync_module.MARGIN)},
        ),
        # The last look before a deletion: the key the server seems to lack.
        "reconcile": (f"/library/metadata/{episode.rating_key}", None),
        "refetch": (f"/library/metadata/{MATRIX}", {"includeGuids": "1"}),
    }[phase]
    gone = interruption == "server_gone"
    fault = plex_server.faults.add(
        path, hold=True, reset=gone, times=None if gone else 1, query=query
    )
    if phase != "refetch":
        mirror.async_request_sync("incremental")  # what a library scan calls
    await fault.held()

    match interruption:
        case "cancelled":
            assert await hass.config_entries.async_unload(loaded_entry.entry_id)
            assert mirror.db.closed
            assert not mirror_threads()
            fault.release()
        case "server_gone":
            fault.release()
            await wait_for(mirror, lambda: not mirror.busy)
        case _:
            await set_pragma(mirror, "query_only = ON")
            fault.release()
            await wait_for(mirror, lambda: not mirror.busy)
            # The failed write reopened the file; the new connection may write.
            await set_pragma(mirror, "query_only = OFF")
    plex_server.faults.clear()
    if phase != "refetch":
        unmute()
    if interruption != "cancelled":
        # A sync of libraries shows the error; a refetch keeps the sensor as it was.
        state = hass.states.get(SENSOR)
        assert state is not None
        assert state.state == ("idle" if phase == "refetch" else "error")

    # A state that existed at a commit: the interrupted library (the movies; the
    # TV shows for the reconcile) as before the sync, its cursor unmoved. An
    # incremental sync runs the libraries at once, so each of the others is
    # either as before or caught up, whichever it reached.
    found = await snapshot(hass, plex_server)
    assert found.problems == []
    interrupted = "2" if phase == "reconcile" else "1"
    assert found.counts[interrupted] == start.counts[interrupted]
    assert found.cursors[interrupted] == start.cursors[interrupted]
    now = server_counts(plex_server)
    assert found.counts.keys() == start.counts.keys()
    for key, counts in found.counts.items():
        assert counts in (start.counts[key], now[key]), key

    seen = len(finished.events)
    if interruption == "cancelled":
        assert await hass.config_entries.async_setup(loaded_entry.entry_id)
        mirror = mirror_of(loaded_entry)
        result = await finished.wait(lambda data: data["kind"] == "full", after=seen)
    else:
        async_fire_time_changed(
            hass, dt_util.utcnow() + RETRY_FIRST + timedelta(seconds=1)
        )
        result = await finished.wait(
            lambda data: data["kind"] == "incremental", after=seen
        )
        assert result["requests"] < full_requests  # caught up, not started over
    await wait_for(mirror, lambda: not mirror.busy)
    found = await snapshot(hass, plex_server)
    assert found.problems == []
    assert found.counts == server_counts(plex_server)
    matrix = await mirror.async_item(MATRIX)
    assert matrix is not None
    assert matrix.title == "The Matrix (Remastered)"
    if phase != "refetch":
        assert await mirror.async_item(str(episode.rating_key)) is None
    state = await async_wait_for_state(hass, SENSOR, "idle")
    assert state.attributes["error"] is None


# -- 1c. a slow server: the sync leaves room for the user ----------------------------


async def test_a_sync_on_a_slow_server_leaves_a_request_for_the_user(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    finished: Events,
) -> None:
    """However many reads a sync has going, it holds ``IN_FLIGHT`` of the client's 4.

    An incremental sync reads its four libraries at once, each with reads of its
    own. Every listing is held at the server, as a slow server would: the user
    scanning for players meanwhile is answered while the sync waits, and no more
    than ``IN_FLIGHT`` of the sync's reads reach the server.
    """
    mirror = mirror_of(loaded_entry)
    seen = len(finished.events)
    listings = plex_server.faults.add(LISTING.format("*"), hold=True)
    mirror.async_request_sync("incremental")
    await listings.held()
    await async_until(
        lambda: listings.fired >= sync_module.IN_FLIGHT,
        lambda: f"{listings.fired} listings held",
    )
    press = hass.async_create_task(
        hass.services.async_call(
            BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: SCAN_CLIENTS}, blocking=True
        )
    )
    await async_until(
        press.done, lambda: f"the scan waits behind {listings.fired} held listings"
    )
    press.result()
    assert listings.fired == sync_module.IN_FLIGHT
    listings.release()
    await finished.wait(lambda data: data["kind"] == "incremental", after=seen)
    plex_server.faults.clear()


# -- 2. a full disk -------------------------------------------------------------------


async def issue_text(hass: HomeAssistant, issue: ir.IssueEntry) -> tuple[str, str]:
    """The issue's title and description as the user reads them (English)."""
    strings = await translation.async_get_translations(hass, "en", "issues", [DOMAIN])
    prefix = f"component.{DOMAIN}.issues.{issue.translation_key}"
    placeholders = issue.translation_placeholders or {}
    return (
        strings[f"{prefix}.title"].format(**placeholders),
        strings[f"{prefix}.description"].format(**placeholders),
    )


def retry_times(minutes: int) -> list[int]:
    """When the back-off retries a sync that keeps failing, within ``minutes``."""
    times: list[int] = []
    now, delay = 0, RETRY_FIRST
    while True:
        now += int(delay.total_seconds() // 60)
        if now > minutes:
            return times
        times.append(now)
        delay = min(delay * 2, RETRY_MAX)


async def test_full_disk(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
    finished: Events,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A disk with no room: a clear issue, a sync that backs off, and recovery.

    The full disk is SQLite's own: ``PRAGMA max_page_count`` on the mirror's
    connection (through ``MirrorDB.call``, on the mirror's thread) caps the file
    at the size it has, so the next write that needs a page fails in SQLite with
    ``SQLITE_FULL`` ("database or disk is full"), as on a disk with no room left.
    Nothing of ours is patched. ``freezer`` comes before the setup: the mirror's
    timers run on frozen time, which the test moves a minute at a time.
    """
    registry = ir.async_get(hass)
    path = mirror_path(hass, plex_server.machine_identifier)
    first_page = plex_server.faults.add(
        LISTING.format("1"), hold=True, times=1, query={"includeGuids": "1"}
    )
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await first_page.held()
    mirror = mirror_of(mock_config_entry)
    await set_pragma(mirror, "max_page_count = 1")  # no room beyond its size
    pages = page_counter(plex_server, "1", 1, 0)
    first_page.release()

    # What the user sees: the sensor says why, an issue says what to do.
    state = await async_wait_for_state(hass, SENSOR, "error")
    assert state.attributes["error"] == "database or disk is full"
    # The failed write reopened the file: the new connection finds no more room.
    await set_pragma(mirror, "max_page_count = 1")
    issue_id = f"mirror_disk_full_{mock_config_entry.entry_id}"
    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert not issue.is_fixable
    title, description = await issue_text(hass, issue)
    assert plex_server.name in title
    assert "is full" in title
    assert str(path) in description
    assert "the disk is full" in description
    assert "Make room" in description
    assert plex_server.token not in title + description
    assert (
        registry.async_get_issue(
            DOMAIN, f"mirror_sync_failed_{mock_config_entry.entry_id}"
        )
        is None
    )  # one cause, one issue
    assert mirror.failures == 1

    # No crash loop: for three hours, timers, scans and timeline news keep asking
    # for syncs every minute; only the back-off's retries try again.
    minutes = 180
    attempts: list[int] = []
    for minute in range(1, minutes + 1):
        mirror.async_request_sync("incremental")  # what a library scan calls
        mirror.async_handle_timeline(["1"], [])  # what a timeline entry calls
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
        if mirror.busy:
            attempts.append(minute)
            failed = mirror.failures
            await wait_for(mirror, lambda: not mirror.busy)
            assert mirror.failures == failed + 1
            # A failed write reopens the file: the disk is as full for the new
            # connection as it was for the old one.
            await set_pragma(mirror, "max_page_count = 1")
    assert attempts == retry_times(minutes)  # 1, 3, 7, 15, 31, 63, 123
    assert pages.fired == len(attempts)  # one page read per attempt, no more
    assert mirror.failures == 1 + len(attempts)
    # One error for the full disk; each failed attempt is a warning, no traceback.
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors if "disk" in r.getMessage()] == [
        errors[0].getMessage()
    ]
    assert not [r for r in caplog.records if r.exc_info and "plex_bridge" in r.name]

    # Home Assistant and the live entities keep working meanwhile.
    sessions = mock_config_entry.runtime_data.sessions
    plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await sessions.async_refresh()
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    assert hass.states.get(SENSOR).state == "error"  # type: ignore[union-attr]

    # Whatever the attempts wrote was whole pages (a page that fit in the file's
    # free space), nothing half-written.
    found = await snapshot(hass, plex_server)
    assert found.problems == []
    committed = sum(sum(types.values()) for types in found.counts.values())

    # Room again: the next retry syncs, the issue goes, the mirror is whole.
    await set_pragma(mirror, "max_page_count = 1073741823")
    seen = len(finished.events)
    while not mirror.busy:
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    await wait_for(mirror, lambda: not mirror.busy)
    assert mirror.failures == 0, mirror.last_error
    result = await finished.wait(lambda data: data["kind"] == "full", after=seen)
    assert (
        result["added"]
        == sum(sum(types.values()) for types in server_counts(plex_server).values())
        - committed
    )
    assert registry.async_get_issue(DOMAIN, issue_id) is None
    state = await async_wait_for_state(hass, SENSOR, "idle")
    assert state.attributes["error"] is None
    found = await snapshot(hass, plex_server)
    assert found.problems == []
    assert found.counts == server_counts(plex_server)
    plex_server.faults.clear()
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_a_mirror_file_that_cannot_be_made_is_a_fixable_issue(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
    finished: Events,
) -> None:
    """No mirror file can be created: the rest loads, an issue says why, its fix retries.

    What stands in the way is the operating system's own refusal: a file where the
    mirror's folder should be, so creating the folder fails (``FileExistsError``),
    as a read-only or missing mount would. Nothing of ours is patched.
    """
    registry = ir.async_get(hass)
    blocker = Path(hass.config.path(MIRROR_DIR))
    await hass.async_add_executor_job(blocker.write_text, "not a folder")
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    # The players and sensors work; only the mirror is missing.
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert mock_config_entry.runtime_data.mirror is None
    assert hass.states.get(LIVING_ROOM) is not None
    issue_id = f"mirror_unavailable_{mock_config_entry.entry_id}"
    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.ERROR
    strings = await translation.async_get_translations(hass, "en", "issues", [DOMAIN])
    prefix = f"component.{DOMAIN}.issues.mirror_unavailable"
    assert plex_server.name in strings[f"{prefix}.title"].format(
        **issue.translation_placeholders
    )
    assert plex_server.token not in json.dumps(issue.to_json())

    # The fix: the form names the file and the reason.
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    assert response.status == HTTPStatus.OK
    step = await response.json()
    assert step["type"] == "form"
    assert step["step_id"] == "confirm"
    placeholders = step["description_placeholders"]
    path = mirror_path(hass, plex_server.machine_identifier)
    assert placeholders["path"] == str(path)
    assert "File exists" in placeholders["error"]
    assert placeholders["name"] == plex_server.name
    assert plex_server.token not in json.dumps(step)
    description = strings[f"{prefix}.fix_flow.step.confirm.description"]
    assert str(path) in description.format(**placeholders)

    # Submitted with the way still blocked: the entry reloads, the form says so
    # again, and the issue stays.
    response = await client.post(f"/api/repairs/issues/fix/{step['flow_id']}", json={})
    step = await response.json()
    assert step["type"] == "form"
    assert step["errors"] == {"base": "still_unavailable"}
    assert strings[f"{prefix}.fix_flow.error.still_unavailable"]
    assert registry.async_get_issue(DOMAIN, issue_id) is not None
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert mock_config_entry.runtime_data.mirror is None

    # The user moves the file away and submits again: the mirror opens and syncs.
    await hass.async_add_executor_job(blocker.unlink)
    response = await client.post(f"/api/repairs/issues/fix/{step['flow_id']}", json={})
    assert (await response.json())["type"] == "create_entry"
    assert registry.async_get_issue(DOMAIN, issue_id) is None
    mirror = mirror_of(mock_config_entry)
    data = await finished.wait()
    assert data["kind"] == "full"
    assert await hass.async_add_executor_job(path.exists)
    assert mirror.synced


# -- 3. Home Assistant stops during a sync ------------------------------------------


async def test_home_assistant_stops_during_a_sync(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
    small_pages: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A quick, clean stop in the middle of a page; the next start resumes.

    Quick, shown by structure rather than a clock: the page the sync waits for is
    held by the server and never released before the stop returns, so the stop
    cannot have waited for it (the sync was cancelled, and the file closed).
    """
    library, plex_type, offset = FULL_PHASES["episodes"]
    fault = plex_server.faults.add(
        LISTING.format(library), hold=True, times=1, query=page_query(plex_type, offset)
    )
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await fault.held()
    mirror = mirror_of(mock_config_entry)
    await wait_for_pages_before(mirror, plex_server, library, plex_type, offset)

    await hass.async_stop()
    assert not fault._released.is_set()  # the held page was never answered
    assert mirror.db.closed
    assert not mirror_threads()
    assert mirror.state == "idle"  # cancelled, not failed
    assert mirror.failures == 0
    ours = [r for r in caplog.records if r.name.startswith("custom_components")]
    assert not [r for r in ours if r.levelno >= logging.WARNING or r.exc_info]
    fault.release()
    plex_server.faults.clear()

    found = await snapshot(hass, plex_server)
    assert found.problems == []
    expected = expected_at_commit(plex_server, library, plex_type, offset)
    assert found.counts == expected

    # The next start: a new Home Assistant on the same configuration directory.
    types = LIBRARY_TYPES[library]
    skipped = [
        page_counter(plex_server, library, t, 0)
        for t in types[: types.index(plex_type)]
    ] + [
        page_counter(plex_server, library, plex_type, start)
        for start in range(0, offset, small_pages)
    ]
    async with async_test_home_assistant(config_dir=hass.config.config_dir) as again:
        frame.async_setup(again)
        again.data.pop(DATA_CUSTOM_COMPONENTS, None)
        entry = MockConfigEntry(
            domain=DOMAIN,
            entry_id=mock_config_entry.entry_id,
            title=mock_config_entry.title,
            unique_id=mock_config_entry.unique_id,
            version=mock_config_entry.version,
            minor_version=mock_config_entry.minor_version,
            data=dict(mock_config_entry.data),
            options=dict(mock_config_entry.options),
        )
        entry.add_to_hass(again)
        assert await again.config_entries.async_setup(entry.entry_id)
        await wait_for_first_sync(entry)
        resumed = mirror_of(entry)
        assert resumed.last_result is not None
        assert resumed.last_result.added == sum(
            sum(t.values()) for t in server_counts(plex_server).values()
        ) - sum(sum(t.values()) for t in expected.values())
        assert [counter.fired for counter in skipped] == [0] * len(skipped)
        found = await snapshot(again, plex_server)
        assert found.problems == []
        assert found.counts == server_counts(plex_server)
        assert await again.config_entries.async_unload(entry.entry_id)
        await again.async_block_till_done()
        await again.async_stop(force=True)
    plex_server.faults.clear()
    assert not mirror_threads()
    ours = [r for r in caplog.records if r.name.startswith("custom_components")]
    assert not [r for r in ours if r.levelno >= logging.ERROR]


# -- 4. a corrupt file -----------------------------------------------------------------


async def test_corrupt_file_is_rebuilt_once(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A damaged file: an issue that says where, one rebuild, and no loop after it.

    (test_mirror covers the issue and the rebuild; this follows it to the next
    start: the rebuilt file is kept, nothing is moved aside again, the issue goes.)
    """
    registry = ir.async_get(hass)
    path = mirror_path(hass, plex_server.machine_identifier)
    issue_id = f"mirror_rebuilt_{mock_config_entry.entry_id}"

    def write_garbage() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00not a database\xff" * 512)

    def set_aside() -> list[str]:
        return sorted(p.name for p in path.parent.iterdir() if ".corrupt-" in p.name)

    await hass.async_add_executor_job(write_garbage)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    title, description = await issue_text(hass, issue)
    assert plex_server.name in title
    assert str(path) in description
    await wait_for_first_sync(mock_config_entry)
    mirror = mirror_of(mock_config_entry)
    assert mirror.failures == 0
    assert mirror.last_result is not None
    assert (await hass.async_add_executor_job(set_aside)) != []
    aside = await hass.async_add_executor_job(set_aside)
    assert len(aside) == 1

    # The next start opens the rebuilt file as it is: no second rebuild.
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await wait_for_first_sync(mock_config_entry)
    assert registry.async_get_issue(DOMAIN, issue_id) is None
    assert await hass.async_add_executor_job(set_aside) == aside
    mirror = mirror_of(mock_config_entry)
    assert mirror.last_result is not None
    assert mirror.last_result.added == 0  # the rebuilt copy was kept
    found = await snapshot(hass, plex_server)
    assert found.problems == []
    assert found.counts == server_counts(plex_server)
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_file_damaged_while_in_use_is_rebuilt(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    finished: Events,
) -> None:
    """A file damaged under a running mirror is found, set aside and rebuilt.

    The damage is real: after a checkpoint (every page in the file, none in the
    WAL) the test overwrites every page but the first with garbage, as a failing
    disk would. The connection's page cache hides it, as it would in use; the
    next write SQLite fails (refused here with ``PRAGMA query_only``) makes the
    mirror reopen the file, and the check on opening finds the damage: the
    ``mirror_rebuilt`` issue, the file moved aside, and the retry rebuilds it.
    """
    registry = ir.async_get(hass)
    mirror = mirror_of(loaded_entry)
    path = mirror_path(hass, plex_server.machine_identifier)
    await set_pragma(mirror, "wal_checkpoint(TRUNCATE)")

    def damage() -> None:
        page = 4096
        with path.open("r+b") as file:
            size = file.seek(0, 2)
            file.seek(page)
            file.write(b"\xa5" * (size - page))

    await hass.async_add_executor_job(damage)
    await set_pragma(mirror, "query_only = ON")
    mirror.async_request_sync("incremental")
    state = await async_wait_for_state(hass, SENSOR, "error")
    assert "readonly" in state.attributes["error"]
    issue = registry.async_get_issue(DOMAIN, f"mirror_rebuilt_{loaded_entry.entry_id}")
    assert issue is not None
    _, description = await issue_text(hass, issue)
    assert str(path) in description
    aside = await hass.async_add_executor_job(
        lambda: [p.name for p in path.parent.iterdir() if ".corrupt-" in p.name]
    )
    assert len(aside) == 1
    assert not mirror.synced  # search asks the server until the rebuild is done

    seen = len(finished.events)
    async_fire_time_changed(hass, dt_util.utcnow() + RETRY_FIRST + timedelta(seconds=1))
    result = await finished.wait(lambda data: data["kind"] == "full", after=seen)
    assert result["added"] == sum(
        sum(types.values()) for types in server_counts(plex_server).values()
    )
    await wait_for(mirror, lambda: not mirror.busy)
    assert mirror.synced
    found = await snapshot(hass, plex_server)
    assert found.problems == []
    assert found.counts == server_counts(plex_server)
    state = await async_wait_for_state(hass, SENSOR, "idle")
