"""Entry versions: 1.1 entries are migrated to 1.2 at setup; newer majors are refused."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plex_bridge import OPTION_DEFAULTS
from custom_components.plex_bridge.config_flow import PlexBridgeConfigFlow
from custom_components.plex_bridge.const import (
    DEFAULT_IGNORE_PLEX_WEB,
    DEFAULT_MIRROR_INTERVAL,
    DEFAULT_PLAYER_RETENTION,
    OPTION_IGNORE_PLEX_WEB,
    OPTION_MIRROR_INTERVAL,
    OPTION_MIRROR_LIBRARIES,
    OPTION_MONITORED_USERS,
    OPTION_PATH_MAPPINGS,
    OPTION_PLAYER_RETENTION,
    OPTION_UPDATE_INTERVAL,
)
from tests.plex_server import PlexEmulator

from .conftest import config_entry_for


def test_the_flow_writes_version_1_2() -> None:
    assert (PlexBridgeConfigFlow.VERSION, PlexBridgeConfigFlow.MINOR_VERSION) == (1, 2)


async def test_version_1_1_gets_every_option_and_keeps_the_users(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = MockConfigEntry(
        domain="plex_bridge",
        title=plex_server.name,
        unique_id=plex_server.machine_identifier,
        data=dict(config_entry_for(plex_server).data),
        options={OPTION_UPDATE_INTERVAL: 30},
        version=1,
        minor_version=1,
    )
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert (entry.version, entry.minor_version) == (1, 2)
    assert entry.options == {
        OPTION_UPDATE_INTERVAL: 30,
        OPTION_MONITORED_USERS: [],
        OPTION_IGNORE_PLEX_WEB: DEFAULT_IGNORE_PLEX_WEB,
        OPTION_PLAYER_RETENTION: DEFAULT_PLAYER_RETENTION,
        OPTION_MIRROR_LIBRARIES: [],
        OPTION_MIRROR_INTERVAL: DEFAULT_MIRROR_INTERVAL,
        OPTION_PATH_MAPPINGS: [],
    }
    assert entry.options.keys() == OPTION_DEFAULTS.keys()
    # Migrated data is what setup used.
    assert entry.runtime_data.sessions.poll_interval.total_seconds() == 30
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_version_1_2_is_left_alone(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = config_entry_for(plex_server)
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert (entry.version, entry.minor_version) == (1, 2)
    assert entry.options == {}
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize("minor_version", [1, 3])
async def test_a_newer_major_version_is_refused(
    hass: HomeAssistant, plex_server: PlexEmulator, minor_version: int
) -> None:
    """An entry written by a future Plex Bridge (2.x) is not set up, nor changed."""
    entry = MockConfigEntry(
        domain="plex_bridge",
        title=plex_server.name,
        unique_id=plex_server.machine_identifier,
        data=dict(config_entry_for(plex_server).data),
        version=2,
        minor_version=minor_version,
    )
    entry.add_to_hass(hass)

    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert (entry.version, entry.minor_version) == (2, minor_version)
    assert entry.options == {}
