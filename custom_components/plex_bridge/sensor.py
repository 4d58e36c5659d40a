"""Sensors of a Plex Media Server: streams, bandwidth, transcodes, libraries.

The stream sensors follow the sessions coordinator, which is driven by push; the
library sensors follow the library coordinator, which reads the library again soon
after notifications say it changed.

``recently_added`` carries a ``data`` list in the format Upcoming Media Card reads.
Its pictures are paths to Home Assistant's own image view (``PlexImageView``),
signed by Home Assistant for a week: the browser never talks to the Plex server,
and the Plex token appears in no attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
import time
from typing import Any, Final

from aiohttp import web
from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfDataRate
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from . import PlexBridgeConfigEntry
from .api import MediaItem, PlexError, PlexNotFoundError, Section
from .api.models import StreamQuality
from .const import DOMAIN
from .coordinator import (
    LibraryData,
    LiveSession,
    PlexLibraryCoordinator,
    PlexSessionsCoordinator,
    SessionsData,
)
from .entity import PlexServerEntity, server_device_info
from .library_mirror import STATES as MIRROR_STATES, PlexMirror, result_data
from .media_browser import IMAGE_PATH, display_title as item_title

# Entities only read coordinator data.
PARALLEL_UPDATES = 0

MAX_STATE_LENGTH: Final = 255
IMAGE_URL: Final = "/api/plex_bridge/image/{server_id}{path}"
IMAGE_SIGNATURE_LIFETIME: Final = timedelta(days=7)
# A signed picture URL is renewed when it has less than this left.
IMAGE_SIGNATURE_RENEWAL: Final = timedelta(days=1)
IMAGE_VIEW_REGISTERED: HassKey[bool] = HassKey(f"{DOMAIN}_image_view")

# The card's layout for every item (its "$keyword"s name the item's fields).
UPCOMING_MEDIA_DEFAULTS: Final = {
    "title_default": "$title",
    "line1_default": "$episode",
    "line2_default": "$release",
    "line3_default": "$number",
    "line4_default": "$genres",
    "icon": "mdi:eye-off",
}
# The card formats "$day, $date $time" from each item's ``airdate``.
UPCOMING_MEDIA_RELEASE: Final = "$day, $date $time"

# Plex's ``videoResolution`` values that are not a number of lines.
RESOLUTION_LABELS: Final = {"4k": "4K", "sd": "SD", "hd": "HD"}
# Section types with their own translation key (and icon); others use "library".
SECTION_TYPES: Final = frozenset({"movie", "show", "artist", "photo"})


# -- descriptions ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlexSessionsSensorEntityDescription(SensorEntityDescription):
    """A sensor of the live sessions."""

    value_fn: Callable[[SessionsData], StateType]
    attributes_fn: Callable[[SessionsData], dict[str, Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class PlexLibrarySensorEntityDescription(SensorEntityDescription):
    """A sensor of the library."""

    value_fn: Callable[[LibraryData], StateType]


def _bandwidth(data: SessionsData) -> int:
    return sum(live.session.bandwidth or 0 for live in data.sessions.values())


def _transcodes(data: SessionsData) -> int:
    return sum(live.session.transcoding for live in data.sessions.values())


def _stream_attributes(data: SessionsData) -> dict[str, Any]:
    now = dt_util.utcnow()
    return {
        "sessions": [
            session_details(live, now)
            for live in sorted(
                data.sessions.values(), key=lambda live: live.session.session_key
            )
        ]
    }


SESSION_SENSORS: Final[tuple[PlexSessionsSensorEntityDescription, ...]] = (
    PlexSessionsSensorEntityDescription(
        key="active_streams",
        translation_key="active_streams",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: len(data.sessions),
        attributes_fn=_stream_attributes,
    ),
    PlexSessionsSensorEntityDescription(
        key="bandwidth",
        translation_key="bandwidth",
        device_class=SensorDeviceClass.DATA_RATE,
        native_unit_of_measurement=UnitOfDataRate.KILOBITS_PER_SECOND,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_bandwidth,
    ),
    PlexSessionsSensorEntityDescription(
        key="transcodes",
        translation_key="transcodes",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_transcodes,
    ),
)

RECENTLY_ADDED: Final = PlexLibrarySensorEntityDescription(
    key="recently_added",
    translation_key="recently_added",
    value_fn=lambda data: (
        _truncate(item_title(data.recently_added[0])) if data.recently_added else None
    ),
)


# -- what the attributes say -------------------------------------------------------------


def session_details(live: LiveSession, now: datetime) -> dict[str, Any]:
    """One session as the ``sessions`` attribute lists it."""
    session = live.session
    item = session.item
    quality = session.quality
    progress = None
    if item.duration:
        position = min(live.extrapolated_ms(now), item.duration)
        progress = round(100 * position / item.duration, 1)
    return {
        "user": session.user.title if session.user else None,
        "player": session.player.name,
        "title": item.full_title,
        "media_type": item.type,
        "progress": progress,
        "state": live.state,
        "quality": quality_label(quality),
        "decision": quality.decision,
        "transcode_reasons": list(quality.transcode_reasons),
        "library": item.library_section_title,
    }


def quality_label(quality: StreamQuality) -> str | None:
    """Resolution and bitrate, as in ``1080p 8.0 Mbit/s``."""
    parts = []
    if resolution := quality.video_resolution:
        label = RESOLUTION_LABELS.get(resolution.lower())
        parts.append(
            label or (f"{resolution}p" if resolution.isdigit() else resolution)
        )
    if quality.bitrate:
        if quality.bitrate >= 1000:
            parts.append(f"{quality.bitrate / 1000:.1f} Mbit/s")
        else:
            parts.append(f"{quality.bitrate} kbit/s")
    return " ".join(parts) or None


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_STATE_LENGTH else f"{text[: MAX_STATE_LENGTH - 1]}…"


def _timestamp(seconds: int | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(item: MediaItem) -> str:
    if (
        item.type == "episode"
        and item.parent_index is not None
        and item.index is not None
    ):
        return f"S{item.parent_index:02d}E{item.index:02d}"
    if item.type == "season" and item.index is not None:
        return f"S{item.index:02d}"
    return ""


def upcoming_media_item(
    item: MediaItem, image_url: Callable[[str | None], str]
) -> dict[str, Any]:
    """One item in Upcoming Media Card's format."""
    leaf = item.type in {"episode", "track"}
    if leaf:
        title = item.grandparent_title or item.parent_title or item.title
        poster = item.grandparent_thumb or item.parent_thumb or item.thumb
    else:
        title = (
            item.parent_title
            if item.type in {"season", "album"} and item.parent_title
            else item.title
        )
        poster = item.thumb or item.parent_thumb or item.composite
    return {
        "title": title,
        "episode": item.title if title != item.title else "",
        "release": UPCOMING_MEDIA_RELEASE,
        "number": _number(item),
        "genres": ", ".join(item.genres[:3]),
        "poster": image_url(poster),
        "fanart": image_url(item.art),
        "airdate": _timestamp(item.added_at),
        "aired": item.originally_available_at or "",
        "runtime": item.duration // 60000 if item.duration else "",
        "rating": f"\N{BLACK STAR} {item.rating:.1f}" if item.rating else "",
        "studio": item.studio or "",
        "flag": not item.view_count,
    }


