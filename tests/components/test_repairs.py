"""Repair issues, through Home Assistant's issue registry and repairs API.

- ``server_unreachable``: raised after 10 minutes without an answer (of a loaded
  entry, or across setup retries), removed when the server answers;
- ``reauth_dismissed``: raised when the reauthentication flow of a revoked token is
  closed unfinished; its fix flow starts reauthentication again; removed when the
  entry loads.

The mirror's issues are tested with the mirror (test_mirror, test_mirror_faults);
here, that they go with the entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from http import HTTPStatus
import json
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntryDisabler,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plex_bridge.const import DOMAIN
from custom_components.plex_bridge.repairs import (
    async_mirror_unavailable,
    async_reauth_dismissed,
)
from tests.plex_server import PlexEmulator

from .conftest import wait_for_coordinator

EN = json.loads(
    (
        Path(__file__).resolve().parents[2]
        / "custom_components"
        / DOMAIN
        / "translations"
        / "en.json"
    ).read_text(encoding="utf-8")
)
# Past the client's circuit breaker cool-down (30 s), so the next read is a probe.
BREAKER_COOLDOWN = timedelta(seconds=31)
MAX_LOOP_TURNS = 10_000


def unreachable_issue(
    hass: HomeAssistant, entry: MockConfigEntry
) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(
        DOMAIN, f"server_unreachable_{entry.entry_id}"
    )


def reauth_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(
        DOMAIN, f"reauth_dismissed_{entry.entry_id}"
    )


def reauth_flows(hass: HomeAssistant) -> list[Any]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]


def take_server_down(plex_server: PlexEmulator) -> None:
    """Every request fails (503) and the websocket drops."""
    plex_server.faults.add("/:/websockets/notifications", ws_drop=True)
    plex_server.faults.add("*", status=503)


async def async_run_with_clock(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, coro: Awaitable[Any]
) -> None:
    """Run ``coro`` while the frozen clock moves on a second per loop turn.

    Setup retries its requests after short sleeps, which never end while the loop's
    clock stands still; each turn fires the timers that are due.
    """
    task = asyncio.ensure_future(coro)
    for _ in range(MAX_LOOP_TURNS):
        if task.done():
            await task
            return
        freezer.tick(timedelta(seconds=1))
        async_fire_time_changed(hass)
        await asyncio.sleep(0)
    task.cancel()
    raise AssertionError("still running")


async def test_unreachable_for_ten_minutes_raises_an_issue_until_back(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    sessions = loaded_entry.runtime_data.sessions
    take_server_down(plex_server)
    await wait_for_coordinator(
        sessions,
        lambda: not sessions.push_connected and not sessions.last_update_success,
    )

    freezer.tick(timedelta(minutes=9))
    await sessions.async_refresh()
    assert not sessions.last_update_success
    assert unreachable_issue(hass, loaded_entry) is None

    freezer.tick(timedelta(minutes=1))
    await sessions.async_refresh()
    issue = unreachable_issue(hass, loaded_entry)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert not issue.is_fixable
    assert issue.translation_key == "server_unreachable"
    assert issue.translation_placeholders == {
        "name": plex_server.name,
        "url": plex_server.url,
    }
    assert plex_server.token not in json.dumps(issue.to_json())
    assert EN["issues"]["server_unreachable"]["title"]

    plex_server.faults.clear()
    freezer.tick(BREAKER_COOLDOWN)
    await sessions.async_refresh()
    assert sessions.last_update_success
    assert unreachable_issue(hass, loaded_entry) is None


async def test_a_short_outage_after_a_long_one_starts_counting_again(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The ten minutes are one outage, not failures added up over a day."""
    sessions = loaded_entry.runtime_data.sessions
    take_server_down(plex_server)
    await wait_for_coordinator(sessions, lambda: not sessions.last_update_success)
    freezer.tick(timedelta(minutes=8))
    plex_server.faults.clear()
    freezer.tick(BREAKER_COOLDOWN)
    await sessions.async_refresh()
    assert sessions.last_update_success

    plex_server.faults.add("*", status=503)
    await sessions.async_refresh()
    freezer.tick(timedelta(minutes=8))
    await sessions.async_refresh()
    assert not sessions.last_update_success
    assert unreachable_issue(hass, loaded_entry) is None


