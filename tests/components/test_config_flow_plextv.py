"""Sign in with Plex: PIN, server choice and connection choice, through Home Assistant.

plex.tv is the emulated one (``tests.plex_server.plextv.PlexTV``) on loopback; the
integration reaches it because ``PLEX_TV_URL`` is pointed at it where the config
flow reads it. Nothing else is patched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import (
    EVENT_DATA_ENTRY_FLOW_PROGRESSED,
    FlowResultType,
)
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.plex_bridge import async_client_identifier, config_flow
from custom_components.plex_bridge.const import CONF_CONNECTIONS, DOMAIN
from tests.plex_server import Clock, PlexEmulator
from tests.plex_server.plextv import Connection, PlexTV
from tests.tls import TLSListener, tls_server_context

OWNER = "Olivia"


@pytest.fixture
async def plextv(
    plex_server: PlexEmulator,
    emulator_clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[PlexTV]:
    """plex.tv on loopback, owner token = the server's; lists no server until told."""
    service = PlexTV(token=plex_server.token, username=OWNER, clock=emulator_clock)
    await service.start()
    monkeypatch.setattr(config_flow, "PLEX_TV_URL", service.url)
    yield service
    await service.stop()


@pytest.fixture
async def same_token_server(
    socket_enabled: None, emulator_clock: Clock, plex_server: PlexEmulator
) -> AsyncIterator[PlexEmulator]:
    """Another server that takes the first one's token (a different machine)."""
    emu = PlexEmulator(
        library="small",
        seed=2,
        name="Other Server",
        token=plex_server.token,
        clock=emulator_clock,
    )
    await emu.start()
    yield emu
    await emu.stop()


DEAD_URL = "http://127.0.0.1:9"
"""A loopback address where nothing listens (the discard port)."""


async def start_sign_in(hass: HomeAssistant) -> ConfigFlowResult:
    """The user menu, then "Sign in with Plex": the external step."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    return await choose(hass, result, "plex_sign_in")


async def choose(
    hass: HomeAssistant, result: ConfigFlowResult, step: str
) -> ConfigFlowResult:
    """Pick a menu option; sign-in's answer is checked to be plex.tv's auth page."""
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    if step == "plex_sign_in" and result["type"] is FlowResultType.EXTERNAL_STEP:
        assert result["step_id"] == "obtain_token"
        assert result["url"].startswith("https://app.plex.tv/auth#?")
    return result


def pin_code(result: ConfigFlowResult) -> str:
    """The PIN code in the auth page's address."""
    fragment = urlsplit(result["url"]).fragment.removeprefix("?")
    return parse_qs(fragment)["code"][0]


async def after_poll(
    hass: HomeAssistant, result: ConfigFlowResult, act: Any = None
) -> ConfigFlowResult:
    """Do ``act`` (claim, expire...), let the poll see it, then move the flow on.

    The poll is short tasks with Home Assistant timers between them: the look under
    way finishes within ``async_block_till_done``, a time-changed event starts the
    next one. The external step then fires the flow manager's "progressed" event.
    """
    flow_id = result["flow_id"]
    done = asyncio.Event()

    @callback
    def progressed(event: Event[Any]) -> None:
        if event.data["flow_id"] == flow_id:
            done.set()

    unsubscribe = hass.bus.async_listen(EVENT_DATA_ENTRY_FLOW_PROGRESSED, progressed)
    try:
        await hass.async_block_till_done()
        if act is not None:
            act()
        next_poll(hass)
        await hass.async_block_till_done()
        assert done.is_set()
    finally:
        unsubscribe()
    result = await hass.config_entries.flow.async_configure(flow_id)
    await hass.async_block_till_done()
    return result


def next_poll(hass: HomeAssistant) -> None:
    """Move Home Assistant's timers past the poll's pause."""
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=config_flow.PIN_POLL_INTERVAL)
    )


async def sign_in(
    hass: HomeAssistant, plextv: PlexTV, user: str | None = None
) -> ConfigFlowResult:
    """A whole sign-in up to the step after plex.tv confirmed it."""
    result = await start_sign_in(hass)
    return await after_poll(
        hass, result, lambda: plextv.claim_pin(pin_code(result), user)
    )


# -- the PIN --------------------------------------------------------------------------