# -- setup -------------------------------------------------------------------------------


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PlexBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the stream sensors, recently added, and a count per library section.

    A shared account gets no stream sensors: Plex shows the live sessions to the
    owner only, so they could only ever say 0.
    """
    data = entry.runtime_data
    _async_register_image_view(hass)
    async_add_entities(
        [
            *(
                PlexSessionsSensor(data.sessions, description)
                for description in (SESSION_SENSORS if data.owner else ())
            ),
            PlexRecentlyAddedSensor(data.library, RECENTLY_ADDED),
        ]
    )
    if data.mirror is not None:
        async_add_entities([PlexMirrorSensor(entry, data.mirror)])

    known: set[str] = set()

    @callback
    def async_add_new_sections() -> None:
        """Add a count sensor for each section not seen before."""
        if not data.library.last_update_success:
            return
        new = [s for s in data.library.data.sections if s.key not in known]
        known.update(section.key for section in new)
        if new:
            async_add_entities(PlexLibraryCountSensor(data.library, s) for s in new)

    async_add_new_sections()
    entry.async_on_unload(data.library.async_add_listener(async_add_new_sections))


# -- entities ----------------------------------------------------------------------------


class PlexSessionsSensor(PlexServerEntity[PlexSessionsCoordinator], SensorEntity):
    """A sensor of the server's live sessions."""

    entity_description: PlexSessionsSensorEntityDescription
    # The per-session list changes with every session; the recorder keeps the count.
    _unrecorded_attributes = frozenset({"sessions"})

    def __init__(
        self,
        coordinator: PlexSessionsCoordinator,
        description: PlexSessionsSensorEntityDescription,
    ) -> None:
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> StateType:
        """The sensor's value."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details of the sessions, for the sensors that have them."""
        if (attributes_fn := self.entity_description.attributes_fn) is None:
            return None
        return attributes_fn(self.coordinator.data)


