"""The sensors, through Home Assistant, against the emulated server."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_UNIT_OF_MEASUREMENT,
    UnitOfDataRate,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.plex_bridge.api import MediaItem
from custom_components.plex_bridge.api.models import StreamQuality
from custom_components.plex_bridge.coordinator import LIBRARY_COOLDOWN
from custom_components.plex_bridge.sensor import (
    item_title,
    quality_label,
    upcoming_media_item,
)
from tests.plex_server import PlexEmulator

from .conftest import async_wait_for_notifications, async_wait_for_state

SERVER = "plex_bridge_emulator"
ACTIVE_STREAMS = f"sensor.{SERVER}_active_streams"
BANDWIDTH = f"sensor.{SERVER}_bandwidth"
TRANSCODES = f"sensor.{SERVER}_transcodes"
RECENTLY_ADDED = f"sensor.{SERVER}_recently_added"
MOVIES = f"sensor.{SERVER}_movies_library"


def streams(state: State) -> list[dict[str, Any]]:
    """The per-session details of the active streams sensor."""
    sessions: list[dict[str, Any]] = state.attributes["sessions"]
    return sessions


async def test_idle_server(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """With nothing playing: no streams, no bandwidth, no transcodes."""
    active = hass.states.get(ACTIVE_STREAMS)
    assert active is not None
    assert active.state == "0"
    assert streams(active) == []
    assert active.attributes["state_class"] == SensorStateClass.MEASUREMENT

    bandwidth = hass.states.get(BANDWIDTH)
    assert bandwidth is not None
    assert bandwidth.state == "0"
    assert bandwidth.attributes[ATTR_DEVICE_CLASS] == SensorDeviceClass.DATA_RATE
    assert (
        bandwidth.attributes[ATTR_UNIT_OF_MEASUREMENT]
        == UnitOfDataRate.KILOBITS_PER_SECOND
    )
    transcodes = hass.states.get(TRANSCODES)
    assert transcodes is not None
    assert transcodes.state == "0"


async def test_sessions_reach_the_sensors_by_push(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A session started on the server shows in every stream sensor, with details."""
    polls = plex_server.faults.count("/status/sessions")
    plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1", transcode=True, bandwidth=8000
    )
    active = await async_wait_for_state(hass, ACTIVE_STREAMS, lambda s: s.state == "1")
    (details,) = streams(active)
    assert details["player"] == "Living Room TV"
    assert details["user"] == plex_server.owner_name
    assert details["title"] == "The Matrix"
    assert details["media_type"] == "movie"
    assert details["state"] == "playing"
    assert details["decision"] == "transcode"
    # The emulator, like the captures, names no reason; the list is there.
    assert isinstance(details["transcode_reasons"], list)
    assert details["library"] == "Movies"
    assert details["quality"]
    assert 0 <= details["progress"] <= 100
    # Push, then one read of the sessions for the new session: no polling.
    assert plex_server.faults.count("/status/sessions") - polls == 1

    bandwidth = await async_wait_for_state(hass, BANDWIDTH, lambda s: s.state != "0")
    assert bandwidth.state == "8000"
    transcodes = hass.states.get(TRANSCODES)
    assert transcodes is not None
    assert transcodes.state == "1"

    plex_server.sessions.start_session(
        player="Kitchen", rating_key=_a_track(plex_server), bandwidth=320
    )
    active = await async_wait_for_state(hass, ACTIVE_STREAMS, lambda s: s.state == "2")
    decisions = {d["player"]: d["decision"] for d in streams(active)}
    assert decisions == {"Living Room TV": "transcode", "Kitchen": "direct play"}
    bandwidth = await async_wait_for_state(hass, BANDWIDTH, lambda s: s.state == "8320")
    transcodes = hass.states.get(TRANSCODES)
    assert transcodes is not None
    assert transcodes.state == "1"