async def test_full_sign_in_creates_entry(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    plextv.register(plex_server)
    result = await start_sign_in(hass)

    code = pin_code(result)
    query = parse_qs(urlsplit(result["url"]).fragment.removeprefix("?"))
    assert query["context[device][product]"] == ["Plex Bridge"]
    pin = plextv.find_pin(code)
    # The installation's stable identifier, the same one the integration uses.
    assert pin.client_identifier == await async_client_identifier(hass)
    assert query["clientID"] == [pin.client_identifier]
    # Still waiting: asking again shows the same page.
    again = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert again["type"] is FlowResultType.EXTERNAL_STEP

    result = await after_poll(hass, result, lambda: plextv.claim_pin(code))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == plex_server.name
    assert result["data"] == {
        CONF_URL: plex_server.url,
        CONF_TOKEN: plex_server.token,
        CONF_VERIFY_SSL: True,
        CONF_CONNECTIONS: [],
    }
    entry = result["result"]
    assert entry.unique_id == plex_server.machine_identifier
    assert entry.state is ConfigEntryState.LOADED


async def test_pin_expires(
    hass: HomeAssistant, plextv: PlexTV, emulator_clock: Clock
) -> None:
    result = await start_sign_in(hass)
    # Nobody signs in; plex.tv forgets the PIN after its lifetime (404).
    result = await after_poll(hass, result, lambda: emulator_clock.advance(1800))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "pin_expired"


async def test_plex_tv_down_at_the_start(hass: HomeAssistant, plextv: PlexTV) -> None:
    plextv.faults.add("/api/v2/pins", status=503)
    result = await start_sign_in(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "plex_tv_unavailable"


async def test_plex_tv_unreachable(
    hass: HomeAssistant, plextv: PlexTV, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config_flow, "PLEX_TV_URL", DEAD_URL)
    result = await start_sign_in(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "plex_tv_unavailable"


async def test_plex_tv_down_after_sign_in(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    plextv.register(plex_server)
    plextv.faults.add("/api/v2/resources", status=500)
    result = await sign_in(hass, plextv)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "plex_tv_unavailable"


async def test_closing_the_flow_stops_the_poll(
    hass: HomeAssistant, plextv: PlexTV
) -> None:
    result = await start_sign_in(hass)
    await hass.async_block_till_done()  # one look; the next waits on a timer
    hass.config_entries.flow.async_abort(result["flow_id"])
    await hass.async_block_till_done()
    requests = plextv.faults.count("/api/v2/pins/{id}")
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=1))
    await hass.async_block_till_done()
    assert plextv.faults.count("/api/v2/pins/{id}") == requests


# -- the server choice ---------------------------------------------------------------


async def test_no_servers(hass: HomeAssistant, plextv: PlexTV) -> None:
    result = await sign_in(hass, plextv)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_servers"


async def test_two_servers_offer_a_choice(
    hass: HomeAssistant,
    plextv: PlexTV,
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
) -> None:
    plextv.register(plex_server)
    plextv.register(second_plex_server)
    plextv.set_online(second_plex_server, False)

    result = await sign_in(hass, plextv)

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "select_server"
    options = result["data_schema"].schema["server"].config["options"]
    assert options == [
        {
            "value": plex_server.machine_identifier,
            "label": f"{plex_server.name} — {OWNER} — online",
        },
        {
            "value": second_plex_server.machine_identifier,
            "label": f"{second_plex_server.name} — {OWNER} — offline",
        },
    ]

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"server": second_plex_server.machine_identifier}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == second_plex_server.name
    assert result["data"][CONF_URL] == second_plex_server.url
    assert result["data"][CONF_TOKEN] == second_plex_server.token
    assert result["result"].unique_id == second_plex_server.machine_identifier


async def test_shared_servers_show_their_owner_and_use_the_friends_token(
    hass: HomeAssistant,
    plextv: PlexTV,
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
) -> None:
    plextv.register(plex_server)
    plextv.register(second_plex_server)
    friend = plex_server.library.shared_users[0]

    result = await sign_in(hass, plextv, user=friend.name)

    labels = [
        option["label"]
        for option in result["data_schema"].schema["server"].config["options"]
    ]
    # The owner is plex.tv's sourceTitle, not the friend who signed in.
    assert labels == [
        f"{plex_server.name} — {OWNER} — online",
        f"{second_plex_server.name} — {OWNER} — online",
    ]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"server": plex_server.machine_identifier}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_TOKEN] == friend.token


