"""The server's update entity, through Home Assistant, against the emulated server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from homeassistant.components.update import (
    ATTR_INSTALLED_VERSION,
    ATTR_LATEST_VERSION,
    ATTR_RELEASE_SUMMARY,
    ATTR_RELEASE_URL,
    ATTR_TITLE,
    UpdateEntityFeature,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_SUPPORTED_FEATURES, STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from tests.plex_server import PlexEmulator
from tests.plex_server.server_routes import updater

UPDATE = "update.plex_bridge_emulator_plex_media_server"
NEW_VERSION = "1.50.0.9999-0000000000"


@pytest.fixture
async def setup_entry(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Set the entry up when the test says (after it has set up the emulator)."""

    async def setup() -> None:
        mock_config_entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
        await hass.async_block_till_done()

    yield setup
    if mock_config_entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done()


async def _release_notes(hass_ws_client: WebSocketGenerator) -> str | None:
    client = await hass_ws_client()
    await client.send_json_auto_id(
        {"type": "update/release_notes", "entity_id": UPDATE}
    )
    result = await client.receive_json()
    assert result["success"], result
    notes: str | None = result["result"]
    return notes


async def test_up_to_date(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    setup_entry: Callable[[], Awaitable[None]],
    hass_ws_client: WebSocketGenerator,
) -> None:
    """No newer release: off, latest is the installed version, no notes."""
    await setup_entry()
    state = hass.states.get(UPDATE)
    assert state is not None
    assert state.state == STATE_OFF
    assert state.attributes[ATTR_INSTALLED_VERSION] == plex_server.version
    assert state.attributes[ATTR_LATEST_VERSION] == plex_server.version
    assert state.attributes[ATTR_RELEASE_SUMMARY] is None
    assert state.attributes[ATTR_TITLE] == "Plex Media Server"
    assert (
        state.attributes[ATTR_SUPPORTED_FEATURES] == UpdateEntityFeature.RELEASE_NOTES
    )
    assert await _release_notes(hass_ws_client) is None


async def test_new_release(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    setup_entry: Callable[[], Awaitable[None]],
    hass_ws_client: WebSocketGenerator,
) -> None:
    """A newer release: on, with its version, a summary and notes; never the token."""
    updater(plex_server).available = True
    updater(plex_server).can_install = True
    await setup_entry()
    state = hass.states.get(UPDATE)
    assert state is not None
    assert state.state == STATE_ON
    assert state.attributes[ATTR_INSTALLED_VERSION] == plex_server.version
    assert state.attributes[ATTR_LATEST_VERSION] == NEW_VERSION
    assert state.attributes[ATTR_RELEASE_SUMMARY] == "Fixed: Summary of release notes"
    assert "token" not in str(state.attributes[ATTR_RELEASE_URL]).lower()
    assert plex_server.token not in str(state.attributes)
    # Home Assistant cannot install Plex.
    features = UpdateEntityFeature(state.attributes[ATTR_SUPPORTED_FEATURES])
    assert UpdateEntityFeature.INSTALL not in features

    notes = await _release_notes(hass_ws_client)
    assert notes == "## Fixed\n\nSummary of\nrelease notes"
    assert plex_server.token not in notes


async def test_long_notes_are_summarised(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    setup_entry: Callable[[], Awaitable[None]],
) -> None:
    """The summary stays within Home Assistant's 255 characters."""
    updater(plex_server).available = True
    updater(plex_server).notes = "\n".join(
        f"- Fixed problem number {n}" for n in range(40)
    )
    await setup_entry()
    state = hass.states.get(UPDATE)
    assert state is not None
    summary = state.attributes[ATTR_RELEASE_SUMMARY]
    assert len(summary) == 255
    assert summary.startswith(
        "Fixed: - Fixed problem number 0 - Fixed problem number 1"
    )
    assert summary.endswith("…")
