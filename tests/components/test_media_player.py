"""The media players, through Home Assistant, against the emulated server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.media_player import (
    ATTR_MEDIA_CONTENT_ID,
    ATTR_MEDIA_CONTENT_TYPE,
    ATTR_MEDIA_SEARCH_QUERY,
    ATTR_MEDIA_SEEK_POSITION,
    ATTR_MEDIA_VOLUME_LEVEL,
    DOMAIN as MP_DOMAIN,
    SERVICE_PLAY_MEDIA,
    SERVICE_SEARCH_MEDIA,
    MediaPlayerEntityFeature,
    MediaPlayerState,
)
from homeassistant.components.media_player.browse_media import SearchMedia
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_SUPPORTED_FEATURES,
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    SERVICE_MEDIA_NEXT_TRACK,
    SERVICE_MEDIA_PAUSE,
    SERVICE_MEDIA_PLAY,
    SERVICE_MEDIA_PREVIOUS_TRACK,
    SERVICE_MEDIA_SEEK,
    SERVICE_MEDIA_STOP,
    SERVICE_VOLUME_SET,
    STATE_UNAVAILABLE,
)
from homeassistant.core import Event, HomeAssistant, State, callback
from homeassistant.exceptions import HomeAssistantError, ServiceNotSupported
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.plex_bridge.const import DOMAIN
from tests.plex_server import PlexEmulator
from tests.plex_server.players import Player

from .conftest import async_wait_for_state

LIVING_ROOM = "media_player.living_room_tv"
BEDROOM = "media_player.bedroom"
CHROME = "media_player.chrome"
KITCHEN = "media_player.kitchen"
LIVING_ROOM_ID = "1234567890123456-com-plexapp-android"


# -- helpers ---------------------------------------------------------------------------


def state_changes(hass: HomeAssistant, entity_id: str) -> list[State]:
    """A list that collects the entity's new states from now on."""
    states: list[State] = []

    @callback
    def async_changed(event: Event[Any]) -> None:
        if event.data["entity_id"] == entity_id and event.data["new_state"]:
            states.append(event.data["new_state"])

    hass.bus.async_listen(EVENT_STATE_CHANGED, async_changed)
    return states


async def call(hass: HomeAssistant, service: str, entity_id: str, **data: Any) -> None:
    """Call a media_player action and wait for it."""
    await hass.services.async_call(
        MP_DOMAIN, service, {ATTR_ENTITY_ID: entity_id, **data}, blocking=True
    )


# -- entities ---------------------------------------------------------------------------


