"""The sessions and library coordinators, through Home Assistant, against the emulator.

What users feel: a session start costs one read of ``/status/sessions``; pause,
resume, seek and stop cost no request at all; while the websocket is down the
integration polls, and it stops polling when push is back; a server that goes away
makes the entities unavailable and is logged once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.plex_bridge.const import DEFAULT_UPDATE_INTERVAL, EVENT_MEDIA
from tests.plex_server import PlexEmulator

from .conftest import wait_for_coordinator

PLAYER = "Living Room TV"
PLAYER_ID = "1234567890123456-com-plexapp-android"


async def test_start_costs_one_read_and_changes_cost_none(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    coordinator = loaded_entry.runtime_data.sessions
    plex_server.faults.reset_counts()

    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await wait_for_coordinator(coordinator, lambda: bool(coordinator.data.sessions))
    await hass.async_block_till_done()
    assert plex_server.faults.count("/status/sessions") == 1
    live = coordinator.data.for_player(PLAYER_ID)
    assert live is not None
    assert live.item.title == "The Matrix"
    assert live.state == "playing"

    plex_server.faults.reset_counts()
    plex_server.sessions.pause(session)
    await wait_for_coordinator(coordinator, lambda: live.state == "paused")
    plex_server.sessions.resume(session)
    await wait_for_coordinator(coordinator, lambda: live.state == "playing")
    plex_server.sessions.seek(session, 600_000)
    await wait_for_coordinator(coordinator, lambda: live.position_ms == 600_000)
    plex_server.sessions.stop_session(session)
    await wait_for_coordinator(coordinator, lambda: not coordinator.data.sessions)
    await hass.async_block_till_done()
    assert plex_server.faults.count("/status/sessions") == 0
    assert plex_server.faults.count("/clients") == 0


async def test_normal_progress_writes_nothing(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    coordinator = loaded_entry.runtime_data.sessions
    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await wait_for_coordinator(coordinator, lambda: bool(coordinator.data.sessions))
    await hass.async_block_till_done()
    live = coordinator.data.for_player(PLAYER_ID)
    assert live is not None
    anchored = live.position_updated_at

    updates: list[None] = []
    unsubscribe = coordinator.async_add_listener(lambda: updates.append(None))
    # The emulator and Home Assistant's clock move together: 30 s of playback and
    # the progress notifications it publishes match the extrapolated position.
    freezer.tick(timedelta(seconds=30))
    plex_server.sessions.advance(30)
    await hass.async_block_till_done()
    # A seek is noticed, though: the position jumps 10 minutes ahead.
    plex_server.sessions.seek(
        session, live.extrapolated_ms(live.position_updated_at) + 600_000
    )
    await wait_for_coordinator(coordinator, lambda: bool(updates))
    unsubscribe()
    assert len(updates) == 1
    assert live.position_updated_at > anchored


async def test_polls_while_push_is_down_and_stops_when_it_returns(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    coordinator = loaded_entry.runtime_data.sessions
    assert coordinator.update_interval is None

    # The websocket refuses to come back: the coordinator polls instead.
    plex_server.faults.add("/:/websockets/notifications", status=503)
    plex_server.notifications.drop_all()
    await wait_for_coordinator(coordinator, lambda: not coordinator.push_connected)
    assert coordinator.update_interval == timedelta(seconds=DEFAULT_UPDATE_INTERVAL)

    plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    plex_server.faults.reset_counts()
    freezer.tick(timedelta(seconds=DEFAULT_UPDATE_INTERVAL + 1))
    async_fire_time_changed(hass)
    await wait_for_coordinator(
        coordinator, lambda: coordinator.data.for_player(PLAYER_ID) is not None
    )
    assert plex_server.faults.count("/status/sessions") == 1

    # Push returns (the listener's backoff is at most a minute): polling stops.
    plex_server.faults.clear()
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await wait_for_coordinator(coordinator, lambda: coordinator.push_connected)
    await hass.async_block_till_done()
    assert coordinator.update_interval is None
    # No poll is scheduled any more.
    assert coordinator._unsub_refresh is None


async def test_server_gone_is_unavailable_and_logged_once(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = loaded_entry.runtime_data.sessions
    breaker = loaded_entry.runtime_data.client.breaker
    plex_server.faults.add("*", status=503)
    plex_server.notifications.drop_all()
    await wait_for_coordinator(coordinator, lambda: not coordinator.last_update_success)
    # More failed polls (the poll's own refresh, run at once): one request each
    # until the breaker opens, then none.
    for _ in range(5):
        await coordinator.async_refresh()
    assert breaker.as_dict()["state"] == "open"
    plex_server.faults.reset_counts()
    for _ in range(3):
        await coordinator.async_refresh()
    assert plex_server.faults.count("/status/sessions") == 0
    assert not coordinator.last_update_success
    assert caplog.text.count("Error fetching plex_bridge sessions data") == 1

    # The server is back; after the breaker's cool-down one probe gets through.
    plex_server.faults.clear()
    freezer.tick(timedelta(seconds=31))
    await coordinator.async_refresh()
    assert coordinator.last_update_success, repr(coordinator.last_exception.__cause__)
    assert breaker.as_dict()["state"] == "closed"
    assert caplog.text.count("Fetching plex_bridge sessions data recovered") == 1


async def test_added_media_fires_an_event(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """A new item, and its removal, fire ``plex_bridge_media``.

    The library refresh that follows is tested with the recently added sensor.
    """
    library = loaded_entry.runtime_data.library
    movies = next(s for s in library.data.sections if s.type == "movie")
    added = asyncio.Event()
    events = async_capture_events(hass, EVENT_MEDIA)
    hass.bus.async_listen_once(EVENT_MEDIA, callback(lambda _: added.set()))

    item = plex_server.library.add_item(movies.key, "A Brand New Film", year=2026)
    async with asyncio.timeout(5):
        await added.wait()
    assert events[0].data == {
        "type": "added",
        "server_id": plex_server.machine_identifier,
        "rating_key": str(item.rating_key),
        "title": "A Brand New Film",
        "media_type": "movie",
        "library": "Movies",
        "library_id": movies.key,
    }

    removed = asyncio.Event()
    hass.bus.async_listen_once(EVENT_MEDIA, callback(lambda _: removed.set()))
    plex_server.library.delete_item(item.rating_key)
    async with asyncio.timeout(5):
        await removed.wait()
    assert events[-1].data["type"] == "removed"
    assert events[-1].data["rating_key"] == str(item.rating_key)


async def test_polls_that_confirm_the_position_keep_its_anchor(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """While polling, a read that matches the extrapolated position changes nothing."""
    coordinator = loaded_entry.runtime_data.sessions
    plex_server.faults.add("/:/websockets/notifications", status=503)
    plex_server.notifications.drop_all()
    await wait_for_coordinator(coordinator, lambda: not coordinator.push_connected)

    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await coordinator.async_refresh()
    live = coordinator.data.for_player(PLAYER_ID)
    assert live is not None
    anchor = (live.position_ms, live.position_updated_at)

    freezer.tick(timedelta(seconds=DEFAULT_UPDATE_INTERVAL))
    plex_server.sessions.advance(DEFAULT_UPDATE_INTERVAL)
    await coordinator.async_refresh()
    live = coordinator.data.for_player(PLAYER_ID)
    assert live is not None
    assert (live.position_ms, live.position_updated_at) == anchor

    # A seek seen only by the poll moves the anchor.
    plex_server.sessions.seek(session, 3_000_000)
    await coordinator.async_refresh()
    live = coordinator.data.for_player(PLAYER_ID)
    assert live is not None
    assert live.position_ms == 3_000_000


async def test_a_burst_of_starts_costs_at_most_two_reads(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """Two players starting together: both show, with one read and one more."""
    coordinator = loaded_entry.runtime_data.sessions
    plex_server.faults.reset_counts()
    plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    plex_server.sessions.start_session(player="Bedroom", rating_key="2")
    await wait_for_coordinator(coordinator, lambda: len(coordinator.data.sessions) == 2)
    await hass.async_block_till_done()
    assert 1 <= plex_server.faults.count("/status/sessions") <= 2
