"""Players that are gone lose their devices: after the retention, or when deleted.

The user may delete a gone player's device; the server and present players cannot be
deleted.

``/clients`` is read once a minute while push is connected, so a player that leaves
is noticed without a poll; its absence is stored across restarts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.plex_bridge.const import DOMAIN, OPTION_PLAYER_RETENTION
from tests.plex_server import PlexEmulator

BEDROOM = "media_player.bedroom"
BEDROOM_ID = "plex-htpc-bedroom-0001"
LIVING_ROOM = "media_player.living_room_tv"
RETENTION = {OPTION_PLAYER_RETENTION: 10}
MINUTE = timedelta(minutes=1)

pytestmark = pytest.mark.parametrize("entry_options", [RETENTION])


def device_of(
    hass: HomeAssistant, entry: MockConfigEntry, machine_identifier: str
) -> dr.DeviceEntry | None:
    return dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, machine_identifier), entry.entry_id
    )


async def async_minutes_pass(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int
) -> None:
    """Move the clock, and let the minute's /clients read and check run."""
    freezer.tick(timedelta(minutes=minutes))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_player_gone_for_the_retention_loses_its_device(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert hass.states.get(BEDROOM).state == "idle"
    entity_id = er.async_get(hass).async_get_entity_id(
        "media_player", DOMAIN, f"{plex_server.machine_identifier}-{BEDROOM_ID}"
    )
    assert entity_id == BEDROOM
    plex_server.players.remove(BEDROOM_ID)

    # The minute's /clients read (push stays connected) notices: off, not removed.
    await async_minutes_pass(hass, freezer, 1)
    assert loaded_entry.runtime_data.sessions.push_connected
    assert hass.states.get(BEDROOM).state == "off"

    await async_minutes_pass(hass, freezer, 9)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is not None
    assert hass.states.get(BEDROOM) is not None

    await async_minutes_pass(hass, freezer, 1)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is None
    assert er.async_get(hass).async_get(BEDROOM) is None
    assert hass.states.get(BEDROOM) is None
    # The others, and the server, stay.
    assert hass.states.get(LIVING_ROOM).state == "idle"
    assert device_of(hass, loaded_entry, plex_server.machine_identifier) is not None


async def test_a_player_that_comes_back_in_time_stays(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    bedroom = plex_server.players.remove(BEDROOM_ID)
    assert bedroom is not None
    await async_minutes_pass(hass, freezer, 1)
    await async_minutes_pass(hass, freezer, 8)
    plex_server.players.add(bedroom)
    await async_minutes_pass(hass, freezer, 1)
    assert hass.states.get(BEDROOM).state == "idle"

    await async_minutes_pass(hass, freezer, 20)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is not None


async def test_a_player_in_a_session_is_seen(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Not in /clients, but playing: seen (sessions count as well as /clients)."""
    plex_server.sessions.start_session(player="Bedroom", rating_key="1")
    plex_server.players.remove(BEDROOM_ID)
    await async_minutes_pass(hass, freezer, 1)
    sessions = loaded_entry.runtime_data.sessions
    await sessions.async_refresh()
    assert BEDROOM_ID in sessions.data.seen()

    await async_minutes_pass(hass, freezer, 20)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is not None


async def test_absence_is_remembered_across_a_restart(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Half the retention before a reload and half after: the device goes."""
    plex_server.players.remove(BEDROOM_ID)
    await async_minutes_pass(hass, freezer, 1)
    await async_minutes_pass(hass, freezer, 5)

    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert device_of(hass, loaded_entry, BEDROOM_ID) is not None

    await async_minutes_pass(hass, freezer, 5)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is None
    assert hass.states.get(BEDROOM) is None


async def test_a_removed_player_that_returns_is_new_again(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    bedroom = plex_server.players.remove(BEDROOM_ID)
    assert bedroom is not None
    await async_minutes_pass(hass, freezer, 1)
    await async_minutes_pass(hass, freezer, 10)
    assert hass.states.get(BEDROOM) is None

    plex_server.players.add(bedroom)
    await async_minutes_pass(hass, freezer, 1)
    assert hass.states.get(BEDROOM).state == "idle"
    assert device_of(hass, loaded_entry, BEDROOM_ID) is not None


async def remove_device(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    entry: MockConfigEntry,
    device: dr.DeviceEntry,
) -> bool:
    """Delete a device from the entry as the device page's "Delete" does."""
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": entry.entry_id,
            "device_id": device.id,
        }
    )
    response = await client.receive_json()
    await hass.async_block_till_done()
    return bool(response["success"])


async def test_user_may_delete_a_gone_player_only(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    server = device_of(hass, loaded_entry, plex_server.machine_identifier)
    bedroom = device_of(hass, loaded_entry, BEDROOM_ID)
    assert server is not None
    assert bedroom is not None

    assert not await remove_device(hass, hass_ws_client, loaded_entry, server)
    assert not await remove_device(hass, hass_ws_client, loaded_entry, bedroom)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is not None

    returning = plex_server.players.remove(BEDROOM_ID)
    assert returning is not None
    await async_minutes_pass(hass, freezer, 1)
    assert await remove_device(hass, hass_ws_client, loaded_entry, bedroom)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is None
    assert hass.states.get(BEDROOM) is None

    # Back on the network: a new device and entity.
    plex_server.players.add(returning)
    await async_minutes_pass(hass, freezer, 1)
    assert hass.states.get(BEDROOM).state == "idle"


async def test_no_player_is_removed_while_the_server_is_down(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An outage longer than the retention: the server cannot say who left."""
    plex_server.players.remove(BEDROOM_ID)
    await async_minutes_pass(hass, freezer, 1)
    assert hass.states.get(BEDROOM).state == "off"
    plex_server.faults.add("/:/websockets/notifications", ws_drop=True)
    plex_server.faults.add("*", status=503)
    sessions = loaded_entry.runtime_data.sessions
    await sessions.async_refresh()
    assert not sessions.last_update_success

    await async_minutes_pass(hass, freezer, 30)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is not None
    assert hass.states.get(BEDROOM).state == "unavailable"


async def test_a_player_with_a_device_but_no_record_gets_the_whole_retention(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Devices made before presence was stored (an older version) count from now."""
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    hass_storage.pop(f"{DOMAIN}.{loaded_entry.entry_id}.players")
    plex_server.players.remove(BEDROOM_ID)
    freezer.tick(timedelta(days=30))
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert device_of(hass, loaded_entry, BEDROOM_ID) is not None

    await async_minutes_pass(hass, freezer, 9)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is not None
    await async_minutes_pass(hass, freezer, 1)
    assert device_of(hass, loaded_entry, BEDROOM_ID) is None
