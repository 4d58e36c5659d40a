"""Local discovery through Home Assistant: GDM answers become discovered flows.

The emulator's GDM responder answers on loopback and ``const.GDM_TARGETS`` points
there. A test waits for discovery to have handled an answer (``SIGNAL_GDM_FOUND``),
then ends the scan's listening window by moving time, never by waiting it out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_INTEGRATION_DISCOVERY,
    ConfigEntryDisabler,
    ConfigEntryState,
)
from homeassistant.const import (
    CONF_TOKEN,
    CONF_URL,
    CONF_VERIFY_SSL,
    EVENT_HOMEASSISTANT_STARTED,
    EVENT_HOMEASSISTANT_STOP,
)
from homeassistant.core import CoreState, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.plex_bridge import const
from custom_components.plex_bridge.api.gdm import GDMServer
from custom_components.plex_bridge.const import CONF_CONNECTIONS, DOMAIN
from custom_components.plex_bridge.discovery import (
    SCAN_INTERVAL,
    SIGNAL_GDM_FOUND,
    async_request_scan,
)
from tests.plex_server import PlexEmulator
from tests.plex_server.gdm import GDMResponder


@pytest.fixture
async def responder(
    plex_server: PlexEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[GDMResponder]:
    """The emulator's GDM responder, answering for no server yet; discovery searches it."""
    gdm = GDMResponder()
    monkeypatch.setattr(const, "GDM_TARGETS", [await gdm.start()])
    yield gdm
    await gdm.stop()


class Found:
    """The servers discovery has handled, and a way to wait for the next one."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.servers: list[GDMServer] = []
        self._event = asyncio.Event()
        self.unsubscribe = async_dispatcher_connect(hass, SIGNAL_GDM_FOUND, self._found)

    @callback
    def _found(self, server: GDMServer) -> None:
        self.servers.append(server)
        self._event.set()

    async def wait(self, count: int = 1) -> None:
        """Return once ``count`` answers in all were handled."""
        while len(self.servers) < count:
            await self._event.wait()
            self._event.clear()


@pytest.fixture
def found(hass: HomeAssistant) -> Found:
    """Listens for handled GDM answers (subscribed before the integration starts)."""
    return Found(hass)


async def end_scan(hass: HomeAssistant) -> None:
    """Move time past the scan's window and let the flows it started run."""
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=const.GDM_WINDOW)
    )
    await hass.async_block_till_done(wait_background_tasks=True)


def discovered_flows(hass: HomeAssistant) -> list[tuple[str, str | None]]:
    """(source, unique id) of each of our flows in progress."""
    return [
        (flow["context"]["source"], flow["context"].get("unique_id"))
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    ]


async def test_found_server_is_offered(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    responder: GDMResponder,
    found: Found,
) -> None:
    """A server answering GDM gets a discovered flow; a token there makes its entry."""
    responder.servers.append(plex_server)
    assert await async_setup_component(hass, DOMAIN, {})
    await found.wait()
    await end_scan(hass)

    assert found.servers[0].url == plex_server.url
    assert discovered_flows(hass) == [
        (SOURCE_INTEGRATION_DISCOVERY, plex_server.machine_identifier)
    ]
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["title_placeholders"] == {"name": plex_server.name}

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"next_step_id": "discovery_token"}
    )
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {CONF_TOKEN: plex_server.token, CONF_VERIFY_SSL: True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == plex_server.machine_identifier
    assert entry.data[CONF_URL] == plex_server.url
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(None, id="same-address"),
        pytest.param("https://127-0-0-1.0123abcd.plex.direct:32400", id="https"),
        pytest.param("http://plex.local:32400", id="host-name"),
    ],
)
async def test_configured_server_is_not_offered(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    responder: GDMResponder,
    found: Found,
    url: str | None,
) -> None:
    """Configured where it answers, on https or by name: no flow, the URL stays.

    The entry is disabled so that it is configured without being set up.
    """
    entry_url = url or plex_server.url
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=plex_server.machine_identifier,
        data={CONF_URL: entry_url, CONF_TOKEN: plex_server.token},
        disabled_by=ConfigEntryDisabler.USER,
    )
    entry.add_to_hass(hass)
    responder.servers.append(plex_server)
    assert await async_setup_component(hass, DOMAIN, {})
    await found.wait()
    await end_scan(hass)

    assert discovered_flows(hass) == []
    assert entry.data[CONF_URL] == entry_url


