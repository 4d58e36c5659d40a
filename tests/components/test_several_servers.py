"""Two entries, one per emulated server, side by side.

Each has its own devices, entities, client (and so cache and circuit breaker) and
websocket; one server going down or one entry being removed leaves the other alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import dataclasses
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plex_bridge.const import DOMAIN
from tests.plex_server import PlexEmulator

from .conftest import async_wait_for_state, config_entry_for, wait_for_coordinator

LIVING_ROOM_ID = "1234567890123456-com-plexapp-android"
FIRST_BEDROOM = "media_player.bedroom"
SECOND_BEDROOM = "media_player.second_bedroom"
FIRST_STREAMS = "sensor.plex_bridge_emulator_active_streams"
SECOND_STREAMS = "sensor.second_emulator_active_streams"


@pytest.fixture
async def second_entry(
    hass: HomeAssistant, second_plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> AsyncIterator[MockConfigEntry]:
    """The second server's entry, set up beside the first, push connected."""
    # The same Plex app may be signed in to both servers.
    living_room = second_plex_server.players.add(
        dataclasses.replace(
            next(
                player
                for player in second_plex_server.players
                if player.title == "Second Living Room TV"
            ),
            machine_identifier=LIVING_ROOM_ID,
            title="Living Room TV",
            device_id=0,
        )
    )
    assert living_room.machine_identifier == LIVING_ROOM_ID
    entry = config_entry_for(second_plex_server)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    sessions = entry.runtime_data.sessions
    await wait_for_coordinator(sessions, lambda: sessions.push_connected)
    yield entry
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_two_servers_are_separate(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    second_entry: MockConfigEntry,
) -> None:
    first, second = loaded_entry.runtime_data, second_entry.runtime_data
    assert first.client is not second.client
    assert first.client.cache is not second.client.cache
    assert first.listener is not second.listener
    assert first.server_device_id != second.server_device_id

    registry = dr.async_get(hass)
    first_devices = dr.async_entries_for_config_entry(registry, loaded_entry.entry_id)
    second_devices = dr.async_entries_for_config_entry(registry, second_entry.entry_id)
    assert not {device.id for device in first_devices} & {
        device.id for device in second_devices
    }
    # A player both servers list has one device per entry, each via its server.
    shared = [
        registry.async_get_device_by_identifier((DOMAIN, LIVING_ROOM_ID), entry_id)
        for entry_id in (loaded_entry.entry_id, second_entry.entry_id)
    ]
    assert shared[0] is not None
    assert shared[1] is not None
    assert shared[0].id != shared[1].id
    assert shared[0].via_device_id == first.server_device_id
    assert shared[1].via_device_id == second.server_device_id
    entities = er.async_get(hass)
    assert entities.async_get_entity_id(
        "media_player", DOMAIN, f"{plex_server.machine_identifier}-{LIVING_ROOM_ID}"
    )
    assert entities.async_get_entity_id(
        "media_player",
        DOMAIN,
        f"{second_plex_server.machine_identifier}-{LIVING_ROOM_ID}",
    )

    # A session on the second server reaches only the second entry, by its websocket.
    received = first.router.received
    second_plex_server.sessions.start_session(player="Second Bedroom", rating_key="1")
    await async_wait_for_state(hass, SECOND_BEDROOM, "playing")
    assert hass.states.get(SECOND_STREAMS).state == "1"
    assert hass.states.get(FIRST_STREAMS).state == "0"
    assert hass.states.get(FIRST_BEDROOM).state == "idle"
    assert first.router.received == received


async def test_one_server_down_leaves_the_other_available(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    second_entry: MockConfigEntry,
) -> None:
    second_plex_server.faults.add("/:/websockets/notifications", ws_drop=True)
    second_plex_server.faults.add("*", status=503)
    # The poll that push going down asks for may wait out the refresh cool-down.
    await second_entry.runtime_data.sessions.async_refresh()

    await async_wait_for_state(hass, SECOND_BEDROOM, STATE_UNAVAILABLE)
    assert hass.states.get(SECOND_STREAMS).state == STATE_UNAVAILABLE
    assert hass.states.get(FIRST_BEDROOM).state == "idle"
    assert loaded_entry.runtime_data.sessions.push_connected
    assert loaded_entry.runtime_data.client.breaker is not (
        second_entry.runtime_data.client.breaker
    )

    # The first still works end to end.
    plex_server.sessions.start_session(player="Bedroom", rating_key="1")
    await async_wait_for_state(hass, FIRST_BEDROOM, "playing")
    assert hass.states.get(FIRST_STREAMS).state == "1"


async def test_removing_one_entry_leaves_the_other_working(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    second_entry: MockConfigEntry,
) -> None:
    stores = {
        entry.entry_id: f"{DOMAIN}.{entry.entry_id}.players"
        for entry in (loaded_entry, second_entry)
    }
    assert await hass.config_entries.async_remove(second_entry.entry_id)
    await hass.async_block_till_done()

    # What the removed entry stored of its players is gone; the other's is not.
    assert stores[second_entry.entry_id] not in hass_storage
    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert stores[loaded_entry.entry_id] in hass_storage
    sessions = loaded_entry.runtime_data.sessions
    await wait_for_coordinator(sessions, lambda: sessions.push_connected)

    assert hass.states.get(SECOND_BEDROOM) is None
    registry = dr.async_get(hass)
    assert not dr.async_entries_for_config_entry(registry, second_entry.entry_id)
    assert dr.async_entries_for_config_entry(registry, loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert loaded_entry.runtime_data.sessions.push_connected

    plex_server.sessions.start_session(player="Bedroom", rating_key="1")
    await async_wait_for_state(hass, FIRST_BEDROOM, "playing")
