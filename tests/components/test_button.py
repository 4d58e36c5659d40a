"""The scan clients button, through Home Assistant, against the emulated server."""

from __future__ import annotations

from dataclasses import replace

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.plex_server import PlexEmulator

SCAN_CLIENTS = "button.plex_bridge_emulator_scan_clients"


async def test_scan_clients_button(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The button is a configuration entity of the server's device."""
    state = hass.states.get(SCAN_CLIENTS)
    assert state is not None
    assert state.state == STATE_UNKNOWN
    entity = entity_registry.async_get(SCAN_CLIENTS)
    assert entity is not None
    assert entity.entity_category is EntityCategory.CONFIG
    assert entity.translation_key == "scan_clients"
    assert entity.unique_id == f"{loaded_entry.unique_id}-scan_clients"


async def test_pressing_reads_the_clients(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A press reads /clients at once, and a new player gets its media player."""
    before = plex_server.faults.count("/clients")
    template = plex_server.players.require("Bedroom")
    plex_server.players.add(
        replace(
            template, machine_identifier="new-player-0001", title="Study", device_id=0
        )
    )
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: SCAN_CLIENTS}, blocking=True
    )
    await hass.async_block_till_done()
    assert plex_server.faults.count("/clients") == before + 1
    assert "new-player-0001" in loaded_entry.runtime_data.sessions.data.present
    state = hass.states.get(SCAN_CLIENTS)
    assert state is not None
    assert state.state != STATE_UNKNOWN  # the time of the last press
