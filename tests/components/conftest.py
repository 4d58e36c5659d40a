"""Fixtures for the integration's tests: config entries against the emulator."""

from __future__ import annotations

from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plex_bridge.const import DOMAIN
from tests.plex_server import PlexEmulator


@pytest.fixture
def mock_config_entry(plex_server: PlexEmulator) -> MockConfigEntry:
    """A config entry for the emulated server, not yet added to Home Assistant."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=plex_server.name,
        unique_id=plex_server.machine_identifier,
        data={
            CONF_URL: plex_server.url,
            CONF_TOKEN: plex_server.token,
            CONF_VERIFY_SSL: True,
        },
    )