async def test_ignored_server_stays_ignored(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    responder: GDMResponder,
    found: Found,
) -> None:
    """A server the user ignored is not offered again."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=plex_server.machine_identifier,
        source=SOURCE_IGNORE,
        data={},
    ).add_to_hass(hass)
    responder.servers.append(plex_server)
    assert await async_setup_component(hass, DOMAIN, {})
    await found.wait()
    await end_scan(hass)

    assert discovered_flows(hass) == []


async def test_moved_server_gets_its_new_address(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    responder: GDMResponder,
    found: Found,
) -> None:
    """A configured server answering at another address: the entry takes the new URL."""
    old_url = "http://127.0.0.2:32400"
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=plex_server.machine_identifier,
        data={CONF_URL: old_url, CONF_TOKEN: plex_server.token},
        disabled_by=ConfigEntryDisabler.USER,
    )
    entry.add_to_hass(hass)
    responder.servers.append(plex_server)
    assert await async_setup_component(hass, DOMAIN, {})
    await found.wait()
    await end_scan(hass)

    assert discovered_flows(hass) == []
    assert entry.data[CONF_URL] == plex_server.url
    assert old_url in entry.data[CONF_CONNECTIONS]


async def test_periodic_scan_finds_a_server_that_appears_later(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    plex_server: PlexEmulator,
    responder: GDMResponder,
    found: Found,
) -> None:
    """Nobody answers at start; the scan five minutes later finds the new server."""
    assert await async_setup_component(hass, DOMAIN, {})
    await responder.wait_answered(1)
    freezer.tick(timedelta(seconds=const.GDM_WINDOW))
    await end_scan(hass)
    assert discovered_flows(hass) == []

    responder.servers.append(plex_server)
    freezer.tick(SCAN_INTERVAL)
    async_fire_time_changed(hass)
    await found.wait()
    await end_scan(hass)

    assert responder.answered == 2
    assert discovered_flows(hass) == [
        (SOURCE_INTEGRATION_DISCOVERY, plex_server.machine_identifier)
    ]


async def test_first_scan_waits_for_home_assistant_to_start(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    responder: GDMResponder,
    found: Found,
) -> None:
    """Set up while Home Assistant starts: the first search goes out once it runs."""
    responder.servers.append(plex_server)
    hass.set_state(CoreState.starting)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    assert responder.received == []

    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await found.wait()
    await end_scan(hass)
    assert discovered_flows(hass) == [
        (SOURCE_INTEGRATION_DISCOVERY, plex_server.machine_identifier)
    ]


async def test_scan_on_request(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    responder: GDMResponder,
    found: Found,
) -> None:
    """``async_request_scan`` (for a user flow) searches again; one scan at a time."""
    assert await async_setup_component(hass, DOMAIN, {})
    await responder.wait_answered(1)
    async_request_scan(hass)  # the first scan is still listening: no second one
    await end_scan(hass)

    responder.servers.append(plex_server)
    async_request_scan(hass)
    await found.wait()
    await end_scan(hass)
    assert responder.answered == 2
    assert discovered_flows(hass) == [
        (SOURCE_INTEGRATION_DISCOVERY, plex_server.machine_identifier)
    ]


async def test_stop_ends_scans(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    plex_server: PlexEmulator,
    responder: GDMResponder,
) -> None:
    """Home Assistant stopping ends the scan under way and the periodic scan.

    The loop's clock stands still under ``freezer``, so only the stop can end the
    scan that is listening: waiting for background tasks would otherwise not return.
    """
    assert await async_setup_component(hass, DOMAIN, {})
    await responder.wait_answered(1)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done(wait_background_tasks=True)

    responder.servers.append(plex_server)
    freezer.tick(SCAN_INTERVAL)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert len(responder.received) == 1
    assert discovered_flows(hass) == []


async def test_first_user_flow_searches_before_any_entry(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    responder: GDMResponder,
    found: Found,
) -> None:
    """A fresh install (no entry, so no ``async_setup``) searches when a flow opens.

    The server that answers is offered beside the user's own flow.
    """
    responder.servers.append(plex_server)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": "user"}
    )
    assert result["type"] is FlowResultType.MENU
    await found.wait()
    await end_scan(hass)
    assert (
        SOURCE_INTEGRATION_DISCOVERY,
        plex_server.machine_identifier,
    ) in discovered_flows(hass)
