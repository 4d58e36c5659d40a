"""Base entities: one device per server, one per player, named by translation keys."""

from __future__ import annotations

from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api import ServerInfo
from .const import DOMAIN
from .coordinator import PlexLibraryCoordinator, PlexSessionsCoordinator

MANUFACTURER = "Plex"


def server_device_info(server: ServerInfo) -> DeviceInfo:
    """The device of the Plex Media Server an entry connects to."""
    return DeviceInfo(
        identifiers={(DOMAIN, server.machine_identifier)},
        name=server.friendly_name,
        manufacturer=MANUFACTURER,
        model="Plex Media Server",
        sw_version=server.version,
        configuration_url="https://app.plex.tv/desktop",
    )


def shows_state(coordinator: PlexSessionsCoordinator | PlexLibraryCoordinator) -> bool:
    """Whether the entities of a coordinator are available.

    While the server answers; and while a refused token awaits reauthentication,
    when they keep showing the last good read: the server is not down, and a user
    who re-enters the token should not find every automation tripped by
    ``unavailable`` meanwhile (issue 12). Reads stop until the entry reloads.
    """
    return coordinator.last_update_success or isinstance(
        coordinator.last_exception, ConfigEntryAuthFailed
    )


class PlexServerEntity[CoordinatorT: PlexSessionsCoordinator | PlexLibraryCoordinator](
    CoordinatorEntity[CoordinatorT]
):
    """An entity of the server's device; available while the server answers."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: CoordinatorT, key: str) -> None:
        super().__init__(coordinator)
        entry = coordinator.config_entry
        self._attr_unique_id = f"{entry.runtime_data.server.machine_identifier}-{key}"
        self._attr_device_info = server_device_info(entry.runtime_data.server)

    @property
    def available(self) -> bool:
        """Available while the server answers (see ``shows_state``)."""
        return shows_state(self.coordinator)


class PlexPlayerEntity(CoordinatorEntity[PlexSessionsCoordinator]):
    """An entity of one player's device, linked to the server's."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: PlexSessionsCoordinator, machine_identifier: str
    ) -> None:
        super().__init__(coordinator)
        self.machine_identifier = machine_identifier
        server_id = coordinator.config_entry.runtime_data.server.machine_identifier
        self._attr_unique_id = f"{server_id}-{machine_identifier}"
        device = coordinator.data.players[machine_identifier]
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, machine_identifier)},
            name=device.name,
            manufacturer=device.vendor or MANUFACTURER,
            model=device.product,
            sw_version=device.version,
            via_device_id=coordinator.config_entry.runtime_data.server_device_id,
        )

    @property
    def available(self) -> bool:
        """Available while the server answers (see ``shows_state``)."""
        return shows_state(self.coordinator)
