"""Discovery, reconfigure, reauth dismissal and setup's stored alternatives.

Through Home Assistant's flow manager against emulated servers (and the emulated
plex.tv, pointed at by ``PLEX_TV_URL``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY, ConfigEntryState
from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plex_bridge.const import CONF_CONNECTIONS, DOMAIN
from tests.plex_server import PlexEmulator
from tests.plex_server.plextv import PlexTV

from .test_config_flow_plextv import (
    DEAD_URL,
    after_poll,
    choose,
    pin_code,
    plextv,  # noqa: F401 - the fixture
    same_token_server,  # noqa: F401 - the fixture
)


def discovered(emu: PlexEmulator, url: str | None = None) -> dict[str, Any]:
    """What the GDM scanner hands the flow for ``emu``."""
    return {
        "url": url or emu.url,
        "machine_identifier": emu.machine_identifier,
        "name": emu.name,
    }


async def start_discovery(hass: HomeAssistant, info: dict[str, Any]) -> Any:
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_INTEGRATION_DISCOVERY}, data=info
    )


def entry_for(
    emu: PlexEmulator, url: str | None = None, connections: list[str] | None = None
) -> MockConfigEntry:
    data: dict[str, Any] = {
        CONF_URL: url or emu.url,
        CONF_TOKEN: emu.token,
        CONF_VERIFY_SSL: True,
    }
    if connections is not None:
        data[CONF_CONNECTIONS] = connections
    return MockConfigEntry(
        domain=DOMAIN, title=emu.name, unique_id=emu.machine_identifier, data=data
    )


# -- discovery ---------------------------------------------------------------------------


async def test_discovery_then_a_token(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    result = await start_discovery(hass, discovered(plex_server))
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "discovery_confirm"
    assert result["menu_options"] == ["plex_sign_in", "discovery_token"]
    assert result["description_placeholders"] == {
        "name": plex_server.name,
        "url": plex_server.url,
    }
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["title_placeholders"] == {"name": plex_server.name}
    assert flow["context"]["unique_id"] == plex_server.machine_identifier

    result = await choose(hass, result, "discovery_token")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_token"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: plex_server.token}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_URL] == plex_server.url
    assert result["result"].unique_id == plex_server.machine_identifier
    assert result["result"].state is ConfigEntryState.LOADED


async def test_discovery_then_sign_in_takes_that_server(
    hass: HomeAssistant,
    plextv: PlexTV,  # noqa: F811
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
) -> None:
    """The account has two servers; the discovered one is used without asking."""
    plextv.register(plex_server)
    plextv.register(second_plex_server)

    result = await start_discovery(hass, discovered(second_plex_server))
    result = await choose(hass, result, "plex_sign_in")
    result = await after_poll(hass, result, lambda: plextv.claim_pin(pin_code(result)))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == second_plex_server.machine_identifier
    assert result["data"][CONF_TOKEN] == second_plex_server.token


async def test_discovery_then_sign_in_to_an_account_without_it(
    hass: HomeAssistant,
    plextv: PlexTV,  # noqa: F811
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
) -> None:
    plextv.register(plex_server)
    result = await start_discovery(hass, discovered(second_plex_server))
    result = await choose(hass, result, "plex_sign_in")
    result = await after_poll(hass, result, lambda: plextv.claim_pin(pin_code(result)))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_in_account"


async def test_discovery_token_for_another_server(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    """GDM said one machine, the address answers as another."""
    info = {**discovered(plex_server), "machine_identifier": "someone-else"}
    result = await start_discovery(hass, info)
    result = await choose(hass, result, "discovery_token")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: plex_server.token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_server"


async def test_discovery_of_a_configured_server_updates_its_url(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = entry_for(plex_server, url=DEAD_URL, connections=["http://10.0.0.9:32400"])
    entry.add_to_hass(hass)

    result = await start_discovery(hass, discovered(plex_server))
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_URL] == plex_server.url
    assert entry.data[CONF_CONNECTIONS] == [DEAD_URL, "http://10.0.0.9:32400"]


@pytest.mark.parametrize(
    "url", ["https://10-0-0-5.0123abcd.plex.direct:32400", "http://plex.home:32400"]
)
async def test_discovery_does_not_move_an_https_or_named_entry(
    hass: HomeAssistant, plex_server: PlexEmulator, url: str
) -> None:
    entry = entry_for(plex_server, url=url)
    entry.add_to_hass(hass)
    result = await start_discovery(hass, discovered(plex_server))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_URL] == url


async def test_discovery_of_a_configured_server_at_its_url(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = entry_for(plex_server)
    entry.add_to_hass(hass)
    result = await start_discovery(hass, discovered(plex_server))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data == entry_for(plex_server).data


async def test_discovery_while_one_is_in_progress(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    await start_discovery(hass, discovered(plex_server))
    result = await start_discovery(hass, discovered(plex_server))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_in_progress"


# -- reconfigure -------------------------------------------------------------------------


@pytest.fixture
async def reconfigurable(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> AsyncIterator[tuple[MockConfigEntry, str]]:
    """A loaded entry at the server's URL, with a second address stored."""
    other = await plex_server.add_listener()
    entry = entry_for(plex_server, connections=[other])
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield entry, other
    await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_to_a_stored_connection(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    reconfigurable: tuple[MockConfigEntry, str],
) -> None:
    entry, other = reconfigurable
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["data_schema"].schema[CONF_URL].config["options"] == [
        plex_server.url,
        other,
    ]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: other}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == plex_server.machine_identifier
    assert entry.data[CONF_URL] == other
    assert entry.data[CONF_CONNECTIONS] == [plex_server.url]
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.client.url == other