async def test_choice_shows_an_error_and_allows_another(
    hass: HomeAssistant,
    plextv: PlexTV,
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
) -> None:
    plextv.register(plex_server, [Connection(DEAD_URL)])
    plextv.register(second_plex_server)
    result = await sign_in(hass, plextv)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"server": plex_server.machine_identifier}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"server": second_plex_server.machine_identifier}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_already_configured_updates_the_url(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=plex_server.machine_identifier,
        data={
            CONF_URL: DEAD_URL,
            CONF_TOKEN: plex_server.token,
            CONF_VERIFY_SSL: True,
            CONF_CONNECTIONS: ["http://10.0.0.9:32400"],
        },
    )
    entry.add_to_hass(hass)
    remote = await plex_server.add_listener()
    plextv.register(
        plex_server, [Connection(plex_server.url), Connection(remote, local=False)]
    )

    result = await sign_in(hass, plextv)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_URL] == plex_server.url
    # plex.tv's other address first, then what the entry knew.
    assert entry.data[CONF_CONNECTIONS] == [remote, DEAD_URL, "http://10.0.0.9:32400"]


# -- the connection choice -------------------------------------------------------------


async def test_dead_and_foreign_connections_are_passed_over(
    hass: HomeAssistant,
    plextv: PlexTV,
    plex_server: PlexEmulator,
    same_token_server: PlexEmulator,
) -> None:
    """A dead local address and one that is another server now: the remote one wins."""
    plextv.register(
        plex_server,
        [
            Connection(DEAD_URL, local=True),
            Connection(same_token_server.url, local=True),
            Connection(plex_server.url, local=False),
        ],
    )
    result = await sign_in(hass, plextv)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == plex_server.machine_identifier
    assert result["data"][CONF_URL] == plex_server.url
    assert result["data"][CONF_CONNECTIONS] == [DEAD_URL, same_token_server.url]


async def test_local_beats_remote_beats_relay(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    """All three answer; plex.tv lists the relay first; the local one is taken."""
    relay = await plex_server.add_listener()
    remote = await plex_server.add_listener()
    local = plex_server.url
    plextv.register(
        plex_server,
        [
            Connection(relay, local=False, relay=True),
            Connection(remote, local=False),
            Connection(local, local=True),
        ],
    )
    # (That the preference beats speed is shown with a slow link in
    # tests/api/test_plextv_connections.py.)
    result = await sign_in(hass, plextv)

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_URL] == local
    assert result["data"][CONF_CONNECTIONS] == [remote, relay]


async def test_relay_when_nothing_else_answers(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    relay = await plex_server.add_listener()
    plextv.register(
        plex_server,
        [Connection(DEAD_URL), Connection(relay, local=False, relay=True)],
    )
    result = await sign_in(hass, plextv)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_URL] == relay
    assert result["data"][CONF_CONNECTIONS] == [DEAD_URL]


