"""Buttons of a Plex Media Server: scan for players now.

Scanning reads ``/clients`` (and, with the owner's token, the live sessions), which
Plex allows a shared account too, so a shared account's entry has the button as
well; Plex Bridge has no button for an owner-only action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import PlexBridgeConfigEntry
from .coordinator import PlexSessionsCoordinator
from .entity import PlexServerEntity

# A press is one request; Home Assistant need not queue presses.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class PlexButtonEntityDescription(ButtonEntityDescription):
    """A button of the server, and what pressing it does."""

    press_fn: Callable[[PlexSessionsCoordinator], Awaitable[None]]


BUTTONS: Final[tuple[PlexButtonEntityDescription, ...]] = (
    # CONFIG, as Home Assistant's own Plex has it: an action on the device that
    # users find among its controls rather than its read-only diagnostics.
    PlexButtonEntityDescription(
        key="scan_clients",
        translation_key="scan_clients",
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda coordinator: coordinator.async_scan_clients(),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PlexBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the server's buttons."""
    sessions = entry.runtime_data.sessions
    async_add_entities(PlexButton(sessions, description) for description in BUTTONS)


class PlexButton(PlexServerEntity[PlexSessionsCoordinator], ButtonEntity):
    """A button of the Plex Media Server."""

    entity_description: PlexButtonEntityDescription

    def __init__(
        self,
        coordinator: PlexSessionsCoordinator,
        description: PlexButtonEntityDescription,
    ) -> None:
        super().__init__(coordinator, description.key)
        self.entity_description = description

    async def async_press(self) -> None:
        """Do what the button says."""
        await self.entity_description.press_fn(self.coordinator)
