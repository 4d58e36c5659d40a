"""Fixtures for the integration's tests: config entries against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import dataclasses
from typing import Any, Protocol

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_TOKEN,
    CONF_URL,
    CONF_VERIFY_SSL,
    EVENT_STATE_CHANGED,
)
from homeassistant.core import Event, HomeAssistant, State, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plex_bridge.const import DOMAIN
from tests.plex_server import Clock, PlexEmulator


@pytest.fixture
def entry_options() -> dict[str, Any]:
    """The options of ``mock_config_entry``; parametrize it to set some."""
    return {}


def config_entry_for(
    emu: PlexEmulator,
    options: dict[str, Any] | None = None,
    *,
    token: str | None = None,
) -> MockConfigEntry:
    """A config entry (version 1.2) for an emulated server (the owner's token)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=emu.name,
        unique_id=emu.machine_identifier,
        version=1,
        minor_version=2,
        data={
            CONF_URL: emu.url,
            CONF_TOKEN: emu.token if token is None else token,
            CONF_VERIFY_SSL: True,
        },
        options=options or {},
    )


@pytest.fixture
def mock_config_entry(
    plex_server: PlexEmulator, entry_options: dict[str, Any]
) -> MockConfigEntry:
    """A config entry for the emulated server, not yet added to Home Assistant."""
    return config_entry_for(plex_server, entry_options)


@pytest.fixture
async def second_plex_server(
    socket_enabled: None, emulator_clock: Clock
) -> AsyncIterator[PlexEmulator]:
    """Another emulated server (own identity, token and players) on loopback."""
    emu = PlexEmulator(
        library="small", seed=1, name="Second Emulator", clock=emulator_clock
    )
    for player in list(emu.players):
        emu.players.remove(player.machine_identifier)
        emu.players.add(
            dataclasses.replace(
                player,
                machine_identifier=f"second-{player.machine_identifier}",
                title=f"Second {player.title}",
                device_id=0,
            )
        )
    await emu.start()
    yield emu
    await emu.stop()


class Announcer(Protocol):
    """What tells its listeners of each change (a coordinator, the mirror)."""

    def async_add_listener(
        self, update_callback: Callable[[], None], /
    ) -> Callable[[], None]:
        """Call ``update_callback`` on each change; returns the remover."""


async def wait_for_listeners(
    source: Announcer, predicate: Callable[[], bool], *, seconds: float
) -> None:
    """Wait (at most ``seconds``) until ``predicate()`` holds after a change.

    No sleeping: the source's own listener wakes the test each time it changes.
    """
    woken = asyncio.Event()
    unsubscribe = source.async_add_listener(woken.set)
    try:
        async with asyncio.timeout(seconds):
            while not predicate():
                await woken.wait()
                woken.clear()
    finally:
        unsubscribe()


async def wait_for_coordinator(
    coordinator: DataUpdateCoordinator[Any], predicate: Callable[[], bool]
) -> None:
    """Wait (at most 5 s) until ``predicate()`` holds after a coordinator update."""
    await wait_for_listeners(coordinator, predicate, seconds=5)


async def wait_for_first_sync(entry: MockConfigEntry) -> None:
    """Wait (at most 10 s) until the library mirror's first sync has ended.

    Setup starts it in the background; tests start from a mirror that has synced
    (or failed to), so that search and ``play_media`` take one path, not the one
    a race picks. Woken by the mirror's own listener, no sleeping.
    """
    mirror = entry.runtime_data.mirror
    if mirror is None:
        return
    woken = asyncio.Event()
    unsubscribe = mirror.async_add_listener(woken.set)
    try:
        async with asyncio.timeout(10):
            while mirror.last_result is None and not mirror.failures:
                await woken.wait()
                woken.clear()
    finally:
        unsubscribe()


MAX_LOOP_TURNS = 100_000


async def async_until(
    predicate: Callable[[], bool],
    describe: Callable[[], str] = str,
    *,
    turns: int = MAX_LOOP_TURNS,
) -> None:
    """Turn the event loop until ``predicate()`` holds, at most ``turns`` times.

    For what nothing announces. No sleeping; bounded by loop turns (each lets
    loopback I/O through), since under ``freezer`` the loop's clock (and so
    ``asyncio.timeout``) stands still.
    """
    for _ in range(turns):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"the condition never held: {describe()}")


async def async_wait_for_notifications(
    entry: MockConfigEntry, count: int, *, turns: int = MAX_LOOP_TURNS
) -> None:
    """Until the entry's router has received ``count`` notifications.

    Nothing in Home Assistant announces a notification that only schedules a later
    refresh, so the test turns the loop (which reads the websocket) until the
    router has counted it.
    """
    router = entry.runtime_data.router
    await async_until(
        lambda: router.received >= count,
        lambda: f"{router.received} notifications of {count} arrived",
        turns=turns,
    )


async def async_wait_for_state(
    hass: HomeAssistant,
    entity_id: str,
    wanted: str | Callable[[State], bool],
) -> State:
    """The entity's state once it matches ``wanted`` (a state or a test), within 5 s.

    No sleeping: each ``state_changed`` of the entity wakes the test. Pending work is
    let finish, and the state returned still matches.
    """

    def matches() -> State | None:
        state = hass.states.get(entity_id)
        if state is None:
            return None
        ok = wanted(state) if callable(wanted) else state.state == wanted
        return state if ok else None

    reached = asyncio.Event()

    @callback
    def async_changed(event: Event[Any]) -> None:
        if event.data["entity_id"] == entity_id and matches():
            reached.set()

    unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, async_changed)
    try:
        if not matches():
            async with asyncio.timeout(5):
                await reached.wait()
    finally:
        unsubscribe()
    await hass.async_block_till_done()
    state = matches()
    assert state is not None, hass.states.get(entity_id)
    return state


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """The emulated server's entry, set up, with push connected.

    With ``freezer``: list it before this fixture for the entry's timers to start
    on frozen time, after it for them to start on real time. Under ``freezer`` the
    loop's clock stands still, so ``asyncio.timeout`` never fires; pytest's
    ``timeout`` (pyproject.toml) ends a wait that never returns.
    """
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    sessions = mock_config_entry.runtime_data.sessions
    await wait_for_coordinator(sessions, lambda: sessions.push_connected)
    await wait_for_first_sync(mock_config_entry)
    await hass.async_block_till_done()
    yield mock_config_entry
    if mock_config_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done()