async def test_unreachable_at_setup_counts_across_retries(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Home Assistant started while the server was down, and it stays down."""
    plex_server.faults.add("*", status=503)
    mock_config_entry.add_to_hass(hass)
    await async_run_with_clock(
        hass, freezer, hass.config_entries.async_setup(mock_config_entry.entry_id)
    )
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert unreachable_issue(hass, mock_config_entry) is None

    freezer.tick(timedelta(minutes=10))
    await async_run_with_clock(
        hass, freezer, hass.config_entries.async_reload(mock_config_entry.entry_id)
    )
    assert mock_config_entry.state is ConfigEntryState.SETUP_RETRY
    assert unreachable_issue(hass, mock_config_entry) is not None

    plex_server.faults.clear()
    await async_run_with_clock(
        hass, freezer, hass.config_entries.async_reload(mock_config_entry.entry_id)
    )
    await hass.async_block_till_done()
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert unreachable_issue(hass, mock_config_entry) is None
    assert await hass.config_entries.async_unload(mock_config_entry.entry_id)


async def test_disabling_the_entry_clears_its_issues(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    sessions = loaded_entry.runtime_data.sessions
    take_server_down(plex_server)
    await wait_for_coordinator(sessions, lambda: not sessions.last_update_success)
    freezer.tick(timedelta(minutes=10))
    await sessions.async_refresh()
    assert unreachable_issue(hass, loaded_entry) is not None

    await hass.config_entries.async_set_disabled_by(
        loaded_entry.entry_id, ConfigEntryDisabler.USER
    )
    await hass.async_block_till_done()
    assert unreachable_issue(hass, loaded_entry) is None


async def test_refused_token_is_not_unreachable(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    sessions = loaded_entry.runtime_data.sessions
    plex_server.token = "revoked-and-replaced"
    await sessions.async_refresh()
    freezer.tick(timedelta(minutes=20))
    await sessions.async_refresh()
    await hass.async_block_till_done()
    assert not sessions.last_update_success
    assert unreachable_issue(hass, loaded_entry) is None
    assert reauth_flows(hass)


async def dismiss_reauth(hass: HomeAssistant) -> None:
    """Close the open reauthentication flow without finishing it (the dialog's X)."""
    flows = reauth_flows(hass)
    assert len(flows) == 1
    hass.config_entries.flow.async_abort(flows[0]["flow_id"])
    await hass.async_block_till_done()


async def revoke_token_at_start(
    hass: HomeAssistant, plex_server: PlexEmulator, entry: MockConfigEntry
) -> str:
    """The token is revoked; the entry's next start is refused and asks for reauth."""
    token = plex_server.token
    plex_server.token = "revoked-and-replaced"
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert reauth_issue(hass, entry) is None
    return token


async def test_dismissed_reauth_is_a_fixable_issue(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """Revoked token -> reauth -> dismissed -> issue -> its fix flow -> reauth again."""
    token = await revoke_token_at_start(hass, plex_server, loaded_entry)

    await dismiss_reauth(hass)

    issue = reauth_issue(hass, loaded_entry)
    assert issue is not None
    assert issue.is_fixable
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_key == "reauth_dismissed"
    assert token not in json.dumps(issue.to_json())
    assert not reauth_flows(hass)

    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix",
        json={"handler": DOMAIN, "issue_id": issue.issue_id},
    )
    assert response.status == HTTPStatus.OK
    step = await response.json()
    assert step["type"] == "form"
    assert step["step_id"] == "confirm"
    assert step["description_placeholders"]["name"] == plex_server.name
    assert EN["issues"]["reauth_dismissed"]["fix_flow"]["step"]["confirm"]["title"]

    response = await client.post(f"/api/repairs/issues/fix/{step['flow_id']}", json={})
    assert response.status == HTTPStatus.OK
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done()

    assert reauth_issue(hass, loaded_entry) is None
    assert len(reauth_flows(hass)) == 1


async def test_dismissed_reauth_of_a_running_entry_is_an_issue(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """The token is revoked while the entry runs (the common case)."""
    plex_server.token = "revoked-and-replaced"
    await loaded_entry.runtime_data.sessions.async_refresh()
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.LOADED

    await dismiss_reauth(hass)

    assert reauth_issue(hass, loaded_entry) is not None


async def test_reauth_issue_goes_when_the_entry_loads(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    token = await revoke_token_at_start(hass, plex_server, loaded_entry)
    await dismiss_reauth(hass)
    assert reauth_issue(hass, loaded_entry) is not None

    # The token works again (the user fixed it on the server's side); a reload loads.
    plex_server.token = token
    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert loaded_entry.state is ConfigEntryState.LOADED
    assert reauth_issue(hass, loaded_entry) is None


async def test_removing_the_entry_removes_its_issues(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    async_reauth_dismissed(hass, loaded_entry)
    assert reauth_issue(hass, loaded_entry) is not None
    # The mirror's issues too (raised as the mirror raises them).
    mirror = loaded_entry.runtime_data.mirror
    assert mirror is not None
    mirror._async_raise_issue("mirror_sync_failed", ir.IssueSeverity.ERROR)
    async_mirror_unavailable(hass, loaded_entry, "/config/plex_bridge", "no room")
    registry = ir.async_get(hass)
    mirror_issues = [
        f"{kind}_{loaded_entry.entry_id}"
        for kind in ("mirror_sync_failed", "mirror_unavailable")
    ]
    assert all(registry.async_get_issue(DOMAIN, key) for key in mirror_issues)

    assert await hass.config_entries.async_remove(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert reauth_issue(hass, loaded_entry) is None
    assert not any(registry.async_get_issue(DOMAIN, key) for key in mirror_issues)


async def test_fix_flow_of_a_removed_entry_aborts(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
) -> None:
    """The entry is deleted while its repair is open: submitting says so."""
    async_reauth_dismissed(hass, loaded_entry)
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix",
        json={
            "handler": DOMAIN,
            "issue_id": f"reauth_dismissed_{loaded_entry.entry_id}",
        },
    )
    flow_id = (await response.json())["flow_id"]
    assert await hass.config_entries.async_remove(loaded_entry.entry_id)
    await hass.async_block_till_done()

    response = await client.post(f"/api/repairs/issues/fix/{flow_id}", json={})
    result = await response.json()
    assert result["type"] == "abort"
    assert result["reason"] == "entry_removed"
    assert EN["issues"]["reauth_dismissed"]["fix_flow"]["abort"]["entry_removed"]
    assert not reauth_flows(hass)
