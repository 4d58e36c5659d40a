"""Faults of the server and the network, through Home Assistant, with the emulator's faults.

Each test says what the user sees when that fault happens, and checks it: the server
down at start, a refused token, websocket gaps and a websocket that never connects,
unreadable and odd answers (and real Plex's captured bytes), reads racing
notifications, a slow server under Home Assistant's loop-block detection, and actions
on a failing server. What counts as "the server is down" is written in coordinator.py's
module docstring. Faults
proven elsewhere (see README "Reliability") are not repeated here: the server gone
while running (test_coordinator), the 10-minute repair (test_repairs), interrupted
syncs (tests/mirror/test_sync), a corrupt mirror file (test_mirror) and the unusual
kinds of session (test_media_player's test_every_kind_of_session).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import logging
from pathlib import Path
import time
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant import block_async_io
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.components.media_player import (
    DOMAIN as MEDIA_PLAYER_DOMAIN,
    SERVICE_MEDIA_PAUSE,
    MediaPlayerState,
)
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_fire_time_changed_exact,
)

from custom_components.plex_bridge.api import PlexConnectionError
from custom_components.plex_bridge.api.client import REQUEST_TIMEOUT
from custom_components.plex_bridge.const import DEFAULT_UPDATE_INTERVAL, DOMAIN
from custom_components.plex_bridge.coordinator import MAX_BROKEN_ANSWERS

# The fixture skips a test where the real-Plex reference material is missing.
from tests.emulator.conftest import plex_reference  # noqa: F401
from tests.plex_server import PlexEmulator

from .conftest import (
    async_until,
    async_wait_for_state,
    wait_for_coordinator,
    wait_for_first_sync,
)

LIVING_ROOM = "media_player.living_room_tv"
PLAYER = "Living Room TV"
PLAYER_ID = "1234567890123456-com-plexapp-android"
WEBSOCKET = "/:/websockets/notifications"
SCAN_CLIENTS = "button.plex_bridge_emulator_scan_clients"
NOTIFICATIONS_MODULE = "custom_components.plex_bridge.api.notifications"
RECENTLY_ADDED = "sensor.plex_bridge_emulator_recently_added"
LIVE_ENTITIES = (
    "sensor.plex_bridge_emulator_active_streams",
    "sensor.plex_bridge_emulator_bandwidth",
    RECENTLY_ADDED,
)
# The library's entities that are enabled by default (the counts are not).
LIBRARY_SENSORS = (RECENTLY_ADDED, "update.plex_bridge_emulator_plex_media_server")


def total_requests(plex_server: PlexEmulator) -> int:
    """Every request the emulator received since its counts were last reset."""
    return sum(plex_server.faults.counts.values())


async def test_server_down_at_start_loads_when_it_returns(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    """The user sees the entry "retrying setup", then loaded, with no restart."""
    fault = plex_server.faults.add("*", status=503)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY

    plex_server.faults.remove(fault)
    loaded = asyncio.Event()

    @callback
    def async_state_changed() -> None:
        if mock_config_entry.state is ConfigEntryState.LOADED:
            loaded.set()

    unsubscribe = mock_config_entry.async_on_state_change(async_state_changed)
    # Home Assistant's retry timer (at most 80 s at the first retries) fires; the
    # retried setup runs as a background task, so wait for the entry's state.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=2))
    async with asyncio.timeout(5):
        await loaded.wait()
    unsubscribe()
    await hass.async_block_till_done()
    assert hass.states.get(LIVING_ROOM) is not None
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()


async def test_refused_token_while_running_asks_once_and_stays_quiet(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
) -> None:
    """A revoked token: one reauth dialog, and the server is not hammered meanwhile.

    While reauthentication is pending the entities show what they showed: the
    token was refused, the server is not down, and nothing known has changed.
    """
    sessions = loaded_entry.runtime_data.sessions
    plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    await sessions.async_refresh()
    await hass.async_block_till_done()
    before = {entity: shown(hass, entity) for entity in (LIVING_ROOM, *LIVE_ENTITIES)}

    plex_server.token = "revoked-and-replaced"
    plex_server.notifications.drop_all()
    await wait_for_coordinator(sessions, lambda: not sessions.push_connected)
    await sessions.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]

    # Ten poll intervals of frozen time: polling stops after the refusal and the
    # websocket backs off (one attempt was seen), never a burst of retries.
    plex_server.faults.reset_counts()
    for _ in range(10):
        freezer.tick(timedelta(seconds=DEFAULT_UPDATE_INTERVAL + 1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert total_requests(plex_server) <= 10, plex_server.faults.counts
    # Still one dialog, not one per failed poll.
    assert len(hass.config_entries.flow.async_progress_by_handler(DOMAIN)) == 1
    # The player and the sensors are as they were, not unavailable.
    after = {entity: shown(hass, entity) for entity in (LIVING_ROOM, *LIVE_ENTITIES)}
    assert after == before


async def test_websocket_gap_loses_no_change(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
) -> None:
    """A dropped websocket: the player keeps up by polling, and push comes back."""
    sessions = loaded_entry.runtime_data.sessions
    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)

    fault = plex_server.faults.add(WEBSOCKET, ws_drop=True)
    await wait_for_coordinator(sessions, lambda: not sessions.push_connected)
    # Changes while push is gone: nobody tells the integration, the poll finds them.
    plex_server.sessions.pause(session)
    freezer.tick(timedelta(seconds=DEFAULT_UPDATE_INTERVAL + 1))
    async_fire_time_changed(hass)
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PAUSED)

    live = sessions.data.for_player(PLAYER_ID)
    assert live is not None
    assert live.state == "paused"
    # Push coming back and polling stopping is test_coordinator's
    # test_polls_while_push_is_down_and_stops_when_it_returns.
    plex_server.faults.remove(fault)


HTML_PAGE = b"<html><head><title>Sign in</title></head><body>Guest Wi-Fi</body></html>"
BROKEN_ANSWERS: dict[str, dict[str, Any]] = {
    "malformed": {"malformed": True},
    "truncated": {"truncate": True},
    "html_page": {"body": HTML_PAGE, "content_type": "text/html"},
    "json_without_container": {
        "body": b'{"MediaContainer": null}',
        "content_type": "application/json",
    },
}


def shown(hass: HomeAssistant, entity_id: str) -> tuple[str, dict[str, Any]]:
    """What the user sees of an entity: its state and attributes."""
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state, dict(state.attributes)


def warnings_and_worse(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The log lines a user would notice (warning and above)."""
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("path", ["/status/sessions", "/clients"])
@pytest.mark.parametrize(
    "fault", list(BROKEN_ANSWERS.values()), ids=list(BROKEN_ANSWERS)
)
async def test_unreadable_answer_keeps_the_last_good_state(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    path: str,
    fault: dict[str, Any],
) -> None:
    """A server that answers, but unreadably: the player shows what it showed.

    Broken off, not XML or JSON, a proxy's HTML page: up to MAX_BROKEN_ANSWERS in a
    row keep the last good state, logged at debug level only. The next one makes the
    player unavailable (one error line: what it shows is no longer known), and a
    good read brings it back.
    """
    sessions = loaded_entry.runtime_data.sessions
    plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    await sessions.async_refresh()
    before = shown(hass, LIVING_ROOM)
    caplog.clear()

    broken = plex_server.faults.add(path, **fault)
    with caplog.at_level(logging.DEBUG, logger="custom_components.plex_bridge"):
        for _ in range(MAX_BROKEN_ANSWERS):
            await sessions.async_refresh()
            await hass.async_block_till_done()
            assert sessions.last_update_success
            assert shown(hass, LIVING_ROOM) == before
    assert broken.fired == MAX_BROKEN_ANSWERS
    assert warnings_and_worse(caplog) == []
    kept = [r for r in caplog.records if "Keeping the last good" in r.getMessage()]
    assert len(kept) == MAX_BROKEN_ANSWERS
    assert all(r.levelno == logging.DEBUG for r in kept)

    # One more: the state is no longer known. One error line, no traceback.
    await sessions.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(LIVING_ROOM).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    errors = warnings_and_worse(caplog)
    assert len(errors) == 1, errors
    assert errors[0].getMessage().startswith("Error fetching plex_bridge sessions")
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.exc_info)

    plex_server.faults.remove(broken)
    await sessions.async_refresh()
    await hass.async_block_till_done()
    assert shown(hass, LIVING_ROOM)[0] == MediaPlayerState.PLAYING
    assert sessions.broken_answers.count == 0


