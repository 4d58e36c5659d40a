"""The config flow, driven through Home Assistant against the emulated server."""

from __future__ import annotations

from pathlib import Path

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plex_bridge import OPTION_DEFAULTS
from custom_components.plex_bridge.config_flow import normalize_url
from custom_components.plex_bridge.const import CONF_CONNECTIONS, DOMAIN
from tests.plex_server import PlexEmulator
from tests.tls import TLSListener, tls_server_context


async def start_user_flow(hass: HomeAssistant) -> str:
    """The user step's menu, then "Enter URL and token": the manual form."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "user"
    assert result["menu_options"] == ["plex_sign_in", "manual"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "manual"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "manual"
    assert result["errors"] == {}
    return result["flow_id"]


async def test_user_flow_creates_entry(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: plex_server.url, CONF_TOKEN: plex_server.token}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == plex_server.name
    assert result["data"] == {
        CONF_URL: plex_server.url,
        CONF_TOKEN: plex_server.token,
        CONF_VERIFY_SSL: True,
    }
    entry = result["result"]
    assert entry.unique_id == plex_server.machine_identifier
    assert entry.state is ConfigEntryState.LOADED
    # Version 1.2: every option is stored, with its default.
    assert (entry.version, entry.minor_version) == (1, 2)
    assert entry.options == OPTION_DEFAULTS


async def test_user_flow_accepts_host_and_port(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {CONF_URL: f"127.0.0.1:{plex_server.port}", CONF_TOKEN: plex_server.token},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_URL] == plex_server.url


@pytest.mark.parametrize(
    ("fault", "token", "error"),
    [
        (None, "wrong-token", {"base": "invalid_auth"}),
        ({"status": 500}, None, {"base": "cannot_connect"}),
        ({"reset": True}, None, {"base": "cannot_connect"}),
        ({"malformed": True}, None, {"base": "cannot_connect"}),
    ],
)
async def test_user_flow_errors_then_recovers(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    fault: dict | None,
    token: str | None,
    error: dict[str, str],
) -> None:
    """Each failure shows its error on the form, keeps the input, and a retry works."""
    flow_id = await start_user_flow(hass)
    if fault:
        plex_server.faults.add("/", **fault)
    user_input = {CONF_URL: plex_server.url, CONF_TOKEN: token or plex_server.token}
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == error

    plex_server.faults.clear()
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: plex_server.url, CONF_TOKEN: plex_server.token}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_unreachable_server(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    flow_id = await start_user_flow(hass)
    # Port 9 (discard) on loopback: nothing listens there.
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: "http://127.0.0.1:9", CONF_TOKEN: "token"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_flow_rejects_a_non_url(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: "ftp://server", CONF_TOKEN: "token"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_URL: "invalid_url"}


async def test_same_server_twice_aborts(
    hass: HomeAssistant, plex_server: PlexEmulator, mock_config_entry: MockConfigEntry
) -> None:
    mock_config_entry.add_to_hass(hass)
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: plex_server.url, CONF_TOKEN: plex_server.token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_takes_a_new_token(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=plex_server.machine_identifier,
        data={
            CONF_URL: plex_server.url,
            CONF_TOKEN: "old-token",
            CONF_VERIFY_SSL: True,
        },
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "reauth_confirm"
    assert result["menu_options"] == ["plex_sign_in", "reauth_token"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reauth_token"}
    )
    assert result["step_id"] == "reauth_token"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: plex_server.token}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_TOKEN] == plex_server.token


async def test_reauth_refuses_another_server(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="some-other-server",
        data={
            CONF_URL: plex_server.url,
            CONF_TOKEN: "old-token",
            CONF_VERIFY_SSL: True,
        },
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "reauth_token"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOKEN: plex_server.token}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_server"
    assert entry.data[CONF_TOKEN] == "old-token"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("192.168.1.20", "http://192.168.1.20:32400"),
        ("plex.local:32401", "http://plex.local:32401"),
        ("https://plex.example.org/", "https://plex.example.org"),
        ("http://[::1]:32400", "http://[::1]:32400"),
        ("  http://host:1234/plex/ ", "http://host:1234/plex"),
        ("ftp://host", None),
        ("http://", None),
        ("http://[::1", None),
    ],
)
def test_normalize_url(raw: str, expected: str | None) -> None:
    assert normalize_url(raw) == expected


async def test_same_server_by_hand_keeps_the_stored_alternatives(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=plex_server.machine_identifier,
        data={
            CONF_URL: "http://127.0.0.1:9",
            CONF_TOKEN: plex_server.token,
            CONF_VERIFY_SSL: True,
            CONF_CONNECTIONS: ["http://10.0.0.9:32400"],
        },
    )
    entry.add_to_hass(hass)
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: plex_server.url, CONF_TOKEN: plex_server.token}
    )
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_URL] == plex_server.url
    assert entry.data[CONF_CONNECTIONS] == [
        "http://127.0.0.1:9",
        "http://10.0.0.9:32400",
    ]


async def test_user_flow_self_signed_certificate(
    hass: HomeAssistant, socket_enabled: None, tmp_path: Path
) -> None:
    """An https server whose certificate nothing trusts: ssl_error, not cannot_connect."""
    tls = TLSListener(tls_server_context(tmp_path))
    url = await tls.start()
    try:
        flow_id = await start_user_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_URL: url, CONF_TOKEN: "token"}
        )
    finally:
        await tls.stop()
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "ssl_error"}