async def test_episode_title_and_pause(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """An episode is titled ``Show - S01E02 - Title``; pausing shows in the details."""
    episode = next(
        item for item in plex_server.library.items.values() if item.kind == "episode"
    )
    session = plex_server.sessions.start_session(
        player="Bedroom", rating_key=episode.rating_key
    )
    active = await async_wait_for_state(hass, ACTIVE_STREAMS, lambda s: s.state == "1")
    (details,) = streams(active)
    season = episode.parent
    show = season.parent
    assert details["title"] == (
        f"{show.title} - S{season.index:02d}E{episode.index:02d} - {episode.title}"
    )
    assert details["decision"] == "direct play"
    assert details["transcode_reasons"] == []

    plex_server.sessions.pause(session)
    active = await async_wait_for_state(
        hass, ACTIVE_STREAMS, lambda s: streams(s)[0]["state"] == "paused"
    )
    plex_server.sessions.stop_session(session)
    active = await async_wait_for_state(hass, ACTIVE_STREAMS, lambda s: s.state == "0")
    assert streams(active) == []


async def test_session_list_is_not_recorded(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The recorder keeps counts, not the per-session or per-item lists."""
    platform = hass.data["entity_components"]["sensor"]
    active = platform.get_entity(ACTIVE_STREAMS)
    recent = platform.get_entity(RECENTLY_ADDED)
    assert "sessions" in active._unrecorded_attributes
    assert "data" in recent._unrecorded_attributes


async def test_library_counts_are_disabled_by_default(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """One count per section, disabled; enabled, it counts the section's items."""
    sections = loaded_entry.runtime_data.library.data.sections
    counts = [
        entity
        for entity in er.async_entries_for_config_entry(
            entity_registry, loaded_entry.entry_id
        )
        if entity.unique_id.split("-", 1)[1].startswith("library_")
    ]
    assert len(counts) == len(sections)
    assert all(
        entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION for entity in counts
    )
    movies_entity = entity_registry.async_get(MOVIES)
    assert movies_entity is not None
    assert movies_entity.translation_key == "library_movie"
    assert hass.states.get(MOVIES) is None

    entity_registry.async_update_entity(MOVIES, disabled_by=None)
    # Enabling reloads the entry (after Home Assistant's delay).
    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    state = hass.states.get(MOVIES)
    assert state is not None
    assert int(state.state) == len(plex_server.library.section(1).by_kind["movie"])
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "items"
    assert state.attributes["friendly_name"] == "Plex Bridge Emulator Movies library"


async def test_recently_added_for_upcoming_media_card(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The newest title is the state; ``data`` is in Upcoming Media Card's format."""
    library = loaded_entry.runtime_data.library.data
    state = hass.states.get(RECENTLY_ADDED)
    assert state is not None
    assert state.state == library.recently_added[0].title
    defaults, *items = state.attributes["data"]
    assert defaults == {
        "title_default": "$title",
        "line1_default": "$episode",
        "line2_default": "$release",
        "line3_default": "$number",
        "line4_default": "$genres",
        "icon": "mdi:eye-off",
    }
    assert len(items) == len(library.recently_added)
    fields = {
        "title", "episode", "release", "number", "genres", "poster", "fanart",
        "airdate", "aired", "runtime", "rating", "studio", "flag",
    }  # fmt: skip
    assert all(set(item) == fields for item in items)
    first = items[0]
    assert first["title"] == library.recently_added[0].title
    assert first["poster"].startswith("/api/plex_bridge/image/")
    assert "authSig=" in first["poster"]
    season = next(i for i in items if i["number"].startswith("S") and i["episode"])
    assert season["episode"].startswith("Season")


async def test_pictures_never_carry_the_token(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Posters are Home Assistant's signed URLs; they serve the server's picture."""
    state = hass.states.get(RECENTLY_ADDED)
    assert state is not None
    assert plex_server.token not in str(state.attributes)
    poster = state.attributes["data"][1]["poster"]

    client = await hass_client_no_auth()
    response = await client.get(poster)
    assert response.status == HTTPStatus.OK
    assert response.content_type.startswith("image/")
    assert (await response.read())[:4] == b"\x89PNG"

    # Unsigned, or for a path that is not one of the server's pictures: refused.
    unsigned = await client.get(poster.split("?", 1)[0])
    assert unsigned.status == HTTPStatus.UNAUTHORIZED


async def test_image_view_refuses_other_paths(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """The view fetches only the server's image paths, of a loaded server."""
    client = await hass_client()
    server_id = loaded_entry.unique_id
    for path in (
        f"/api/plex_bridge/image/{server_id}/status/sessions",
        f"/api/plex_bridge/image/{server_id}/library/metadata/999999/thumb/1",
        "/api/plex_bridge/image/unknown-server/library/metadata/1/thumb/1",
    ):
        response = await client.get(path)
        assert response.status == HTTPStatus.NOT_FOUND, path


async def test_library_change_updates_recently_added(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    """An item added on the server becomes the state once the cooldown has passed.

    ``freezer`` comes before the entry, so that the entry's timers run on frozen time.
    """
    received = loaded_entry.runtime_data.router.received
    item = plex_server.library.add_item(
        1, "A Brand New Film", year=2026, genres=["Drama"]
    )
    # Created, then processed: two timeline notifications; the refresh waits.
    await async_wait_for_notifications(loaded_entry, received + 2)
    await hass.async_block_till_done()
    state = hass.states.get(RECENTLY_ADDED)
    assert state is not None
    assert state.state != "A Brand New Film"

    freezer.tick(timedelta(seconds=LIBRARY_COOLDOWN + 1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    state = hass.states.get(RECENTLY_ADDED)
    assert state is not None
    assert state.state == "A Brand New Film"
    newest = state.attributes["data"][1]
    assert newest["title"] == "A Brand New Film"
    assert newest["genres"] == "Drama"
    assert newest["flag"] is True
    assert f"/library/metadata/{item.rating_key}/thumb" in newest["poster"]


def _a_track(plex_server: PlexEmulator) -> int:
    return next(
        item.rating_key
        for item in plex_server.library.items.values()
        if item.kind == "track"
    )


@pytest.mark.parametrize(
    ("quality", "label"),
    [
        (StreamQuality(video_resolution="1080", bitrate=8123), "1080p 8.1 Mbit/s"),
        (StreamQuality(video_resolution="4k", bitrate=40000), "4K 40.0 Mbit/s"),
        (StreamQuality(video_resolution="sd"), "SD"),
        (StreamQuality(bitrate=320), "320 kbit/s"),
        (StreamQuality(), None),
    ],
)
def test_quality_label(quality: StreamQuality, label: str | None) -> None:
    """Resolution and bitrate read as people say them."""
    assert quality_label(quality) == label


def test_titles_of_added_items() -> None:
    """Albums and seasons are named with their artist or show; tracks too."""
    album = MediaItem(
        rating_key="9", type="album", title="Night", parent_title="Daft Punk"
    )
    track = MediaItem(
        rating_key="10",
        type="track",
        title="One",
        parent_title="Night",
        grandparent_title="Daft Punk",
        grandparent_thumb="/library/metadata/8/thumb/1",
        duration=200_000,
    )
    assert item_title(album) == "Daft Punk - Night"
    assert item_title(track) == "Daft Punk - One"
    card = upcoming_media_item(track, lambda path: path or "")
    assert card["title"] == "Daft Punk"
    assert card["episode"] == "One"
    assert card["poster"] == "/library/metadata/8/thumb/1"
    assert card["runtime"] == 3
    assert card["airdate"] == ""