async def test_reconfigure_typed_url_errors_then_succeeds(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    reconfigurable: tuple[MockConfigEntry, str],
) -> None:
    entry, other = reconfigurable
    result = await entry.start_reconfigure_flow(hass)
    flow_id = result["flow_id"]

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: "ftp://nowhere"}
    )
    assert result["errors"] == {CONF_URL: "invalid_url"}
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: DEAD_URL}
    )
    assert result["errors"] == {"base": "cannot_connect"}

    typed = other.replace("http://", "")  # host:port, as a person types it
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: typed})
    await hass.async_block_till_done()
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_URL] == other


async def test_reconfigure_to_another_server_is_refused(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    same_token_server: PlexEmulator,  # noqa: F811
    reconfigurable: tuple[MockConfigEntry, str],
) -> None:
    entry, _other = reconfigurable
    before = dict(entry.data)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: same_token_server.url}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_server"
    assert dict(entry.data) == before


# -- reauth dismissed --------------------------------------------------------------------


async def test_dismissed_reauth_raises_a_repair(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = entry_for(plex_server)
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()

    issues = [
        issue
        for issue in ir.async_get(hass).issues.values()
        if issue.domain == DOMAIN and issue.data == {"entry_id": entry.entry_id}
    ]
    assert len(issues) == 1


async def test_finished_reauth_raises_no_repair(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = entry_for(plex_server)
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await choose(hass, result, "reauth_token")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: plex_server.token}
    )
    await hass.async_block_till_done()
    assert result["reason"] == "reauth_successful"
    assert not [
        issue
        for issue in ir.async_get(hass).issues.values()
        if issue.domain == DOMAIN and issue.data == {"entry_id": entry.entry_id}
    ]
    await hass.config_entries.async_unload(entry.entry_id)


# -- setup falls back on the stored alternatives -----------------------------------------


async def test_setup_moves_to_a_stored_alternative(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    """The stored URL is dead; the second stored one answers; it becomes the URL."""
    other = await plex_server.add_listener()
    entry = entry_for(plex_server, url=DEAD_URL, connections=[other])
    entry.add_to_hass(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_URL] == other
    assert entry.data[CONF_CONNECTIONS] == [DEAD_URL]
    assert entry.runtime_data.client.url == other
    await hass.config_entries.async_unload(entry.entry_id)


async def test_setup_skips_an_alternative_that_is_another_server(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    same_token_server: PlexEmulator,  # noqa: F811
) -> None:
    entry = entry_for(plex_server, url=DEAD_URL, connections=[same_token_server.url])
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.data[CONF_URL] == DEAD_URL


async def test_setup_refused_token_does_not_move(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    """An auth failure is not an address problem: reauth, and the URL stays."""
    other = await plex_server.add_listener()
    entry = entry_for(plex_server, connections=[other])
    entry.add_to_hass(hass)
    plex_server.faults.add("/", status=401)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.data[CONF_URL] == plex_server.url


async def test_removing_the_entry_during_reauth_raises_no_repair(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = entry_for(plex_server)
    entry.add_to_hass(hass)
    await entry.start_reauth_flow(hass)
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert not [
        issue
        for issue in ir.async_get(hass).issues.values()
        if issue.domain == DOMAIN and issue.data == {"entry_id": entry.entry_id}
    ]