class PlexLibraryCountSensor(PlexServerEntity[PlexLibraryCoordinator], SensorEntity):
    """How many items one library section holds (disabled until the user wants it)."""

    _attr_entity_registry_enabled_default = False
    _attr_native_unit_of_measurement = "items"
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, coordinator: PlexLibraryCoordinator, section: Section) -> None:
        super().__init__(coordinator, f"library_{section.key}")
        self.section_key = section.key
        self._attr_translation_key = (
            f"library_{section.type}" if section.type in SECTION_TYPES else "library"
        )
        self._attr_translation_placeholders = {"library": section.title}

    @property
    def available(self) -> bool:
        """Available while the server answers and still has the section."""
        return super().available and self.section_key in self.coordinator.data.counts

    @property
    def native_value(self) -> int | None:
        """The section's item count."""
        return self.coordinator.data.counts.get(self.section_key)


class PlexRecentlyAddedSensor(PlexServerEntity[PlexLibraryCoordinator], SensorEntity):
    """The newest item as the state; the newest items in Upcoming Media Card's format."""

    entity_description: PlexLibrarySensorEntityDescription
    _unrecorded_attributes = frozenset({"data"})

    def __init__(
        self,
        coordinator: PlexLibraryCoordinator,
        description: PlexLibrarySensorEntityDescription,
    ) -> None:
        super().__init__(coordinator, description.key)
        self.entity_description = description
        self._server_id = (
            coordinator.config_entry.runtime_data.server.machine_identifier
        )
        # Signed picture URLs by server path, with when their signature expires.
        self._signed: dict[str, tuple[str, float]] = {}

    @property
    def native_value(self) -> StateType:
        """The title of the newest item."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The ``data`` list of Upcoming Media Card."""
        items = self.coordinator.data.recently_added
        return {
            "data": [
                UPCOMING_MEDIA_DEFAULTS,
                *(upcoming_media_item(item, self._image_url) for item in items),
            ]
        }

    def _image_url(self, path: str | None) -> str:
        """A signed URL of Home Assistant's image view for a server image ("" if none)."""
        if (
            not path
            or not IMAGE_PATH.fullmatch(path)
            or "http" not in self.hass.config.components
        ):
            return ""
        now = time.time()
        cached = self._signed.get(path)
        if (
            cached is not None
            and cached[1] - now > IMAGE_SIGNATURE_RENEWAL.total_seconds()
        ):
            return cached[0]
        signed = async_sign_path(
            self.hass,
            IMAGE_URL.format(server_id=self._server_id, path=path),
            IMAGE_SIGNATURE_LIFETIME,
            use_content_user=True,
        )
        self._signed[path] = (signed, now + IMAGE_SIGNATURE_LIFETIME.total_seconds())
        return signed

    @callback
    def _handle_coordinator_update(self) -> None:
        """Forget signatures of pictures no longer listed, then write the state."""
        wanted = {
            path
            for item in self.coordinator.data.recently_added
            for path in (
                item.thumb,
                item.parent_thumb,
                item.grandparent_thumb,
                item.art,
            )
            if path
        }
        self._signed = {path: v for path, v in self._signed.items() if path in wanted}
        super()._handle_coordinator_update()


