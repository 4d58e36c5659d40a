"""The Plex Media Server's own release: is a newer one out, and what it brings.

Home Assistant cannot install it (Plex is updated on its host), so the entity only
tells. The download URL in ``/updater/status`` carries the token; the client never
keeps it, and nothing here shows it.
"""

from __future__ import annotations

from typing import Final

from homeassistant.components.update import UpdateEntity, UpdateEntityFeature
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import PlexBridgeConfigEntry
from .api.models import Release
from .coordinator import PlexLibraryCoordinator
from .entity import PlexServerEntity

# Entities only read coordinator data.
PARALLEL_UPDATES = 0

MAX_SUMMARY_LENGTH: Final = 255
RELEASE_URL: Final = "https://forums.plex.tv/t/plex-media-server/30447"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PlexBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the server's update entity (the owner's only: Plex tells no one else)."""
    if entry.runtime_data.owner:
        async_add_entities([PlexServerUpdate(entry.runtime_data.library)])


def release_notes(release: Release) -> str | None:
    """The release's notes in Markdown: what was added, what was fixed."""
    sections = [
        f"## {heading}\n\n{text.strip()}"
        for heading, text in (("Added", release.added), ("Fixed", release.fixed))
        if text and text.strip()
    ]
    return "\n\n".join(sections) or None


def release_summary(release: Release) -> str | None:
    """The notes in at most 255 characters, as Home Assistant wants a summary."""
    parts = [
        f"{heading}: {' '.join(text.split())}"
        for heading, text in (("Added", release.added), ("Fixed", release.fixed))
        if text and text.strip()
    ]
    summary = " ".join(parts)
    if not summary:
        return None
    if len(summary) > MAX_SUMMARY_LENGTH:
        summary = f"{summary[: MAX_SUMMARY_LENGTH - 1]}…"
    return summary


class PlexServerUpdate(PlexServerEntity[PlexLibraryCoordinator], UpdateEntity):
    """The Plex Media Server release the server offers."""

    _attr_translation_key = "server"
    _attr_supported_features = UpdateEntityFeature.RELEASE_NOTES
    _attr_title = "Plex Media Server"
    _attr_release_url = RELEASE_URL

    def __init__(self, coordinator: PlexLibraryCoordinator) -> None:
        super().__init__(coordinator, "update")

    @property
    def _release(self) -> Release | None:
        """The newer release the server offers, if any."""
        status = self.coordinator.data.update
        release = status.release if status else None
        if release is None or release.version == self.installed_version:
            return None
        return release

    @property
    def installed_version(self) -> str | None:
        """The version the server runs."""
        return self.coordinator.config_entry.runtime_data.server.version or None

    @property
    def latest_version(self) -> str | None:
        """The offered release, or the installed one when there is none."""
        release = self._release
        return release.version if release else self.installed_version

    @property
    def release_summary(self) -> str | None:
        """What the offered release adds and fixes, briefly."""
        release = self._release
        return release_summary(release) if release else None

    async def async_release_notes(self) -> str | None:
        """The offered release's full notes."""
        release = self._release
        return release_notes(release) if release else None
