"""Setting up and unloading a config entry, through Home Assistant."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_TOKEN
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plex_bridge.const import DOMAIN
from tests.plex_server import PlexEmulator


async def test_setup_and_unload(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.LOADED
    server = mock_config_entry.runtime_data.server
    assert server.machine_identifier == plex_server.machine_identifier
    assert server.friendly_name == plex_server.name

    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.NOT_LOADED


async def test_server_down_retries_setup(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    plex_server.faults.add("/", status=503)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert "Could not reach the Plex Media Server" in (mock_config_entry.reason or "")


async def test_refused_token_starts_reauth(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=plex_server.machine_identifier,
        data={"url": plex_server.url, CONF_TOKEN: "not-the-token", "verify_ssl": True},
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert flows[0]["step_id"] == "reauth_confirm"
