"""Which players are still around, and removing the devices of those that are not.

A player is *seen* while ``/clients`` lists it or a session plays on it. The
sessions coordinator reports what it sees after every read (and reads ``/clients``
once a minute even while push is connected, see ``CLIENTS_INTERVAL``). A player
that has not been seen for the entry's ``player_retention`` minutes loses its device,
and with it its entities; if it comes back it gets new ones.

What is remembered across restarts (a ``Store`` per entry, written only when a
player comes or goes): for each player, since when it has been absent, or ``None``
while it is seen. A player that was seen when Home Assistant stopped, or that has a
device but no record (an entry older than this), counts as absent from the first
check after start: Home Assistant cannot know when it left while it was not
running, so it gives the player the whole retention time again rather than remove
it early.

Plex Web players get no device when the entry ignores them; devices they got before
the option was turned on are removed at the first check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, TypedDict

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 10
"""Seconds: players coming and going in a burst cost one write."""
PLEX_WEB: Final = "Plex Web"


class StoredPresence(TypedDict):
    """The stored form: machine identifier -> absent since (ISO time), or None."""

    absent_since: dict[str, str | None]


def player_identifier(device: dr.DeviceEntry) -> str | None:
    """The machine identifier a device of ours stands for."""
    return next(
        (value for domain, value in device.identifiers if domain == DOMAIN), None
    )


def _store(hass: HomeAssistant, entry_id: str) -> Store[StoredPresence]:
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.players")


async def async_remove_store(hass: HomeAssistant, entry_id: str) -> None:
    """The entry is removed: so is what it stored."""
    await _store(hass, entry_id).async_remove()


class PlayerPresence:
    """Absence times of one entry's players, and removal of the stale ones."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        server_identifier: str,
        retention: timedelta,
        ignore_plex_web: bool,
        forget: Callable[[str], None],
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.server_identifier = server_identifier
        self.retention = retention
        self.ignore_plex_web = ignore_plex_web
        self._forget = forget
        self._store = _store(hass, entry.entry_id)
        self._absent_since: dict[str, datetime | None] = {}
        self.seen: set[str] = set()

    async def async_load(self) -> None:
        """Read what was stored; players seen at the last stop count from now."""
        stored = await self._store.async_load()
        now = dt_util.utcnow()
        for identifier, since in (stored or {"absent_since": {}})[
            "absent_since"
        ].items():
            parsed = dt_util.parse_datetime(since) if since else None
            self._absent_since[identifier] = parsed or now

    @callback
    def async_seen(self, identifiers: Iterable[str]) -> None:
        """The players seen by the latest read of the server."""
        seen = set(identifiers)
        if seen == self.seen:
            return
        now = dt_util.utcnow()
        for identifier in seen:
            self._absent_since[identifier] = None
        for identifier in self.seen - seen:
            self._absent_since[identifier] = now
        self.seen = seen
        self._store.async_delay_save(self._data, SAVE_DELAY)

    @callback
    def async_remove_stale(self) -> None:
        """Remove the devices of players unseen for longer than the retention."""
        registry = dr.async_get(self.hass)
        now = dt_util.utcnow()
        changed = False
        for device in dr.async_entries_for_config_entry(registry, self.entry.entry_id):
            identifier = player_identifier(device)
            if identifier is None or identifier == self.server_identifier:
                continue
            ignored = self.ignore_plex_web and device.model == PLEX_WEB
            if identifier in self.seen and not ignored:
                continue
            since = self._absent_since.get(identifier)
            if since is None:
                since = self._absent_since[identifier] = now
                changed = True
            if not ignored and now - since < self.retention:
                continue
            LOGGER.debug(
                "Removing player %s: %s",
                device.name,
                "Plex Web is ignored" if ignored else f"unseen since {since}",
            )
            self._absent_since.pop(identifier, None)
            self._forget(identifier)
            registry.async_update_device(
                device.id, remove_config_entry_id=self.entry.entry_id
            )
            changed = True
        if changed:
            self._store.async_delay_save(self._data, SAVE_DELAY)

    @callback
    def async_device_removed(self, identifier: str) -> None:
        """The user removed a player's device: forget it."""
        self._absent_since.pop(identifier, None)
        self._forget(identifier)
        self._store.async_delay_save(self._data, SAVE_DELAY)

    async def async_save(self) -> None:
        """Write now (on unload), which also ends a pending delayed write."""
        await self._store.async_save(self._data())

    def _data(self) -> StoredPresence:
        return {
            "absent_since": {
                identifier: since.isoformat() if since else None
                for identifier, since in self._absent_since.items()
            }
        }