async def test_one_player_per_client(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Every player of /clients has a media player, named by its device, idle."""
    for entity_id in (LIVING_ROOM, BEDROOM, CHROME, KITCHEN):
        state = hass.states.get(entity_id)
        assert state is not None, entity_id
        assert state.state == MediaPlayerState.IDLE
    entity = entity_registry.async_get(LIVING_ROOM)
    assert entity is not None
    assert entity.unique_id == f"{loaded_entry.unique_id}-{LIVING_ROOM_ID}"
    assert entity.translation_key == "player"
    (device,) = device_registry.async_get_devices(
        identifiers={(DOMAIN, LIVING_ROOM_ID)}, config_entry_id=loaded_entry.entry_id
    )
    assert device.name == "Living Room TV"
    assert device.model == "Plex for Android (TV)"


async def test_features_follow_control(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Controllable players get transport controls; Plex Web may only be browsed."""
    living_room = hass.states.get(LIVING_ROOM)
    chrome = hass.states.get(CHROME)
    assert living_room is not None
    assert chrome is not None
    features = MediaPlayerEntityFeature(living_room.attributes[ATTR_SUPPORTED_FEATURES])
    for feature in (
        MediaPlayerEntityFeature.PLAY,
        MediaPlayerEntityFeature.PAUSE,
        MediaPlayerEntityFeature.STOP,
        MediaPlayerEntityFeature.SEEK,
        MediaPlayerEntityFeature.NEXT_TRACK,
        MediaPlayerEntityFeature.PREVIOUS_TRACK,
        MediaPlayerEntityFeature.VOLUME_SET,
        MediaPlayerEntityFeature.PLAY_MEDIA,
        MediaPlayerEntityFeature.BROWSE_MEDIA,
        MediaPlayerEntityFeature.SEARCH_MEDIA,
    ):
        assert feature in features, feature
    assert (
        chrome.attributes[ATTR_SUPPORTED_FEATURES]
        == MediaPlayerEntityFeature.BROWSE_MEDIA
    )
    with pytest.raises(ServiceNotSupported):
        await call(hass, SERVICE_MEDIA_PAUSE, CHROME)


async def test_new_player_is_added(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A player first seen in a session gets its entity then; stopped, it is off."""
    living_room = plex_server.players.require("Living Room TV")
    plex_server.players.add(
        Player(
            **{
                **living_room.__dict__,
                "machine_identifier": "new-player-0001",
                "title": "Garage",
                "device_id": 0,
                "state": "stopped",
                "session_key": None,
            }
        )
    )
    session = plex_server.sessions.start_session(player="Garage", rating_key="1")
    state = await async_wait_for_state(
        hass, "media_player.garage", MediaPlayerState.PLAYING
    )
    assert state.attributes["media_title"] == "The Matrix"

    plex_server.sessions.stop_session(session)
    # Not in the last /clients read: the player is off, not unavailable.
    await async_wait_for_state(hass, "media_player.garage", MediaPlayerState.OFF)


async def test_idle_then_off_when_gone_from_clients(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A player that leaves /clients is off; one that returns is idle again."""
    player = plex_server.players.remove(LIVING_ROOM_ID)
    assert player is not None
    await loaded_entry.runtime_data.sessions.async_refresh()
    await hass.async_block_till_done()
    state = hass.states.get(LIVING_ROOM)
    assert state is not None
    assert state.state == MediaPlayerState.OFF
    assert "entity_picture" not in state.attributes

    plex_server.players.add(player)
    await loaded_entry.runtime_data.sessions.async_refresh()
    await hass.async_block_till_done()
    state = hass.states.get(LIVING_ROOM)
    assert state is not None
    assert state.state == MediaPlayerState.IDLE


async def test_unavailable_only_while_server_is_down(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Players go unavailable when the server stops answering, and come back."""
    faults = [
        plex_server.faults.add("/status/sessions", status=503),
        plex_server.faults.add("/clients", status=503),
        plex_server.faults.add("/:/websockets/notifications", ws_drop=True),
    ]
    await async_wait_for_state(hass, LIVING_ROOM, STATE_UNAVAILABLE)
    assert hass.states.get(CHROME).state == STATE_UNAVAILABLE  # type: ignore[union-attr]

    for fault in faults:
        plex_server.faults.remove(fault)
    loaded_entry.runtime_data.client.breaker.record_success()
    freezer.tick(timedelta(seconds=60))
    async_fire_time_changed(hass, dt_util.utcnow())
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.IDLE)


# -- what plays ---------------------------------------------------------------------------


async def test_session_reaches_home_assistant(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A session started on the server shows, then pause, resume and stop do."""
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1"
    )
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    assert state.attributes["media_title"] == "The Matrix"
    assert state.attributes["media_content_id"] == "1"
    assert state.attributes["media_content_type"] == "movie"
    assert state.attributes["library"] == "Movies"
    assert state.attributes["media_duration"] == 5885

    plex_server.sessions.pause(session)
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PAUSED)
    plex_server.sessions.buffer(session)
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.BUFFERING)
    plex_server.sessions.resume(session)
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    plex_server.sessions.stop_session(session)
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.IDLE)
    assert "media_title" not in state.attributes
    assert "library" not in state.attributes


SESSIONS: dict[str, tuple[str, Callable[[PlexEmulator], Any]]] = {
    "movie": (
        LIVING_ROOM,
        lambda emu: emu.sessions.start_session(
            player="Living Room TV", rating_key="1", transcode=True
        ),
    ),
    "episode": (
        BEDROOM,
        lambda emu: emu.sessions.start_session(player="Bedroom", rating_key="15"),
    ),
    "track": (
        KITCHEN,
        lambda emu: emu.sessions.start_session(player="Kitchen", rating_key="56"),
    ),
    "photo": (
        CHROME,
        lambda emu: emu.sessions.start_session(player="Chrome", rating_key="71"),
    ),
    "live_tv": (BEDROOM, lambda emu: emu.sessions.start_live_tv(player="Bedroom")),
    "preroll": (
        LIVING_ROOM,
        lambda emu: emu.sessions.start_clip(player="Living Room TV", clip="preroll"),
    ),
    "trailer": (
        LIVING_ROOM,
        lambda emu: emu.sessions.start_clip(player="Living Room TV", clip="trailer"),
    ),
    "unknown_library": (
        LIVING_ROOM,
        lambda emu: emu.sessions.start_unknown(player="Living Room TV"),
    ),
    "no_user": (
        BEDROOM,
        lambda emu: emu.sessions.start_session(
            player="Bedroom", rating_key="2", include_user=False
        ),
    ),
}


