"""The ``plex_bridge_playback`` event, as automations receive it.

Sessions change in the emulator; Home Assistant hears of it by push (the
websocket) or, while the websocket is down, by polling; each change of a play
session fires exactly one event with who plays what where.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_fire_time_changed,
)

from custom_components.plex_bridge.const import DEFAULT_UPDATE_INTERVAL, EVENT_PLAYBACK
from tests.plex_server import PlexEmulator

from .conftest import wait_for_coordinator

PLAYER = "Living Room TV"
PLAYER_ID = "1234567890123456-com-plexapp-android"


def matrix_event(
    plex_server: PlexEmulator, event_type: str, state: str, session_key: str
) -> dict[str, Any]:
    """What an event about The Matrix on the living room TV says."""
    return {
        "type": event_type,
        "server_id": plex_server.machine_identifier,
        "player": PLAYER,
        "player_id": PLAYER_ID,
        "user": "plexbridge",
        "title": "The Matrix",
        "media_title": "The Matrix",
        "rating_key": "1",
        "media_type": "movie",
        "library": "Movies",
        "session_key": session_key,
        "state": state,
    }


async def wait_for_events(
    entry: MockConfigEntry, events: list[Event], count: int
) -> None:
    """Wait until ``count`` events have been fired (each comes with an update)."""
    await wait_for_coordinator(
        entry.runtime_data.sessions, lambda: len(events) >= count
    )


async def test_push_events(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, EVENT_PLAYBACK)
    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    key = session.session_key
    await wait_for_events(loaded_entry, events, 1)
    plex_server.sessions.pause(session)
    await wait_for_events(loaded_entry, events, 2)
    plex_server.sessions.resume(session)
    await wait_for_events(loaded_entry, events, 3)
    # Progress and seeks are no events.
    plex_server.sessions.advance(30)
    plex_server.sessions.seek(session, 600_000)
    plex_server.sessions.stop_session(session)
    await wait_for_events(loaded_entry, events, 4)
    await hass.async_block_till_done()

    assert [event.data for event in events] == [
        matrix_event(plex_server, "started", "playing", key),
        matrix_event(plex_server, "paused", "paused", key),
        matrix_event(plex_server, "resumed", "playing", key),
        matrix_event(plex_server, "stopped", "stopped", key),
    ]


async def test_episode_event_names_the_show(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    episode = next(
        item for item in plex_server.library.items.values() if item.kind == "episode"
    )
    show = episode.parent.parent
    events = async_capture_events(hass, EVENT_PLAYBACK)
    plex_server.sessions.start_session(
        player="Bedroom", rating_key=episode.rating_key, user="Sam"
    )
    await wait_for_events(loaded_entry, events, 1)

    data = events[0].data
    assert data["type"] == "started"
    assert data["media_type"] == "episode"
    assert data["title"] == episode.title
    assert data["media_title"] == (
        f"{show.title} - S{episode.parent.index:02d}E{episode.index:02d}"
        f" - {episode.title}"
    )
    assert data["user"] == "Sam"
    assert data["player"] == "Bedroom"
    assert data["library"] == "TV Shows"


async def test_buffering_then_playing_is_resumed(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, EVENT_PLAYBACK)
    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await wait_for_events(loaded_entry, events, 1)
    plex_server.sessions.buffer(session)
    await wait_for_events(loaded_entry, events, 2)
    plex_server.sessions.resume(session)
    await wait_for_events(loaded_entry, events, 3)

    assert [(e.data["type"], e.data["state"]) for e in events] == [
        ("started", "playing"),
        ("buffering", "buffering"),
        ("resumed", "playing"),
    ]


async def test_another_item_on_the_player(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, EVENT_PLAYBACK)
    plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await wait_for_events(loaded_entry, events, 1)
    # The player plays one thing: the first session stops, a new one starts.
    plex_server.sessions.start_session(player=PLAYER, rating_key="2")
    await wait_for_events(loaded_entry, events, 3)
    await hass.async_block_till_done()

    assert [(e.data["type"], e.data["rating_key"]) for e in events] == [
        ("started", "1"),
        ("stopped", "1"),
        ("started", "2"),
    ]


async def test_terminated_session_is_stopped(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    events = async_capture_events(hass, EVENT_PLAYBACK)
    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await wait_for_events(loaded_entry, events, 1)
    plex_server.sessions.terminate(session.id, "Bedtime")
    await wait_for_events(loaded_entry, events, 2)

    assert events[1].data == matrix_event(
        plex_server, "stopped", "stopped", session.session_key
    )


async def test_poll_events(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    coordinator = loaded_entry.runtime_data.sessions
    # The websocket goes down and stays down: the coordinator polls.
    plex_server.faults.add("/:/websockets/notifications", status=503)
    plex_server.notifications.drop_all()
    await wait_for_coordinator(coordinator, lambda: not coordinator.push_connected)
    # Settle the read that follows the drop; from now on only the timer reads.
    await coordinator.async_refresh()
    events = async_capture_events(hass, EVENT_PLAYBACK)

    async def poll() -> None:
        # The poll runs as a background task of the entry: wait for its update.
        polled = plex_server.faults.count("/status/sessions") + 1
        freezer.tick(timedelta(seconds=DEFAULT_UPDATE_INTERVAL + 1))
        async_fire_time_changed(hass)
        await wait_for_coordinator(
            coordinator,
            lambda: plex_server.faults.count("/status/sessions") >= polled,
        )

    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    key = session.session_key
    await hass.async_block_till_done()
    assert events == []
    await poll()
    plex_server.sessions.pause(session)
    await poll()
    plex_server.sessions.resume(session)
    await poll()
    # Nothing changed: no event.
    await poll()
    plex_server.sessions.stop_session(session)
    await poll()

    assert [event.data for event in events] == [
        matrix_event(plex_server, "started", "playing", key),
        matrix_event(plex_server, "paused", "paused", key),
        matrix_event(plex_server, "resumed", "playing", key),
        matrix_event(plex_server, "stopped", "stopped", key),
    ]