async def test_no_connection_answers(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    plextv.register(plex_server, [Connection(DEAD_URL)])
    result = await sign_in(hass, plextv)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_only_certificate_failures_is_ssl_error(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator, tmp_path: Path
) -> None:
    tls = TLSListener(tls_server_context(tmp_path))
    plextv.register(plex_server, [Connection(await tls.start())])
    try:
        result = await sign_in(hass, plextv)
    finally:
        await tls.stop()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "ssl_error"
    assert tls.handshakes == 0


async def test_a_certificate_failure_beside_a_dead_address_is_cannot_connect(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator, tmp_path: Path
) -> None:
    tls = TLSListener(tls_server_context(tmp_path))
    plextv.register(plex_server, [Connection(await tls.start()), Connection(DEAD_URL)])
    try:
        result = await sign_in(hass, plextv)
    finally:
        await tls.stop()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_server_refuses_the_resource_token(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    plextv.register(plex_server)
    plex_server.faults.add("/", status=401)
    result = await sign_in(hass, plextv)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_auth"


# -- reauth by signing in ----------------------------------------------------------------


def stale_entry(
    emu: PlexEmulator,
    unique_id: str | None = None,
    connections: list[str] | None = None,
) -> MockConfigEntry:
    """An entry for ``emu`` whose token the server no longer takes."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=emu.name,
        unique_id=unique_id or emu.machine_identifier,
        data={
            CONF_URL: emu.url,
            CONF_TOKEN: "revoked",
            CONF_VERIFY_SSL: True,
            CONF_CONNECTIONS: connections or [],
        },
    )


async def test_reauth_by_sign_in(
    hass: HomeAssistant,
    plextv: PlexTV,
    plex_server: PlexEmulator,
    second_plex_server: PlexEmulator,
) -> None:
    """The entry's server is picked from the account's two without asking."""
    plextv.register(second_plex_server)
    plextv.register(plex_server)
    entry = stale_entry(plex_server, connections=["http://10.0.0.9:32400"])
    entry.add_to_hass(hass)

    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await choose(hass, result, "plex_sign_in")
    result = await after_poll(hass, result, lambda: plextv.claim_pin(pin_code(result)))

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_TOKEN] == plex_server.token
    assert entry.data[CONF_URL] == plex_server.url
    assert entry.data[CONF_CONNECTIONS] == ["http://10.0.0.9:32400"]
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_by_sign_in_to_an_account_without_the_server(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    plextv.register(plex_server)
    entry = stale_entry(plex_server, unique_id="a-server-this-account-lacks")
    entry.add_to_hass(hass)

    result = await entry.start_reauth_flow(hass)
    result = await choose(hass, result, "plex_sign_in")
    result = await after_poll(hass, result, lambda: plextv.claim_pin(pin_code(result)))

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_server"
    assert entry.data[CONF_TOKEN] == "revoked"


# -- the poll's pauses ------------------------------------------------------------------


async def looks(hass: HomeAssistant, plextv: PlexTV, count: int) -> None:
    """Let the poll look at the PIN ``count`` more times."""
    for _ in range(count):
        await hass.async_block_till_done()
        next_poll(hass)
    await hass.async_block_till_done()


PIN_CHECKS = "/api/v2/pins/{id}"


async def test_poll_waits_between_looks_until_claimed(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    plextv.register(plex_server)
    result = await start_sign_in(hass)
    await hass.async_block_till_done()
    assert plextv.faults.count(PIN_CHECKS) == 1
    # Nothing happens until the pause is over.
    await hass.async_block_till_done()
    assert plextv.faults.count(PIN_CHECKS) == 1
    await looks(hass, plextv, 2)
    assert plextv.faults.count(PIN_CHECKS) == 3

    result = await after_poll(hass, result, lambda: plextv.claim_pin(pin_code(result)))

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert plextv.faults.count(PIN_CHECKS) == 4


async def test_poll_gives_up_when_plex_tv_keeps_failing(
    hass: HomeAssistant, plextv: PlexTV
) -> None:
    plextv.faults.add(PIN_CHECKS, status=503)
    result = await start_sign_in(hass)
    await looks(hass, plextv, config_flow.PIN_POLL_FAILURES - 2)
    result = await after_poll(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "plex_tv_unavailable"
    assert plextv.faults.count(PIN_CHECKS) == config_flow.PIN_POLL_FAILURES


async def test_poll_survives_a_passing_plex_tv_failure(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    plextv.register(plex_server)
    plextv.faults.add(PIN_CHECKS, status=503, times=config_flow.PIN_POLL_FAILURES - 1)
    result = await start_sign_in(hass)
    await looks(hass, plextv, config_flow.PIN_POLL_FAILURES - 2)
    result = await after_poll(hass, result, lambda: plextv.claim_pin(pin_code(result)))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_our_own_deadline_when_plex_tv_never_expires_the_pin(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, plextv: PlexTV
) -> None:
    """plex.tv keeps answering "not claimed" past the PIN's lifetime: we stop."""
    result = await start_sign_in(hass)
    await hass.async_block_till_done()
    freezer.tick(timedelta(seconds=1800))
    result = await after_poll(hass, result)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "pin_expired"


async def test_discovery_with_an_unusable_address(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_INTEGRATION_DISCOVERY},
        data={"url": "ftp://nas", "machine_identifier": "abc", "name": "NAS"},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_options_flow_hook(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["type"] is FlowResultType.FORM


async def test_plex_tv_refuses_the_token_it_just_gave(
    hass: HomeAssistant, plextv: PlexTV, plex_server: PlexEmulator
) -> None:
    plextv.register(plex_server)
    plextv.faults.add("/api/v2/resources", status=401)
    result = await sign_in(hass, plextv)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_auth"
