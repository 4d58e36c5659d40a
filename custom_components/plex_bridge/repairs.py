"""Repairs: what a user must know (and may fix) about a Plex Bridge entry.

Two issues of the server, both of severity error, one per entry (the issue id
carries the entry id):

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

The library mirror raises its own issues (library_mirror.py): the syncs keep
failing (``mirror_sync_failed``, after three), the file was damaged and is being
rebuilt (``mirror_rebuilt``), the disk is full (``mirror_disk_full``, at once, with
the file's path). Each goes by itself: after the next good sync, or
(``mirror_rebuilt``) at the next start. None is fixable.

``mirror_unavailable`` (raised by setup, here): the mirror's file could not be
opened or created at all (no room for it, a read-only or missing folder, a file
where its folder should be). The entry loads without a mirror (``play_media``
and ``search_media`` ask the server; the search and sync actions refuse), and
nothing would try again before the next start, so the issue is fixable: its flow
reloads the entry, and says so if the file still cannot be opened. It goes when
a setup opens the file. Every mirror issue goes with the entry
(``async_clear_mirror_issues``).
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
ISSUE_MIRROR_SYNC_FAILED: Final = "mirror_sync_failed"
ISSUE_MIRROR_REBUILT: Final = "mirror_rebuilt"
ISSUE_MIRROR_DISK_FULL: Final = "mirror_disk_full"
ISSUE_MIRROR_UNAVAILABLE: Final = "mirror_unavailable"
MIRROR_ISSUES: Final = (
    ISSUE_MIRROR_SYNC_FAILED,
    ISSUE_MIRROR_REBUILT,
    ISSUE_MIRROR_DISK_FULL,
    ISSUE_MIRROR_UNAVAILABLE,
)
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
def _async_fixable_issue(
    hass: HomeAssistant, entry: ConfigEntry, kind: str, **placeholders: str
) -> None:
    """Raise the entry's fixable issue ``kind``; its flow finds the entry by id."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(kind, entry),
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=kind,
        translation_placeholders={**_placeholders(entry), **placeholders},
        data={"entry_id": entry.entry_id},
    )


@callback
def async_reauth_dismissed(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The reauthentication flow was closed unfinished: keep the need visible.

    Called by the config flow's ``async_remove`` (a callback, like this).
    """
    _async_fixable_issue(hass, entry, ISSUE_REAUTH_DISMISSED)


@callback
def async_clear_issues(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Nothing of the entry needs repair: it loaded, was disabled or is deleted."""
    async_server_reachable(hass, entry)
    ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_REAUTH_DISMISSED, entry))


@callback
def async_mirror_unavailable(
    hass: HomeAssistant, entry: ConfigEntry, path: str, error: str
) -> None:
    """The mirror's file cannot be opened: say where and why, and offer a retry."""
    _async_fixable_issue(hass, entry, ISSUE_MIRROR_UNAVAILABLE, path=path, error=error)


@callback
def async_mirror_available(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The mirror's file opened."""
    ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_MIRROR_UNAVAILABLE, entry))


@callback
def async_clear_mirror_issues(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The entry is deleted or disabled: its mirror's issues go with it."""
    for kind in MIRROR_ISSUES:
        ir.async_delete_issue(hass, DOMAIN, issue_id(kind, entry))


class _EntryRepairFlow(ConfirmRepairFlow):
    """One confirm step about one entry; an entry deleted meanwhile aborts it."""

    def __init__(self, entry_id: str) -> None:
        super().__init__()
        self._entry_id = entry_id

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Show the step, or act on its submission."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        return await self._async_confirm(entry, user_input)

    async def _async_confirm(
        self, entry: ConfigEntry, user_input: dict[str, str] | None
    ) -> RepairsFlowResult:
        raise NotImplementedError


class ReauthRepairFlow(_EntryRepairFlow):
    """Confirm, then start reauthentication of the entry again."""

    async def _async_confirm(
        self, entry: ConfigEntry, user_input: dict[str, str] | None
    ) -> RepairsFlowResult:
        """Ask once; on submit, the reauthentication flow appears again."""
        if user_input is not None:
            entry.async_start_reauth(self.hass)
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="confirm", description_placeholders=_placeholders(entry)
        )


class MirrorRetryRepairFlow(_EntryRepairFlow):
    """Confirm, then reload the entry, which tries to open the mirror's file again.

    The flow ends (and the issue goes) only once the file opened; otherwise the
    form stays, with the new reason, so the user can fix more and try again.
    """

    async def _async_confirm(
        self, entry: ConfigEntry, user_input: dict[str, str] | None
    ) -> RepairsFlowResult:
        """Ask; on submit, reload the entry and see whether the file opened."""
        registry = ir.async_get(self.hass)
        key = issue_id(ISSUE_MIRROR_UNAVAILABLE, entry)
        errors: dict[str, str] = {}
        if user_input is not None:
            await self.hass.config_entries.async_reload(entry.entry_id)
            if registry.async_get_issue(DOMAIN, key) is None:
                return self.async_create_entry(data={})
            errors["base"] = "still_unavailable"
        issue = registry.async_get_issue(DOMAIN, key)
        placeholders = dict(_placeholders(entry))
        if issue is not None and issue.translation_placeholders:
            placeholders.update(issue.translation_placeholders)
        return self.async_show_form(
            step_id="confirm", errors=errors, description_placeholders=placeholders
        )


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """The flow of a fixable issue: ``reauth_dismissed`` or ``mirror_unavailable``."""
    entry_id = str((data or {})["entry_id"])
    if issue_id.startswith(f"{ISSUE_MIRROR_UNAVAILABLE}_"):
        return MirrorRetryRepairFlow(entry_id)
    return ReauthRepairFlow(entry_id)