@pytest.mark.usefixtures("loaded_entry")
@pytest.mark.parametrize("kind", list(SESSIONS))
async def test_every_kind_of_session(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    freezer: FrozenDateTimeFactory,
    snapshot: SnapshotAssertion,
    kind: str,
) -> None:
    """Movies, episodes, tracks, photos, live TV, clips and strays all show sensibly."""
    freezer.move_to("2025-10-09T08:53:20+00:00")
    entity_id, start = SESSIONS[kind]
    start(plex_server)
    state = await async_wait_for_state(hass, entity_id, MediaPlayerState.PLAYING)
    assert state.attributes == snapshot(exclude=props("entity_picture"))
    picture = state.attributes.get("entity_picture")
    assert picture is None or plex_server.token not in picture


async def test_library_title_from_sections(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """Movies and episodes name their library (never "Unknown")."""
    plex_server.sessions.start_session(player="Bedroom", rating_key="15")
    plex_server.sessions.start_session(player="Kitchen", rating_key="56")
    bedroom = await async_wait_for_state(hass, BEDROOM, MediaPlayerState.PLAYING)
    kitchen = await async_wait_for_state(hass, KITCHEN, MediaPlayerState.PLAYING)
    assert bedroom.attributes["library"] == "TV Shows"
    assert bedroom.attributes["media_series_title"] == "Breaking Bad"
    assert bedroom.attributes["media_season"] == "1"
    assert bedroom.attributes["media_episode"] == "1"
    assert kitchen.attributes["library"] == "Music"
    assert kitchen.attributes["media_artist"] == "Radiohead"


@pytest.mark.parametrize("section_id", [None, 99])
async def test_item_of_no_known_library(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    section_id: int | None,
) -> None:
    """An item without a section, or of a section we do not know, names no library."""
    plex_server.sessions.start_unknown(
        player="Living Room TV", library_section_id=section_id
    )
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    assert state.attributes["media_title"].startswith("some_unknown_item")
    assert "library" not in state.attributes


# -- position ---------------------------------------------------------------------------


async def test_position_follows_seeks_without_progress_writes(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A seek moves media_position at once; normal progress writes no state."""
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1", view_offset=60_000
    )
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    assert state.attributes["media_position"] == 60
    started = state.attributes["media_position_updated_at"]
    changes = state_changes(hass, LIVING_ROOM)

    # Thirty seconds of normal playback: Plex reports progress, HA writes nothing.
    freezer.tick(timedelta(seconds=30))
    plex_server.sessions.advance(30)
    # A seek after that: its notification arrives after the progress ones.
    plex_server.sessions.seek(session, 1_200_000)
    state = await async_wait_for_state(
        hass, LIVING_ROOM, lambda s: s.attributes.get("media_position") == 1200
    )
    assert len(changes) == 1
    assert state.attributes["media_position_updated_at"] > started

    # Progress again, and a poll-style re-read of the sessions: still no writes.
    changes.clear()
    freezer.tick(timedelta(seconds=30))
    plex_server.sessions.advance(30)
    await loaded_entry.runtime_data.sessions.async_refresh()
    plex_server.sessions.pause(session)
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PAUSED)
    assert len(changes) == 1
    assert state.attributes["media_position"] == 1230

    # Paused, time passes and the sessions are read again: the position holds.
    freezer.tick(timedelta(seconds=30))
    await loaded_entry.runtime_data.sessions.async_refresh()
    await hass.async_block_till_done()
    assert len(changes) == 1


async def test_other_players_news_writes_no_state(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """One player's session changes write no state for the players it is not on.

    Home Assistant fires ``state_reported`` for a write that changes nothing, so
    the idle bedroom player's writes are counted while the living room plays,
    pauses, seeks and stops.
    """
    reported: list[str] = []

    @callback
    def async_reported(event: Event[Any]) -> None:
        reported.append(event.data["entity_id"])

    @callback
    def is_bedroom(data: Any) -> bool:
        return bool(data["entity_id"] == BEDROOM)

    hass.bus.async_listen(EVENT_STATE_REPORTED, async_reported, event_filter=is_bedroom)
    bedroom_changes = state_changes(hass, BEDROOM)
    living_room_changes = state_changes(hass, LIVING_ROOM)
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key="1", view_offset=60_000
    )
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    plex_server.sessions.pause(session)
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PAUSED)
    plex_server.sessions.seek(session, 1_200_000)
    await async_wait_for_state(
        hass, LIVING_ROOM, lambda s: s.attributes.get("media_position") == 1200
    )
    plex_server.sessions.stop_session(session)
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.IDLE)

    assert len(living_room_changes) == 4
    assert bedroom_changes == []
    assert reported == []


# -- artwork -------------------------------------------------------------------------------


async def test_artwork_through_the_proxy(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """entity_picture is HA's proxy (no Plex token), and it serves the server's PNG."""
    plex_server.sessions.start_session(player="Living Room TV", rating_key="1")
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    picture = state.attributes["entity_picture"]
    assert picture.startswith(f"/api/media_player_proxy/{LIVING_ROOM}?")
    assert plex_server.token not in picture
    assert "media_image_url" not in state.attributes

    client = await hass_client()
    response = await client.get(picture)
    assert response.status == 200
    assert (await response.read()).startswith(b"\x89PNG")


async def test_missing_artwork(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """A picture the server cannot give is a 404 from the proxy, not an error logged."""
    plex_server.sessions.start_session(player="Living Room TV", rating_key="1")
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    plex_server.faults.add("/library/metadata/*", status=404)
    client = await hass_client()
    response = await client.get(state.attributes["entity_picture"])
    assert response.status == 404
    # A player that plays nothing has no picture either.
    response = await client.get(f"/api/media_player_proxy/{BEDROOM}")
    assert response.status == 404


# -- control -------------------------------------------------------------------------------


async def test_transport_controls_reach_the_player(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """Pause, play, seek, volume, next, previous and stop reach the simulated player."""
    player = plex_server.players.require("Living Room TV")
    queue = plex_server.sessions.queues.create(
        [plex_server.library.find(key) for key in ("15", "16", "17")]  # type: ignore[misc]
    )
    session = plex_server.sessions.start_session(
        player=player, rating_key="15", play_queue=queue
    )
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)

    await call(hass, SERVICE_MEDIA_PAUSE, LIVING_ROOM)
    assert player.state == "paused"
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PAUSED)

    await call(hass, SERVICE_MEDIA_PLAY, LIVING_ROOM)
    assert player.state == "playing"
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)

    await call(hass, SERVICE_MEDIA_SEEK, LIVING_ROOM, **{ATTR_MEDIA_SEEK_POSITION: 300})
    assert plex_server.sessions.position(session) == 300_000
    await async_wait_for_state(
        hass, LIVING_ROOM, lambda s: s.attributes.get("media_position") == 300
    )

    await call(hass, SERVICE_VOLUME_SET, LIVING_ROOM, **{ATTR_MEDIA_VOLUME_LEVEL: 0.4})
    assert player.volume == 40
    state = hass.states.get(LIVING_ROOM)
    assert state is not None
    assert state.attributes["volume_level"] == 0.4

    await call(hass, SERVICE_MEDIA_NEXT_TRACK, LIVING_ROOM)
    await async_wait_for_state(
        hass, LIVING_ROOM, lambda s: s.attributes.get("media_content_id") == "16"
    )
    await call(hass, SERVICE_MEDIA_PREVIOUS_TRACK, LIVING_ROOM)
    await async_wait_for_state(
        hass, LIVING_ROOM, lambda s: s.attributes.get("media_content_id") == "15"
    )

    await call(hass, SERVICE_MEDIA_STOP, LIVING_ROOM)
    assert player.state == "stopped"
    await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.IDLE)

    sent = [
        (command.command, command.params.get("type"))
        for command in plex_server.players.commands
        if command.machine_identifier == LIVING_ROOM_ID
    ]
    assert sent == [
        ("playback/pause", "video"),
        ("playback/play", "video"),
        ("playback/seekTo", "video"),
        ("playback/setParameters", "video"),
        ("playback/skipNext", "video"),
        ("playback/skipPrevious", "video"),
        ("playback/stop", "video"),
    ]


async def test_music_commands_say_music(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A command to a player playing a track names the music type."""
    plex_server.sessions.start_session(player="Kitchen", rating_key="56")
    await async_wait_for_state(hass, KITCHEN, MediaPlayerState.PLAYING)
    await call(hass, SERVICE_MEDIA_PAUSE, KITCHEN)
    assert plex_server.players.commands[-1].params["type"] == "music"
    await async_wait_for_state(hass, KITCHEN, MediaPlayerState.PAUSED)


async def test_refused_command_raises(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A player that refuses a command (406) gives a translated error."""
    plex_server.sessions.start_session(player="Bedroom", rating_key="1")
    await async_wait_for_state(hass, BEDROOM, MediaPlayerState.PLAYING)
    plex_server.players.require("Bedroom").controllable = False
    with pytest.raises(HomeAssistantError) as raised:
        await call(hass, SERVICE_MEDIA_PAUSE, BEDROOM)
    assert raised.value.translation_key == "command_failed"
    assert raised.value.translation_placeholders == {
        "command": "pause",
        "player": "Bedroom",
        "error": "HTTP 406 from /player/playback/pause",
    }
    assert str(raised.value) == (
        "Bedroom did not carry out pause: HTTP 406 from /player/playback/pause"
    )


async def test_server_error_on_command_raises(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A server that fails a command gives the same translated error."""
    plex_server.faults.add("/player/playback/seekTo", status=500)
    with pytest.raises(HomeAssistantError) as raised:
        await call(
            hass, SERVICE_MEDIA_SEEK, LIVING_ROOM, **{ATTR_MEDIA_SEEK_POSITION: 5}
        )
    assert raised.value.translation_key == "command_failed"


# -- play_media ----------------------------------------------------------------------------


async def test_play_media_starts_a_session(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """play_media with a rating key starts that item on the simulated player."""
    await hass.services.async_call(
        MP_DOMAIN,
        SERVICE_PLAY_MEDIA,
        {
            ATTR_ENTITY_ID: LIVING_ROOM,
            ATTR_MEDIA_CONTENT_TYPE: "movie",
            ATTR_MEDIA_CONTENT_ID: "1",
        },
        blocking=True,
    )
    session = plex_server.sessions.for_player(
        plex_server.players.require("Living Room TV")
    )
    assert session is not None
    assert session.rating_key == "1"
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    assert state.attributes["media_title"] == "The Matrix"


async def test_play_media_refused(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A player that refuses playMedia gives the translated command error."""
    plex_server.players.require("Bedroom").controllable = False
    with pytest.raises(HomeAssistantError) as raised:
        await hass.services.async_call(
            MP_DOMAIN,
            SERVICE_PLAY_MEDIA,
            {
                ATTR_ENTITY_ID: BEDROOM,
                ATTR_MEDIA_CONTENT_TYPE: "movie",
                ATTR_MEDIA_CONTENT_ID: "1",
            },
            blocking=True,
        )
    assert raised.value.translation_key == "command_failed"


# -- browse and search ----------------------------------------------------------------------


async def test_browse_from_any_player(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
) -> None:
    """Players browse the libraries (Plex Web too); thumbnails come through the proxy."""
    websocket = await hass_ws_client(hass)
    await websocket.send_json_auto_id(
        {"type": "media_player/browse_media", ATTR_ENTITY_ID: CHROME}
    )
    response = await websocket.receive_json()
    assert response["success"], response
    titles = [child["title"] for child in response["result"]["children"]]
    assert "Movies" in titles

    movies = next(
        child for child in response["result"]["children"] if child["title"] == "Movies"
    )
    await websocket.send_json_auto_id(
        {
            "type": "media_player/browse_media",
            ATTR_ENTITY_ID: LIVING_ROOM,
            ATTR_MEDIA_CONTENT_TYPE: movies["media_content_type"],
            ATTR_MEDIA_CONTENT_ID: movies["media_content_id"],
        }
    )
    response = await websocket.receive_json()
    assert response["success"], response
    thumbnails = [
        child["thumbnail"]
        for child in response["result"]["children"]
        if child.get("thumbnail")
    ]
    assert thumbnails
    assert all(loaded_entry.data["token"] not in url for url in thumbnails)
    client = await hass_client()
    image = await client.get(thumbnails[0])
    assert image.status == 200
    assert (await image.read()).startswith(b"\x89PNG")


async def test_search_then_play(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """Search finds an item, and playing the result starts it (voice "play X on Y")."""
    response = await hass.services.async_call(
        MP_DOMAIN,
        SERVICE_SEARCH_MEDIA,
        {ATTR_ENTITY_ID: LIVING_ROOM, ATTR_MEDIA_SEARCH_QUERY: "The Matrix"},
        blocking=True,
        return_response=True,
    )
    found = response[LIVING_ROOM]
    assert isinstance(found, SearchMedia)
    assert found.result
    best = found.result[0]
    assert best.title.startswith("The Matrix")

    await call(
        hass,
        SERVICE_PLAY_MEDIA,
        LIVING_ROOM,
        **{
            ATTR_MEDIA_CONTENT_TYPE: best.media_content_type,
            ATTR_MEDIA_CONTENT_ID: best.media_content_id,
        },
    )
    state = await async_wait_for_state(hass, LIVING_ROOM, MediaPlayerState.PLAYING)
    assert state.attributes["media_title"].startswith("The Matrix")
