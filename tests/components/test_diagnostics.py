"""Diagnostics, through Home Assistant, against the emulated server."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.plex_bridge.const import (
    CONF_CONNECTIONS,
    OPTION_MONITORED_USERS,
    OPTION_PATH_MAPPINGS,
)
from tests.components.conftest import wait_for_coordinator
from tests.plex_server import PlexEmulator


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """What the entry knows, redacted; the request counts vary with timing."""
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )
    assert diagnostics == snapshot(exclude=props("requests", "cache"))
    assert diagnostics["push"]["connected"] is True
    assert diagnostics["requests"]["/status/sessions"] >= 1
    assert set(diagnostics["cache"]) >= {"hits", "misses", "entries", "hit_ratio"}


async def test_diagnostics_never_show_the_token(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Token, address and user names appear nowhere, even while something plays."""
    plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1", transcode=True
    )
    sessions = loaded_entry.runtime_data.sessions
    # Push, then one read of the sessions: wait for the coordinator to have it.
    await wait_for_coordinator(sessions, lambda: len(sessions.data.sessions) == 1)
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )
    dumped = json.dumps(diagnostics)
    assert plex_server.token not in dumped
    assert plex_server.url not in dumped
    assert plex_server.owner_name not in dumped
    assert "127.0.0.1" not in dumped
    assert diagnostics["entry"]["data"]["token"] == "**REDACTED**"
    assert diagnostics["entry"]["data"]["url"] == "**REDACTED**"
    assert diagnostics["sessions"]["count"] == 1
    assert diagnostics["sessions"]["transcodes"] == 1


@pytest.mark.parametrize(
    "entry_options",
    [
        {
            OPTION_MONITORED_USERS: ["Guest Viewer"],
            OPTION_PATH_MAPPINGS: [{"plex": "/data/movies", "local": r"\\nas\jane"}],
        }
    ],
)
async def test_diagnostics_hide_addresses_users_and_paths(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The other stored addresses, monitored account names and local paths."""
    hass.config_entries.async_update_entry(
        loaded_entry,
        data={
            **loaded_entry.data,
            CONF_CONNECTIONS: ["https://10-0-0-5.abc123.plex.direct:32400"],
        },
    )
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )
    dumped = json.dumps(diagnostics)
    for secret in ("plex.direct", "Guest Viewer", "nas", "jane"):
        assert secret not in dumped
