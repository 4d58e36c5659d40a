"""One media player per Plex player: what it plays, and remote control.

A player's entity is created the first time the sessions coordinator sees it (in
``/clients`` or in a session) and stays until it has been unseen for the entry's
``player_retention`` (``presence.py``): a player that plays nothing is
``idle`` while ``/clients`` lists it and ``off`` when it does not, never
``unavailable``. Only a server that does not answer makes players unavailable
(``entity.shows_state``: a refused token awaiting reauthentication keeps the last
good read shown).

A player writes its state only when its own attributes changed: the coordinator
tells every player of every session's news (``_handle_coordinator_update``).

Position: the coordinator keeps each session's position as (offset, when read) and
corrects it on every change of state and every seek. The entity hands both to Home
Assistant, whose frontend moves the progress bar on its own, so normal playback
writes no state. A re-read of the sessions (a poll, another player's new session)
keeps the entity's anchor unless it moved by more than the coordinator's seek
tolerance, so a re-read does not write a state either.

With a shared account's token (``PlexBridgeData.owner`` false) Plex gives no live
sessions, so players come from ``/clients`` only: ``idle`` while listed, ``off``
when not, never what they play. Controls and the browser are offered as for the
owner; a command the server refuses ends in the usual ``command_failed`` error.

Artwork goes through Home Assistant's image proxy: the entity fetches it from the
server with the token in a header, and ``entity_picture`` is the proxy's URL, which
carries no Plex token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import hashlib
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.media_player import MediaPlayerEntity
from homeassistant.components.media_player.browse_media import (
    BrowseMedia,
    SearchMedia,
    SearchMediaQuery,
)
from homeassistant.components.media_player.const import (
    MediaPlayerEntityFeature,
    MediaPlayerState,
    MediaType,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import MediaItem, PlexError, PlexSession
from .const import DOMAIN, LOGGER
from .coordinator import SEEK_TOLERANCE_MS, LiveSession, PlexSessionsCoordinator
from .entity import PlexPlayerEntity
from .media_browser import async_browse, async_browse_image, async_resolve, async_search

if TYPE_CHECKING:
    from . import PlexBridgeConfigEntry

# Commands go through our client, which already bounds the requests in flight per
# server (``MAX_IN_FLIGHT``); entities never poll. Serialising the actions of every
# player of the platform on top of that would only delay a "pause everything" scene,
# so the platform sets no limit of its own.
PARALLEL_UPDATES = 0

CONTROL_FEATURES: Final = (
    MediaPlayerEntityFeature.PLAY
    | MediaPlayerEntityFeature.PAUSE
    | MediaPlayerEntityFeature.STOP
    | MediaPlayerEntityFeature.SEEK
    | MediaPlayerEntityFeature.NEXT_TRACK
    | MediaPlayerEntityFeature.PREVIOUS_TRACK
    | MediaPlayerEntityFeature.VOLUME_SET
    | MediaPlayerEntityFeature.PLAY_MEDIA
    | MediaPlayerEntityFeature.BROWSE_MEDIA
    | MediaPlayerEntityFeature.SEARCH_MEDIA
)
# A player that refuses remote control (Plex Web) can still be browsed from.
BROWSE_ONLY_FEATURES: Final = MediaPlayerEntityFeature.BROWSE_MEDIA

PLAYER_STATES: Final = {
    "playing": MediaPlayerState.PLAYING,
    "paused": MediaPlayerState.PAUSED,
    "buffering": MediaPlayerState.BUFFERING,
}

# Episodes are ``tvshow``: the frontend shows "Series S1E2" only for that type.
CONTENT_TYPES: Final[dict[str, MediaType]] = {
    "movie": MediaType.MOVIE,
    "episode": MediaType.TVSHOW,
    "track": MediaType.MUSIC,
    "photo": MediaType.IMAGE,
    "clip": MediaType.VIDEO,
}

# The ``type`` Plex players expect with a playback command, by item type.
COMMAND_MEDIA_TYPES: Final = {"track": "music", "photo": "photo"}

# ``librarySectionID`` values that name no section (what real servers send).
LIVE_TV_SECTION_ID: Final = -4
EXTRAS_SECTION_ID: Final = -2
LIVE_TV_LIBRARY: Final = "Live TV"
EXTRAS_LIBRARY: Final = "Extras"
TRAILERS_LIBRARY: Final = "Trailers"


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PlexBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a media player for every player known now, and for each one seen later."""
    coordinator = entry.runtime_data.sessions
    known: set[str] = set()

    @callback
    def async_add_new_players() -> None:
        # A player whose device was removed (stale, or by the user) is forgotten by
        # the coordinator, and is new again if it comes back.
        known.intersection_update(coordinator.data.players)
        new = [player for player in coordinator.data.players if player not in known]
        if not new:
            return
        known.update(new)
        async_add_entities(PlexMediaPlayer(coordinator, player) for player in new)

    async_add_new_players()
    entry.async_on_unload(coordinator.async_add_listener(async_add_new_players))