class PlexMirrorSensor(SensorEntity):
    """The library mirror's sync: idle, syncing or error, with progress and result.

    It follows the mirror (``PlexMirror.async_add_listener``), not a coordinator:
    the mirror tells it when the state, the progress (a new library, a new percent)
    or the last result changed. The mirror works without the server answering, so
    the sensor stays available while the server is down (its state says "error"
    when a sync failed).
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "mirror_sync"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    # Progress changes during every sync; the recorder keeps the state.
    _unrecorded_attributes = frozenset({"percent", "done", "total", "library"})

    def __init__(self, entry: PlexBridgeConfigEntry, mirror: PlexMirror) -> None:
        server = entry.runtime_data.server
        self._mirror = mirror
        self._attr_options = list(MIRROR_STATES)
        self._attr_unique_id = f"{server.machine_identifier}-mirror_sync"
        self._attr_device_info = server_device_info(server)

    async def async_added_to_hass(self) -> None:
        """Follow the mirror."""
        await super().async_added_to_hass()
        self.async_on_remove(self._mirror.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> str:
        """idle, syncing or error."""
        return self._mirror.state

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Progress of the running sync, and the last result."""
        mirror = self._mirror
        progress = mirror.progress
        last = mirror.last_result
        return {
            "percent": round(progress.percent, 1) if progress else None,
            "done": progress.done if progress else None,
            "total": progress.total if progress else None,
            "library": progress.library_title if progress else None,
            "last_result": result_data(last) if last else None,
            "error": mirror.last_error,
        }


# -- the image view ----------------------------------------------------------------------


@callback
def _async_register_image_view(hass: HomeAssistant) -> None:
    """Register the image view once, for every entry."""
    if hass.data.get(IMAGE_VIEW_REGISTERED) or "http" not in hass.config.components:
        return
    hass.http.register_view(PlexImageView())
    hass.data[IMAGE_VIEW_REGISTERED] = True


class PlexImageView(HomeAssistantView):
    """A server's pictures, fetched with the token in a header and served by HA."""

    url = "/api/plex_bridge/image/{server_id}/{path:.+}"
    name = "api:plex_bridge:image"
    requires_auth = True

    async def get(
        self, request: web.Request, server_id: str, path: str
    ) -> web.Response:
        """One picture of one server, if it is one of the server's image paths."""
        hass = request.app[KEY_HASS]
        path = f"/{path}"
        if not IMAGE_PATH.fullmatch(path):
            return web.Response(status=HTTPStatus.NOT_FOUND)
        entry = next(
            (
                entry
                for entry in hass.config_entries.async_loaded_entries(DOMAIN)
                if entry.runtime_data.server.machine_identifier == server_id
            ),
            None,
        )
        if entry is None:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        try:
            body, content_type = await entry.runtime_data.client.image(path)
        except PlexNotFoundError:
            return web.Response(status=HTTPStatus.NOT_FOUND)
        except PlexError:
            return web.Response(status=HTTPStatus.BAD_GATEWAY)
        headers: Mapping[str, str] = {
            "Content-Type": content_type,
            "Cache-Control": "private, max-age=86400",
        }
        return web.Response(body=body, headers=headers)
