"""Repairs: what a user must know (and may fix) about a Plex Bridge entry.

Two issues, both of severity error, one per entry (the issue id carries the entry id):

- ``server_unreachable``: the server has not answered for ``UNREACHABLE_AFTER`` (10
  minutes). A short outage (a restart, an update) stays quiet: entities are
  unavailable meanwhile, which is enough. It is removed as soon as a read
  succeeds. The time is counted from the first failed read, across setup retries
  (``ConfigEntryNotReady``) and failed polls of a loaded entry alike; a refused
  token does not count (that is reauthentication's business).
- ``reauth_dismissed``: the server refused the token and the user closed the
  reauthentication flow without finishing it. Home Assistant would not ask again,
  so the entry would stay dead. The issue is fixable: its flow starts
  reauthentication again. It is removed when the entry loads again.

Neither text carries the token; the URL shown is the entry's, which has none.

The library mirror raises its own issues (library_mirror.py), none fixable: the
syncs keep failing (``mirror_sync_failed``, after three), the file was damaged and
is being rebuilt (``mirror_rebuilt``), the disk is full (``mirror_disk_full``, at
once, with the file's path). Each goes by itself: after the next good sync, or
(``mirror_rebuilt``) at the next start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from homeassistant.components.repairs import (
    ConfirmRepairFlow,
    RepairsFlow,
    RepairsFlowResult,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

UNREACHABLE_AFTER: Final = timedelta(minutes=10)
ISSUE_UNREACHABLE: Final = "server_unreachable"
ISSUE_REAUTH_DISMISSED: Final = "reauth_dismissed"
DATA_UNREACHABLE_SINCE: HassKey[dict[str, datetime]] = HassKey(
    f"{DOMAIN}_unreachable_since"
)
"""When each entry's server last started failing; kept across setup retries."""


def issue_id(kind: str, entry: ConfigEntry) -> str:
    """One issue of each kind per entry."""
    return f"{kind}_{entry.entry_id}"


def _placeholders(entry: ConfigEntry) -> dict[str, str]:
    return {"name": entry.title, "url": str(entry.data.get(CONF_URL, ""))}


@callback
def async_server_unreachable(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """A read of the server failed: raise the issue once it has lasted long enough."""
    now = dt_util.utcnow()
    since = hass.data.setdefault(DATA_UNREACHABLE_SINCE, {}).setdefault(
        entry.entry_id, now
    )
    if now - since < UNREACHABLE_AFTER:
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ISSUE_UNREACHABLE, entry),
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_UNREACHABLE,
        translation_placeholders=_placeholders(entry),
    )


@callback
def async_server_reachable(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """A read succeeded: the outage, and its issue, are over."""
    hass.data.get(DATA_UNREACHABLE_SINCE, {}).pop(entry.entry_id, None)
    ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_UNREACHABLE, entry))


@callback
def async_reauth_dismissed(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The reauthentication flow was closed unfinished: keep the need visible.

    Called by the config flow's ``async_remove`` (a callback, like this).
    """
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(ISSUE_REAUTH_DISMISSED, entry),
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_REAUTH_DISMISSED,
        translation_placeholders=_placeholders(entry),
        data={"entry_id": entry.entry_id},
    )


@callback
def async_clear_issues(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Nothing of the entry needs repair: it loaded, was disabled or is deleted."""
    async_server_reachable(hass, entry)
    ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_REAUTH_DISMISSED, entry))


class ReauthRepairFlow(ConfirmRepairFlow):
    """Confirm, then start reauthentication of the entry again."""

    def __init__(self, entry_id: str) -> None:
        super().__init__()
        self._entry_id = entry_id

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Ask once; on submit, the reauthentication flow appears again."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        if user_input is not None:
            entry.async_start_reauth(self.hass)
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm", description_placeholders=_placeholders(entry)
        )


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """The flow of a fixable issue (only ``reauth_dismissed`` is fixable)."""
    return ReauthRepairFlow(str((data or {})["entry_id"]))