@dataclass(frozen=True, slots=True)
class _Anchor:
    """The position the entity reports: an offset and when it was true."""

    session_key: str
    rating_key: str
    state: str
    position_ms: int
    updated_at: datetime

    def expected_ms(self, at: datetime) -> int:
        """Where playback should be at ``at`` if nothing happened since."""
        if self.state != "playing":
            return self.position_ms
        return self.position_ms + int((at - self.updated_at).total_seconds() * 1000)

    def still_holds(self, live: LiveSession) -> bool:
        """Whether a fresh reading agrees with this anchor (no seek, no change)."""
        return (
            self.session_key == live.session.session_key
            and self.rating_key == live.item.rating_key
            and self.state == live.state
            and abs(live.position_ms - self.expected_ms(live.position_updated_at))
            <= SEEK_TOLERANCE_MS
        )


class PlexMediaPlayer(PlexPlayerEntity, MediaPlayerEntity):
    """A Plex player: its session's media, and transport controls if it takes them."""

    _attr_name = None
    _attr_translation_key = "player"
    _attr_media_image_remotely_accessible = False

    def __init__(
        self, coordinator: PlexSessionsCoordinator, machine_identifier: str
    ) -> None:
        super().__init__(coordinator, machine_identifier)
        self._anchor: _Anchor | None = None
        self._image_path: str | None = None
        # The availability last written by a coordinator update (None: none yet).
        self._shown_available: bool | None = None
        self._update_from_data()

    # -- state -----------------------------------------------------------------------

    @callback
    def _handle_coordinator_update(self) -> None:
        """Take the coordinator's news; write the state only if this player's changed.

        The coordinator tells every player of every change, and one server may have
        dozens of players: writing each one's state on each notification cost the
        event loop ~4 ms per notification at 50 sessions (``scripts/bench soak``).
        Comparing this entity's own attributes before and after is far cheaper
        than Home Assistant's state write, and skips only writes that would change
        nothing.
        """
        before = self._shown()
        self._update_from_data()
        if self.available is self._shown_available and self._shown() == before:
            return
        self._shown_available = self.available
        super()._handle_coordinator_update()

    def _shown(self) -> dict[str, Any]:
        """The entity's ``_attr_`` values: what a state write would show.

        Home Assistant keeps the cached ones as ``__attr_<name>`` on the instance.
        """
        return {
            key: value
            for key, value in vars(self).items()
            if key.startswith(("_attr_", "__attr_"))
        }

    @property
    def _live(self) -> LiveSession | None:
        """The session on this player, if it plays something."""
        return self.coordinator.data.for_player(self.machine_identifier)

    def _update_from_data(self) -> None:
        """Set every attribute from the coordinator's data."""
        data = self.coordinator.data
        device = data.players.get(self.machine_identifier)
        if device is None:
            # Forgotten: the entity is being removed with its device.
            return
        self._attr_supported_features = (
            CONTROL_FEATURES if device.controllable else BROWSE_ONLY_FEATURES
        )
        live = self._live
        if live is None:
            self._attr_state = (
                MediaPlayerState.IDLE
                if self.machine_identifier in data.present
                else MediaPlayerState.OFF
            )
            self._anchor = None
            self._set_image(None)
            self._set_media(None)
            self._set_position(None, None)
            self._attr_extra_state_attributes = _player_attributes(device.product)
            return
        self._attr_state = PLAYER_STATES.get(live.state, MediaPlayerState.PLAYING)
        self._set_media(live.item)
        self._set_image(_image_path(live.item))
        self._update_position(live)
        self._attr_extra_state_attributes = {
            **_player_attributes(device.product),
            **self._session_attributes(live.session),
        }

    def _set_media(self, item: MediaItem | None) -> None:
        """The media attributes of an item (all ``None`` without one)."""
        self._attr_media_content_id = item.rating_key if item else None
        self._attr_media_content_type = _content_type(item) if item else None
        self._attr_media_title = item.title if item else None
        self._attr_media_duration = _duration_s(item) if item else None
        episode = item if item and item.type == "episode" else None
        self._attr_media_series_title = episode.grandparent_title if episode else None
        self._attr_media_season = _text(episode.parent_index) if episode else None
        self._attr_media_episode = _text(episode.index) if episode else None
        track = item if item and item.type == "track" else None
        self._attr_media_artist = track.grandparent_title if track else None
        self._attr_media_album_artist = track.grandparent_title if track else None
        self._attr_media_album_name = track.parent_title if track else None
        self._attr_media_track = track.index if track else None

    def _update_position(self, live: LiveSession) -> None:
        """Report the session's position, keeping the anchor while it still holds."""
        if self._attr_media_duration is None:
            self._anchor = None
            self._set_position(None, None)
            return
        anchor = self._anchor
        if anchor is None or not anchor.still_holds(live):
            anchor = self._anchor = _Anchor(
                session_key=live.session.session_key,
                rating_key=live.item.rating_key,
                state=live.state,
                position_ms=live.position_ms,
                updated_at=live.position_updated_at,
            )
        self._set_position(anchor.position_ms // 1000, anchor.updated_at)

    def _set_image(self, path: str | None) -> None:
        """The artwork's path on the server; its hash tells the proxy when it changed."""
        self._image_path = path
        self._attr_media_image_hash = (
            hashlib.sha256(path.encode()).hexdigest()[:16] if path else None
        )

    def _set_position(self, position: int | None, updated_at: datetime | None) -> None:
        self._attr_media_position = position
        self._attr_media_position_updated_at = updated_at

    def _session_attributes(self, session: PlexSession) -> dict[str, Any]:
        """What Home Assistant's media attributes have no place for."""
        item = session.item
        quality = session.quality
        attributes: dict[str, Any] = {
            "library": self._library_title(item),
            "user": session.user.title if session.user else None,
            "session_key": session.session_key,
            "quality": _resolution(quality.video_resolution),
            "stream": quality.decision if session.item.type != "photo" else None,
            "content_rating": item.content_rating,
            "summary": item.summary,
        }
        return {name: value for name, value in attributes.items() if value is not None}

    def _library_title(self, item: MediaItem) -> str | None:
        """The library an item is from, for every kind of item (or ``None``)."""
        if item.live or item.library_section_id == LIVE_TV_SECTION_ID:
            return LIVE_TV_LIBRARY
        # A trailer before a feature carries its movie's section; it is no movie.
        if item.type == "clip" and item.subtype == "trailer":
            return TRAILERS_LIBRARY
        if item.library_section_title:
            return item.library_section_title
        if item.library_section_id == EXTRAS_SECTION_ID:
            return EXTRAS_LIBRARY
        if item.library_section_id is None:
            return None
        library = self.coordinator.config_entry.runtime_data.library.data
        section = library.section(str(item.library_section_id)) if library else None
        return section.title if section else None

    # -- artwork -----------------------------------------------------------------------

    async def async_get_media_image(self) -> tuple[bytes | None, str | None]:
        """The artwork's bytes, fetched with the token in a header only."""
        path = self._image_path
        if path is None:
            return None, None
        if path.startswith(("http://", "https://")):
            # Plex's own metadata pictures (live TV) are public: no token goes there.
            return await self._async_fetch_image(path)
        try:
            return await self.coordinator.client.image(path)
        except PlexError as err:
            LOGGER.debug("No artwork for %s: %s", self.entity_id, err)
            return None, None

    # -- transport -----------------------------------------------------------------------

    async def async_media_play(self) -> None:
        """Resume playback."""
        await self._async_command("play")

    async def async_media_pause(self) -> None:
        """Pause playback."""
        await self._async_command("pause")

    async def async_media_stop(self) -> None:
        """Stop playback."""
        await self._async_command("stop")

    async def async_media_seek(self, position: float) -> None:
        """Jump to ``position`` seconds."""
        await self._async_command("seekTo", {"offset": int(position * 1000)})

    async def async_media_next_track(self) -> None:
        """Play the next item of the queue."""
        await self._async_command("skipNext")

    async def async_media_previous_track(self) -> None:
        """Play the previous item of the queue."""
        await self._async_command("skipPrevious")

    async def async_set_volume_level(self, volume: float) -> None:
        """Set the volume (0..1); Plex does not report it, so the last one set is kept."""
        await self._async_command("setParameters", {"volume": round(volume * 100)})
        self._attr_volume_level = volume
        self.async_write_ha_state()

    async def _async_command(
        self, command: str, params: dict[str, str | int] | None = None
    ) -> None:
        """Send one playback command to the player through the server."""
        live = self._live
        media_type = (
            COMMAND_MEDIA_TYPES.get(live.item.type, "video") if live else "video"
        )
        try:
            await self.coordinator.client.command(
                self.machine_identifier, command, {**(params or {}), "type": media_type}
            )
        except PlexError as err:
            raise self._command_error(command, err) from err

    def _command_error(self, command: str, err: PlexError) -> HomeAssistantError:
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="command_failed",
            translation_placeholders={
                "command": command,
                "player": self._device_name,
                "error": str(err),
            },
        )

    @property
    def _device_name(self) -> str:
        return self.coordinator.data.players[self.machine_identifier].name

    # -- media -------------------------------------------------------------------------

    async def async_play_media(
        self, media_type: MediaType | str, media_id: str, **kwargs: Any
    ) -> None:
        """Play what ``media_id`` names (a rating key, a browse or search result)."""
        entry = self.coordinator.config_entry
        resolved = await async_resolve(self.hass, entry, media_type, media_id, **kwargs)
        try:
            await self.coordinator.client.play_media(
                self.machine_identifier,
                resolved.item,
                offset_ms=resolved.offset_ms,
                shuffle=resolved.shuffle,
            )
        except PlexError as err:
            raise self._command_error("playMedia", err) from err

    async def async_browse_media(
        self,
        media_content_type: MediaType | str | None = None,
        media_content_id: str | None = None,
    ) -> BrowseMedia:
        """Browse the server's libraries."""
        return await async_browse(
            self.hass,
            self.coordinator.config_entry,
            media_content_type,
            media_content_id,
            image_url=self.get_browse_image_url,
        )

    async def async_search_media(self, query: SearchMediaQuery) -> SearchMedia:
        """Search the library mirror, or the server until it has synced (voice uses it)."""
        return await async_search(
            self.hass,
            self.coordinator.config_entry,
            query,
            image_url=self.get_browse_image_url,
        )

    async def async_get_browse_image(
        self,
        media_content_type: MediaType | str,
        media_content_id: str,
        media_image_id: str | None = None,
    ) -> tuple[bytes | None, str | None]:
        """The picture of a browse entry, fetched through the proxy."""
        return await async_browse_image(
            self.hass,
            self.coordinator.config_entry,
            media_content_type,
            media_content_id,
            media_image_id,
        )


def _content_type(item: MediaItem) -> MediaType | str:
    """Home Assistant's media type for an item (live TV is a channel)."""
    if item.live:
        return MediaType.CHANNEL
    return CONTENT_TYPES.get(item.type, item.type)


def _duration_s(item: MediaItem) -> int | None:
    """The length in seconds; photos and live programs have none."""
    if item.type == "photo" or not item.duration:
        return None
    return item.duration // 1000


def _image_path(item: MediaItem) -> str | None:
    """The picture to show: a show's poster for its episodes, else the item's best."""
    if item.type == "episode" and item.grandparent_thumb:
        return item.grandparent_thumb
    return item.image


def _player_attributes(product: str | None) -> dict[str, Any]:
    return {"player_product": product} if product else {}


def _resolution(resolution: str | None) -> str | None:
    """``1080`` -> ``1080p``; ``sd`` -> ``SD``; ``4k`` -> ``4K``."""
    if not resolution:
        return None
    return f"{resolution}p" if resolution.isdigit() else resolution.upper()


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)