async def test_unreadable_answer_before_any_good_read_retries_setup(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    """No good state to keep at the first read: the entry retries setup instead."""
    plex_server.faults.add("/status/sessions", body=HTML_PAGE)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    plex_server.faults.clear()
    await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_unreadable_library_answer_keeps_the_library_sensors(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Recently added and the server's release stay as they were on a broken read."""
    library = loaded_entry.runtime_data.library
    before = {entity: shown(hass, entity) for entity in LIBRARY_SENSORS}
    caplog.clear()

    broken = plex_server.faults.add("/library/sections", malformed=True)
    for _ in range(MAX_BROKEN_ANSWERS):
        loaded_entry.runtime_data.client.invalidate_content(scan=True)
        await library.async_refresh()
        await hass.async_block_till_done()
        assert library.last_update_success
    # Each read asked again twice (a GET is retried), then kept what it had.
    assert library.broken_answers.count == MAX_BROKEN_ANSWERS
    assert broken.fired == MAX_BROKEN_ANSWERS * 3
    assert {entity: shown(hass, entity) for entity in LIBRARY_SENSORS} == before
    assert warnings_and_worse(caplog) == []

    loaded_entry.runtime_data.client.invalidate_content(scan=True)
    await library.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(RECENTLY_ADDED).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    plex_server.faults.remove(broken)
    await library.async_refresh()
    await hass.async_block_till_done()
    assert {entity: shown(hass, entity) for entity in LIBRARY_SENSORS} == before


def null_everything(data: dict[str, Any]) -> None:
    """Every attribute ``null`` but those that name a session and its player."""
    for entry in data["MediaContainer"].get("Metadata", []):
        for name in list(entry):
            if name not in {"ratingKey", "sessionKey", "Player", "type"}:
                entry[name] = None
        player = entry["Player"]
        for name in list(player):
            if name not in {"machineIdentifier", "state"}:
                player[name] = None


def keep_only_keys(data: dict[str, Any]) -> None:
    """Every attribute left out but the session's key and its player's identifier."""
    container = data["MediaContainer"]
    for entry in container.get("Metadata", []):
        player_id = entry["Player"]["machineIdentifier"]
        entry.clear()
        entry.update(sessionKey=entry.get("sessionKey", "1"))
        entry["Player"] = {"machineIdentifier": player_id}


def unknown_kinds(data: dict[str, Any]) -> None:
    """An item type nobody knows, and entries that name no session or no player."""
    container = data["MediaContainer"]
    for entry in container.get("Metadata", []):
        entry["type"] = "hologram"
        entry["Media"] = [None, {"Part": "not a list", "selected": True}]
    container["Metadata"] = [
        *container.get("Metadata", []),
        {"type": "movie", "title": "No session key"},
        {"ratingKey": "9", "sessionKey": "99", "Player": None},
        {"sessionKey": "98", "Player": {"machineIdentifier": None}},
        None,
        "not an object",
    ]
    container["Hologram"] = [{"beam": 1}]


def null_clients(data: dict[str, Any]) -> None:
    """``/clients`` with nulls and a player without an identifier."""
    container = data["MediaContainer"]
    for entry in container.get("Server", []):
        for name in list(entry):
            if name != "machineIdentifier":
                entry[name] = None
    container["Server"] = [*container.get("Server", []), {"name": None}, None]


ODD_ANSWERS: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "nulls": ("/status/sessions", null_everything),
    "missing_attributes": ("/status/sessions", keep_only_keys),
    "unknown_item_types": ("/status/sessions", unknown_kinds),
    "clients_nulls": ("/clients", null_clients),
}


@pytest.mark.parametrize("case", list(ODD_ANSWERS))
async def test_odd_answer_is_read_as_far_as_it_goes(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    """Nulls, missing attributes, unknown item types: no error, the player plays.

    An answer that parses is the truth, read as far as it goes: the session still
    shows on its player, entries that name no session or no player are skipped, and
    nothing is logged above debug level.
    """
    path, rewrite = ODD_ANSWERS[case]
    sessions = loaded_entry.runtime_data.sessions
    plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    caplog.clear()

    odd = plex_server.faults.add(path, rewrite=rewrite)
    await sessions.async_refresh()
    await hass.async_block_till_done()
    assert odd.fired >= 1
    assert sessions.last_update_success
    assert sessions.broken_answers.count == 0
    assert shown(hass, LIVING_ROOM)[0] == MediaPlayerState.PLAYING
    # The entries that name no session or no player made no entity of their own.
    assert len(sessions.data.sessions) == 1
    assert warnings_and_worse(caplog) == []
    plex_server.faults.remove(odd)


async def test_server_errors_open_the_breaker_one_probe_per_cool_down(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A burst of 503s: the server is left alone but for one probe per cool-down."""
    sessions = loaded_entry.runtime_data.sessions
    breaker = loaded_entry.runtime_data.client.breaker
    fault = plex_server.faults.add("*", status=503)
    plex_server.notifications.drop_all()
    await wait_for_coordinator(sessions, lambda: not sessions.last_update_success)
    for _ in range(5):
        await sessions.async_refresh()
    assert breaker.as_dict()["state"] == "open"

    for _ in range(3):
        # Within the cool-down: no request at all.
        plex_server.faults.reset_counts()
        freezer.tick(timedelta(seconds=breaker.cooldown / 2))
        await sessions.async_refresh()
        assert plex_server.faults.count("/status/sessions") == 0
        # Past it: one probe, which fails and opens the breaker again.
        freezer.tick(timedelta(seconds=breaker.cooldown / 2 + 1))
        await sessions.async_refresh()
        await sessions.async_refresh()
        assert plex_server.faults.count("/status/sessions") == 1
        assert breaker.as_dict()["state"] == "open"

    plex_server.faults.remove(fault)
    freezer.tick(timedelta(seconds=breaker.cooldown + 1))
    await sessions.async_refresh()
    assert sessions.last_update_success
    assert breaker.as_dict()["state"] == "closed"


NEVER_CONNECTS: dict[str, dict[str, Any]] = {
    "upgrade_refused": {"status": 503},
    "closed_at_once": {"ws_drop": True},
}


@pytest.mark.parametrize(
    "refusal", list(NEVER_CONNECTS.values()), ids=list(NEVER_CONNECTS)
)
async def test_websocket_that_never_connects_polls_and_backs_off(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    freezer: FrozenDateTimeFactory,
    mock_config_entry: MockConfigEntry,
    refusal: dict[str, Any],
) -> None:
    """No push from the start: the players keep up by polling, retries back off.

    The attempts come after 1, 2, 4 ... seconds, capped at a minute (full jitter
    at its largest draw here), one per wait and none in between; once the
    websocket connects, the players show what the server plays.
    """
    fault = plex_server.faults.add(WEBSOCKET, **refusal)
    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    with patch(f"{NOTIFICATIONS_MODULE}.jitter", return_value=1.0):
        mock_config_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()
        # The mirror's first sync ends before the clock moves (its requests would
        # time out under the jumps, and the breaker would then open).
        await wait_for_first_sync(mock_config_entry)
        listener = mock_config_entry.runtime_data.listener
        sessions = mock_config_entry.runtime_data.sessions
        assert hass.states.get(LIVING_ROOM).state == MediaPlayerState.PLAYING  # type: ignore[union-attr]

        def attempts() -> int:
            # The listener's count: aiohttp may send an attempt twice when the
            # kept-alive connection it first tried was closed by the server.
            return listener.attempts

        await async_until(
            lambda: attempts() == 1 and listener.next_retry_in is not None,
            lambda: f"{attempts()} attempts, {listener.as_dict()}",
        )
        waits: list[float] = []
        for attempt in range(2, 10):
            wait = listener.next_retry_in
            assert wait is not None
            waits.append(wait)
            # Half-way through the wait: no attempt yet (exact: no half-second
            # added, as async_fire_time_changed adds for Home Assistant's timers).
            freezer.tick(timedelta(seconds=wait / 2))
            async_fire_time_changed_exact(hass)
            await hass.async_block_till_done()
            assert attempts() == attempt - 1
            requests = plex_server.faults.count(WEBSOCKET)
            freezer.tick(timedelta(seconds=wait / 2 + 0.01))
            async_fire_time_changed(hass)
            await async_until(
                lambda: attempts() == attempt and listener.next_retry_in is not None  # noqa: B023 - waited for here
            )
            assert plex_server.faults.count(WEBSOCKET) > requests
            assert not sessions.push_connected
        assert waits == [1, 2, 4, 8, 16, 32, 60, 60]

        # Meanwhile polling kept the player up to date.
        plex_server.sessions.pause(session)
        freezer.tick(timedelta(seconds=DEFAULT_UPDATE_INTERVAL + 1))
        async_fire_time_changed(hass)
        await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PAUSED)

        # The websocket works again: the next attempt connects, and push rules.
        plex_server.faults.remove(fault)
        freezer.tick(timedelta(seconds=61))
        async_fire_time_changed(hass)
        await async_until(lambda: sessions.push_connected)
        await hass.async_block_till_done()
        assert sessions.update_interval is None
        live = sessions.data.for_player(PLAYER_ID)
        assert live is not None
        assert live.state == "paused"
        # With polling stopped, only push can tell of the next change.
        plex_server.sessions.resume(session)
        await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
        assert attempts() == 10

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def loop_block_detection(disable_block_async_io: None) -> None:
    """Home Assistant's detection of blocking calls in the event loop, as in production.

    Home Assistant enables it at startup; its test harness leaves it off. Any
    blocking call (``time.sleep``, ``open``, a socket's ``connect`` ...) in the loop
    then raises, and ``disable_block_async_io`` restores the originals afterwards.
    """
    block_async_io.enable()


@pytest.mark.usefixtures("loop_block_detection")
async def test_slow_server_blocks_nothing_and_timeouts_hold(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Answers 5 s late: read as usual; answers later than the timeout: a failed read.

    The loop's clock is frozen, so a late answer waits for the test to move it
    (``freezer.tick`` and ``async_fire_time_changed``, which runs the loop's timers
    that are due): the emulator's latency and the client's timeout both run on it.
    """
    sessions = loaded_entry.runtime_data.sessions
    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    # Detection is on: a blocking call in the loop raises.
    with pytest.raises(RuntimeError, match="blocking call"):
        time.sleep(0)  # noqa: ASYNC251 - proves that detection is on

    # 5 s late, well within the client's timeout: the read goes through.
    slow = plex_server.faults.add("/status/sessions", latency=5)
    plex_server.sessions.pause(session)
    read = hass.async_create_task(sessions.async_refresh())
    await async_until(lambda: slow.fired == 1)
    freezer.tick(timedelta(seconds=5))
    async_fire_time_changed(hass)
    await read
    assert sessions.last_update_success
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PAUSED)
    plex_server.faults.remove(slow)

    # No answer before the client's timeout: the read ends as a failed one.
    held = plex_server.faults.add("/status/sessions", hold=True)
    read = hass.async_create_task(sessions.async_refresh())
    await held.held()
    assert not read.done()
    freezer.tick(timedelta(seconds=REQUEST_TIMEOUT + 1))
    async_fire_time_changed(hass)
    await read
    assert not sessions.last_update_success
    assert isinstance(sessions.last_exception.__cause__, PlexConnectionError)  # type: ignore[union-attr]
    assert hass.states.get(LIVING_ROOM).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    held.release()
    plex_server.faults.remove(held)
    await sessions.async_refresh()
    assert sessions.last_update_success
    assert not [r for r in caplog.records if "blocking call" in r.getMessage()]


@pytest.mark.usefixtures("loop_block_detection")
async def test_service_call_on_a_slow_server_fails_within_the_timeout(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    freezer: FrozenDateTimeFactory,
    loaded_entry: MockConfigEntry,
) -> None:
    """A command the server does not answer: a translated error, not a hang."""
    plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    held = plex_server.faults.add("/player/playback/pause", hold=True)
    call = hass.async_create_task(
        hass.services.async_call(
            MEDIA_PLAYER_DOMAIN,
            SERVICE_MEDIA_PAUSE,
            {ATTR_ENTITY_ID: LIVING_ROOM},
            blocking=True,
        )
    )
    await held.held()
    assert not call.done()
    freezer.tick(timedelta(seconds=REQUEST_TIMEOUT + 1))
    async_fire_time_changed(hass)
    with pytest.raises(HomeAssistantError) as raised:
        await call
    assert raised.value.translation_domain == DOMAIN
    assert raised.value.translation_key == "command_failed"
    assert plex_server.token not in str(raised.value)
    held.release()
    # The player is still there, as it was: one command failed, the server did not.
    assert hass.states.get(LIVING_ROOM).state == MediaPlayerState.PLAYING  # type: ignore[union-attr]


async def test_scan_clients_on_a_server_that_fails_says_why(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """The scan-clients button on a server that does not answer: a translated error."""
    fault = plex_server.faults.add("/clients", status=503)
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(
            BUTTON_DOMAIN,
            SERVICE_PRESS,
            {ATTR_ENTITY_ID: SCAN_CLIENTS},
            blocking=True,
        )
    assert raised.value.translation_domain == DOMAIN
    assert raised.value.translation_key == "update_failed"
    assert "HTTP 503 from /clients" in str(raised.value)
    # The button is now unavailable with the rest, until the next read.
    assert hass.states.get(SCAN_CLIENTS).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    plex_server.faults.remove(fault)
    await loaded_entry.runtime_data.sessions.async_refresh()
    await hass.async_block_till_done()
    plex_server.faults.reset_counts()
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: SCAN_CLIENTS}, blocking=True
    )
    assert plex_server.faults.count("/clients") == 1


@pytest.mark.parametrize("change", ["pause", "stop"])
async def test_read_older_than_a_notification_does_not_undo_it(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    change: str,
) -> None:
    """A poll whose answer was read before a pause (or an end) came by push.

    The poll reads ``/status/sessions`` (still playing), then waits on a slow
    ``/clients``; meanwhile the user pauses or stops. The notification wins: the
    older read does not make the player play again, nor start the session anew.
    """
    sessions = loaded_entry.runtime_data.sessions
    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    events: list[str] = []

    @callback
    def async_playback(event: Any) -> None:
        events.append(event.data["type"])

    hass.bus.async_listen(f"{DOMAIN}_playback", async_playback)
    held = plex_server.faults.add("/clients", hold=True, times=1)
    read = hass.async_create_task(sessions.async_refresh())
    await held.held()
    if change == "pause":
        plex_server.sessions.pause(session)
        wanted = MediaPlayerState.PAUSED
    else:
        plex_server.sessions.stop_session(session)
        wanted = MediaPlayerState.IDLE
    # Not async_wait_for_state: it waits for every task, the held read among them.
    await wait_for_coordinator(
        sessions,
        lambda: hass.states.get(LIVING_ROOM).state == wanted,  # type: ignore[union-attr]
    )
    held.release()
    await read
    await hass.async_block_till_done()
    assert sessions.last_update_success
    assert hass.states.get(LIVING_ROOM).state == wanted  # type: ignore[union-attr]
    assert events == ["paused" if change == "pause" else "stopped"]


@pytest.mark.parametrize(
    "case",
    [("session_base.xml", "Movie 1"), ("livetv_sessions.xml", None)],
    ids=["transcoded_movie", "live_tv_without_player"],
)
async def test_real_plex_answer_in_xml_is_read(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    plex_reference: Path,  # noqa: F811 - the imported fixture
    caplog: pytest.LogCaptureFixture,
    case: tuple[str, str | None],
) -> None:
    """Real Plex's own bytes, as XML although JSON was asked for (a proxy's doing).

    ``session_base.xml`` plays on the Living Room TV (the capture's player);
    ``livetv_sessions.xml`` names no player or session key: no session, no error.
    """
    capture, plays = case
    sessions = loaded_entry.runtime_data.sessions
    body = (plex_reference / "captures" / capture).read_bytes()
    body = body.replace(b"{user_id}", b"1")
    caplog.clear()
    fault = plex_server.faults.add(
        "/status/sessions", body=body, content_type="text/xml"
    )
    await sessions.async_refresh()
    await hass.async_block_till_done()
    assert fault.fired == 1
    assert sessions.last_update_success
    assert warnings_and_worse(caplog) == []
    state = hass.states.get(LIVING_ROOM)
    assert state is not None
    if plays is None:
        assert sessions.data.sessions == {}
        assert state.state != MediaPlayerState.PLAYING
    else:
        assert state.state == MediaPlayerState.PLAYING
        assert state.attributes["media_title"] == plays
    plex_server.faults.remove(fault)


@pytest.mark.parametrize("failures", [1, 2, 3])
async def test_a_read_retries_server_errors_with_backoff_then_says_why(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    failures: int,
) -> None:
    """An action's read rides out two 5xx answers in a row; a third is its error.

    The client retries a GET twice, after a jittered backoff that doubles (logged
    at debug level with the wait), so a blip costs the user nothing; three failures
    end in a translated error. Never more than three requests, and the breaker
    (which opens at five) stays shut: the players stay available.
    """
    path = "/library/sections/1/recentlyAdded"
    fault = plex_server.faults.add(path, status=503, times=failures)
    asked = plex_server.faults.path_counts[path]
    data = {"library": "Movies", "limit": 7}
    with caplog.at_level(logging.DEBUG, logger="custom_components.plex_bridge"):
        if failures < 3:
            result = await hass.services.async_call(
                DOMAIN, "recently_added", data, blocking=True, return_response=True
            )
            assert isinstance(result, dict)
            assert result["items"]
        else:
            with pytest.raises(HomeAssistantError) as raised:
                await hass.services.async_call(
                    DOMAIN, "recently_added", data, blocking=True, return_response=True
                )
            assert raised.value.translation_key is not None
            assert "503" in str(raised.value)
    assert fault.fired == failures
    assert plex_server.faults.path_counts[path] - asked == min(failures + 1, 3)
    waits = [r for r in caplog.records if r.getMessage().startswith("Retrying GET")]
    assert len(waits) == min(failures, 2)
    assert all(r.levelno == logging.DEBUG for r in waits)
    assert loaded_entry.runtime_data.client.breaker.as_dict()["state"] == "closed"
    state = hass.states.get(LIVING_ROOM)
    assert state is not None
    assert state.state != STATE_UNAVAILABLE
