"""The services of Plex Bridge, called through Home Assistant, against the emulator.

Each call is checked by what the server saw or did: a scan was asked for, an item's
watch state changed, a session is gone, a player received ``setStreams``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.plex_bridge.const import DOMAIN
from tests.plex_server import PlexEmulator

from .conftest import wait_for_coordinator

PLAYER = "Living Room TV"
PLAYER_ID = "1234567890123456-com-plexapp-android"
PLAYER_ENTITY = "media_player.living_room_tv"
WEB_PLAYER = "Chrome"
MATRIX = "1"


async def call(
    hass: HomeAssistant, service: str, data: dict[str, Any], *, response: bool = False
) -> Any:
    """Call one of our services and wait for it."""
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response
    )


async def invalid(
    hass: HomeAssistant, service: str, data: dict[str, Any], *, response: bool = False
) -> ServiceValidationError:
    """Call a service that must refuse the input; the error."""
    with pytest.raises(ServiceValidationError) as caught:
        await call(hass, service, data, response=response)
    assert caught.value.translation_domain == DOMAIN
    return caught.value


async def play(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    entry: MockConfigEntry,
    *,
    player: str = PLAYER,
    rating_key: str = MATRIX,
    **kwargs: Any,
) -> Any:
    """Start a session in the emulator and wait until Home Assistant knows it."""
    session = plex_server.sessions.start_session(
        player=player, rating_key=rating_key, **kwargs
    )
    coordinator = entry.runtime_data.sessions
    await wait_for_coordinator(
        coordinator, lambda: session.session_key in coordinator.data.sessions
    )
    await hass.async_block_till_done()
    return session


# -- refresh_library ----------------------------------------------------------------


@pytest.mark.parametrize("library", ["Movies", "movies", "1"])
async def test_refresh_library(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    library: str,
) -> None:
    await call(
        hass,
        "refresh_library",
        {"config_entry_id": loaded_entry.entry_id, "library": library},
    )
    assert plex_server.faults.count("/library/sections/1/refresh") == 1


async def test_refresh_unknown_library(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    err = await invalid(hass, "refresh_library", {"library": "Cartoons"})
    assert err.translation_key == "unknown_library"
    assert err.translation_placeholders["library"] == "Cartoons"
    assert "Movies" in err.translation_placeholders["libraries"]
    assert plex_server.faults.count("/library/sections/{id}/refresh") == 0


async def test_server_failure_is_a_home_assistant_error(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    plex_server.faults.add("/library/sections/{id}/refresh", status=500)
    with pytest.raises(HomeAssistantError) as caught:
        await call(hass, "refresh_library", {"library": "Movies"})
    assert not isinstance(caught.value, ServiceValidationError)
    assert caught.value.translation_key == "server_error"
    assert "500" in caught.value.translation_placeholders["error"]


# -- choosing the server --------------------------------------------------------------


async def test_unknown_server(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    err = await invalid(
        hass, "refresh_library", {"config_entry_id": "nope", "library": "Movies"}
    )
    assert err.translation_key == "unknown_server"


async def test_server_not_loaded(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    err = await invalid(
        hass,
        "refresh_library",
        {"config_entry_id": loaded_entry.entry_id, "library": "Movies"},
    )
    assert err.translation_key == "server_not_loaded"
    # Without an entry id there is no loaded server to fall back on.
    err = await invalid(hass, "refresh_library", {"library": "Movies"})
    assert err.translation_key == "server_required"


async def test_two_servers_need_a_choice(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    second = MockConfigEntry(
        domain=DOMAIN,
        unique_id="second-server",
        data={
            CONF_URL: plex_server.url,
            CONF_TOKEN: plex_server.token,
            CONF_VERIFY_SSL: True,
        },
    )
    second.add_to_hass(hass)
    second.mock_state(hass, ConfigEntryState.LOADED)
    err = await invalid(hass, "refresh_library", {"library": "Movies"})
    assert err.translation_key == "server_required"
    second.mock_state(hass, ConfigEntryState.NOT_LOADED)


# -- mark_watched / mark_unwatched ------------------------------------------------------


async def test_mark_unwatched_then_watched(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    matrix = plex_server.library.find(MATRIX)
    assert matrix is not None
    assert matrix.view_count > 0

    await call(hass, "mark_unwatched", {"rating_key": MATRIX})
    assert matrix.view_count == 0

    server = loaded_entry.runtime_data.server.machine_identifier
    await call(
        hass, "mark_watched", {"media_content_id": f"plex_bridge://{server}/{MATRIX}"}
    )
    assert matrix.view_count == 1


async def test_mark_watched_a_show_marks_its_episodes(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    show = next(
        item for item in plex_server.library.items.values() if item.kind == "show"
    )
    await call(hass, "mark_watched", {"rating_key": str(show.rating_key)})
    episodes = plex_server.library.leaves(show)
    assert episodes
    assert all(episode.view_count > 0 for episode in episodes)


async def test_mark_watched_unknown_item(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    err = await invalid(hass, "mark_watched", {"rating_key": "999999"})
    assert err.translation_key == "unknown_item"
    assert err.translation_placeholders == {"rating_key": "999999"}
    assert plex_server.faults.count("/:/scrobble") == 0


@pytest.mark.parametrize(
    "content_id",
    ["plex_bridge://another-server/1", "media-source://plex/1", "plex_bridge://"],
)
async def test_mark_watched_foreign_content_id(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    content_id: str,
) -> None:
    err = await invalid(hass, "mark_watched", {"media_content_id": content_id})
    assert err.translation_key == "invalid_media_content_id"


async def test_mark_watched_needs_an_item(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    # The schema refuses it before the service runs (no translation of ours).
    with pytest.raises(Exception, match="rating_key"):
        await call(hass, "mark_watched", {})


# -- terminate_session ----------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["player_entity", "player_name", "player_id", "session_key", "session_id"],
)
async def test_terminate_session(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    target: str,
) -> None:
    session = await play(hass, plex_server, loaded_entry)
    data: dict[str, Any] = {
        "player_entity": {"player": PLAYER_ENTITY},
        "player_name": {"player": PLAYER.lower()},
        "player_id": {"player": PLAYER_ID},
        "session_key": {"session_key": session.session_key},
        "session_id": {"session_id": session.id},
    }[target]
    await call(hass, "terminate_session", {**data, "message": "Bedtime"})

    assert plex_server.sessions.get(session.session_key) is None
    assert session.player.termination_reason == "Bedtime"
    coordinator = loaded_entry.runtime_data.sessions
    await wait_for_coordinator(coordinator, lambda: not coordinator.data.sessions)


async def test_terminate_default_message(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    session = await play(hass, plex_server, loaded_entry)
    await call(hass, "terminate_session", {"player": PLAYER})
    assert session.player.termination_reason
    assert plex_server.sessions.sessions == []


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"session_key": "77"}, "unknown_session"),
        ({"session_id": "no-such-session"}, "unknown_session"),
        ({"player": "Bedroom"}, "unknown_session"),
        ({"player": "Garage"}, "unknown_player"),
        ({"player": "media_player.not_ours"}, "unknown_player"),
    ],
)
async def test_terminate_nothing_to_stop(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    session = await play(hass, plex_server, loaded_entry)
    err = await invalid(hass, "terminate_session", data)
    assert err.translation_key == key
    assert plex_server.sessions.get(session.session_key) is session
    assert plex_server.faults.count("/status/sessions/terminate") == 0


# -- history --------------------------------------------------------------------------


async def watch_to_the_end(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    entry: MockConfigEntry,
    *,
    player: str,
    rating_key: str,
    user: str | None = None,
) -> None:
    """Play an item nearly to its end and stop: the server records a view."""
    item = plex_server.library.find(rating_key)
    assert item is not None
    session = await play(
        hass,
        plex_server,
        entry,
        player=player,
        rating_key=rating_key,
        user=user,
        view_offset=item.duration - 1000,
    )
    plex_server.sessions.stop_session(session)
    coordinator = entry.runtime_data.sessions
    await wait_for_coordinator(coordinator, lambda: not coordinator.data.sessions)


@pytest.fixture
async def plays(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """Three recorded plays: two by the owner, one by Sam on another player."""
    episode = next(
        item for item in plex_server.library.items.values() if item.kind == "episode"
    )
    await watch_to_the_end(
        hass, plex_server, loaded_entry, player=PLAYER, rating_key=MATRIX
    )
    plex_server.clock.advance(60)
    await watch_to_the_end(
        hass,
        plex_server,
        loaded_entry,
        player="Bedroom",
        rating_key=str(episode.rating_key),
        user="Sam",
    )
    plex_server.clock.advance(60)
    await watch_to_the_end(
        hass, plex_server, loaded_entry, player=PLAYER, rating_key="2"
    )


async def test_history(
    hass: HomeAssistant, plex_server: PlexEmulator, plays: None
) -> None:
    response = await call(hass, "history", {}, response=True)
    history = response["plays"]
    assert [play["rating_key"] for play in history[::2]] == ["2", MATRIX]
    matrix = history[2]
    assert matrix == {
        "title": "The Matrix",
        "full_title": "The Matrix",
        "type": "movie",
        "viewed_at": matrix["viewed_at"],
        "user": "plexbridge",
        "player": PLAYER,
        "rating_key": MATRIX,
    }
    assert matrix["viewed_at"].startswith("2025-10-09T")
    episode = history[1]
    assert episode["type"] == "episode"
    assert episode["user"] == "Sam"
    assert episode["player"] == "Bedroom"
    assert episode["full_title"].endswith(f" - {episode['title']}")
    assert episode["full_title"] != episode["title"]


async def test_history_filters(
    hass: HomeAssistant, plex_server: PlexEmulator, plays: None
) -> None:
    by_user = await call(hass, "history", {"user": "sam"}, response=True)
    assert [play["user"] for play in by_user["plays"]] == ["Sam"]
    by_id = await call(hass, "history", {"user": "1000"}, response=True)
    assert by_id == by_user
    by_player = await call(hass, "history", {"player": PLAYER_ENTITY}, response=True)
    assert [play["rating_key"] for play in by_player["plays"]] == ["2", MATRIX]
    by_name = await call(hass, "history", {"player": "Bedroom"}, response=True)
    assert [play["player"] for play in by_name["plays"]] == ["Bedroom"]
    limited = await call(hass, "history", {"limit": 1}, response=True)
    assert [play["rating_key"] for play in limited["plays"]] == ["2"]


@pytest.mark.parametrize(
    ("data", "key"),
    [({"user": "Nobody"}, "unknown_user"), ({"player": "Garage"}, "unknown_player")],
)
async def test_history_unknown_filter(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    err = await invalid(hass, "history", data, response=True)
    assert err.translation_key == key


async def test_history_limit_is_bounded(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(Exception, match="limit"):
        await call(hass, "history", {"limit": 0}, response=True)


# -- set_streams ----------------------------------------------------------------------


def stream_commands(plex_server: PlexEmulator) -> list[dict[str, str]]:
    """The parameters of every ``setStreams`` the players received."""
    return [
        command.params
        for command in plex_server.players.commands
        if command.command == "playback/setStreams"
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"audio_language": "English"}, {"audioStreamID": "11"}),
        ({"subtitle_language": "es"}, {"subtitleStreamID": "13"}),
        ({"subtitle_language": "spa"}, {"subtitleStreamID": "13"}),
        ({"subtitle_language": "off"}, {"subtitleStreamID": "0"}),
        (
            {"audio_stream_id": 11, "subtitle_stream_id": 0},
            {"audioStreamID": "11", "subtitleStreamID": "0"},
        ),
        (
            {"audio_language": "eng", "subtitle_language": "en"},
            {"audioStreamID": "11", "subtitleStreamID": "12"},
        ),
    ],
)
async def test_set_streams(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    data: dict[str, Any],
    expected: dict[str, str],
) -> None:
    await play(hass, plex_server, loaded_entry)
    await call(hass, "set_streams", {"player": PLAYER_ENTITY, **data})
    [params] = stream_commands(plex_server)
    assert {key: params[key] for key in expected} == expected
    assert params["type"] == "video"
    assert not {"audioStreamID", "subtitleStreamID"} - expected.keys() & params.keys()
    [command] = [
        c for c in plex_server.players.commands if c.command == "playback/setStreams"
    ]
    assert command.machine_identifier == PLAYER_ID
    assert command.accepted


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"player": PLAYER, "audio_language": "Klingon"}, "no_stream_in_language"),
        ({"player": PLAYER, "subtitle_language": "fr"}, "no_stream_in_language"),
        ({"player": "Bedroom", "audio_language": "en"}, "nothing_playing"),
        ({"player": WEB_PLAYER, "audio_language": "en"}, "player_not_controllable"),
        ({"player": "Garage", "audio_language": "en"}, "unknown_player"),
    ],
)
async def test_set_streams_refused(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    data: dict[str, Any],
    key: str,
) -> None:
    await play(hass, plex_server, loaded_entry)
    await play(hass, plex_server, loaded_entry, player=WEB_PLAYER)
    err = await invalid(hass, "set_streams", data)
    assert err.translation_key == key
    assert stream_commands(plex_server) == []


async def test_set_streams_no_such_language_lists_what_there_is(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    await play(hass, plex_server, loaded_entry)
    err = await invalid(
        hass, "set_streams", {"player": PLAYER, "subtitle_language": "fr"}
    )
    assert err.translation_placeholders == {
        "kind": "subtitle",
        "language": "fr",
        "languages": "English, Spanish",
    }


async def test_set_streams_needs_a_choice(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(Exception, match="audio_language"):
        await call(hass, "set_streams", {"player": PLAYER})


async def test_set_streams_player_refuses(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    await play(hass, plex_server, loaded_entry)
    plex_server.faults.add("/player/playback/setStreams", status=500)
    with pytest.raises(HomeAssistantError) as caught:
        await call(hass, "set_streams", {"player": PLAYER, "audio_stream_id": 11})
    assert caught.value.translation_key == "server_error"


# -- recently_added / on_deck ---------------------------------------------------------


async def test_recently_added(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    response = await call(hass, "recently_added", {"limit": 3}, response=True)
    items = response["items"]
    assert len(items) == 3
    assert set(items[0]) == {
        "title",
        "full_title",
        "type",
        "rating_key",
        "year",
        "library",
        "added_at",
        "viewed",
    }
    added = [item["added_at"] for item in items]
    assert added == sorted(added, reverse=True)

    movies = await call(
        hass, "recently_added", {"library": "Movies", "limit": 5}, response=True
    )
    assert movies["items"]
    assert {item["type"] for item in movies["items"]} == {"movie"}
    assert {item["library"] for item in movies["items"]} == {"Movies"}
    assert plex_server.faults.count("/library/sections/1/recentlyAdded") == 1


async def test_on_deck(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    response = await call(hass, "on_deck", {}, response=True)
    items = response["items"]
    # The Matrix is in progress again in every preset.
    assert MATRIX in [item["rating_key"] for item in items]
    shows = await call(hass, "on_deck", {"library": "TV Shows"}, response=True)
    assert {item["type"] for item in shows["items"]} <= {"episode"}
    assert plex_server.faults.count("/library/sections/2/onDeck") == 1


async def test_library_lists_unknown_library(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    for service in ("recently_added", "on_deck"):
        err = await invalid(hass, service, {"library": "Cartoons"}, response=True)
        assert err.translation_key == "unknown_library"


async def test_response_services_need_a_response(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError):
        await call(hass, "on_deck", {})


async def test_history_of_a_track_names_the_artist(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    track = next(
        item for item in plex_server.library.items.values() if item.kind == "track"
    )
    await watch_to_the_end(
        hass,
        plex_server,
        loaded_entry,
        player="Kitchen",
        rating_key=str(track.rating_key),
    )
    response = await call(hass, "history", {"player": "Kitchen"}, response=True)
    [entry] = response["plays"]
    assert entry["type"] == "track"
    assert entry["full_title"] == f"{track.parent.parent.title} - {track.title}"


# -- sync ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode", ["fast", "", "incremental full", 1, True, None, ["full"], {"mode": "full"}]
)
async def test_sync_bad_mode_is_translated(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mode: Any
) -> None:
    """A bad ``mode`` gets our translated error (not the schema's), and syncs nothing."""
    mirror = loaded_entry.runtime_data.mirror
    assert mirror is not None
    before = (await mirror.async_counts(), mirror.last_result)
    err = await invalid(hass, "sync", {"mode": mode}, response=True)
    assert err.translation_key == "invalid_sync_mode"
    assert err.translation_placeholders == {
        "mode": str(mode),
        "modes": "incremental, full",
    }
    assert (await mirror.async_counts(), mirror.last_result) == before


async def test_sync_mode_ignores_case_and_spaces(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    response = await call(hass, "sync", {"mode": " Full "}, response=True)
    assert response["kind"] == "full"


def test_services_are_described(hass: HomeAssistant) -> None:
    """``services.yaml`` describes every registered service (HA's YAML loader)."""
    path = Path(__file__).parents[2] / "custom_components" / DOMAIN / "services.yaml"
    # Keys with a leading dot hold YAML anchors only, as Home Assistant reads them.
    descriptions = {
        key: value
        for key, value in load_yaml_dict(str(path)).items()
        if not key.startswith(".")
    }
    assert set(descriptions) == {
        "refresh_library",
        "mark_watched",
        "mark_unwatched",
        "terminate_session",
        "history",
        "set_streams",
        "recently_added",
        "on_deck",
        "sync",
        "search",
    }
    assert descriptions["set_streams"]["fields"]["player"]["required"] is True
    assert descriptions["history"]["fields"]["config_entry_id"]["selector"] == {
        "config_entry": {"integration": DOMAIN}
    }
