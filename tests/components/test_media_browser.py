"""Browsing, searching and ``play_media`` resolution, through Home Assistant.

The media player of "Living Room TV" browses (websocket ``media_player/browse_media``
and the ``browse_media`` action), searches (``search_media``) and plays
(``play_media``) against the emulated server; what was played is read from the
emulator's record of the commands its players received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPStatus
import json
from typing import Any

from homeassistant.components.media_player import (
    ATTR_MEDIA_CONTENT_ID,
    ATTR_MEDIA_CONTENT_TYPE,
    DOMAIN as MP_DOMAIN,
    SERVICE_BROWSE_MEDIA,
    SERVICE_PLAY_MEDIA,
    SERVICE_SEARCH_MEDIA,
)
from homeassistant.components.media_player.browse_media import BrowseMedia
from homeassistant.components.media_player.const import MediaClass
from homeassistant.const import ATTR_ENTITY_ID, CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.plex_bridge import media_browser
from custom_components.plex_bridge.const import DOMAIN
from custom_components.plex_bridge.media_browser import (
    load_payload,
    media_id,
    normalize_title,
    parse_media_id,
)
from tests.plex_server import Clock, PlexEmulator

from .conftest import wait_for_coordinator

ENTITY = "media_player.living_room_tv"
PLAYER_ID = "1234567890123456-com-plexapp-android"


# -- helpers --------------------------------------------------------------------------


async def browse(
    hass_ws_client: WebSocketGenerator,
    hass: HomeAssistant,
    content_type: str | None = None,
    content_id: str | None = None,
) -> dict[str, Any]:
    """One ``media_player/browse_media`` websocket call; the node it answers."""
    client = await hass_ws_client(hass)
    message: dict[str, Any] = {"type": "media_player/browse_media", "entity_id": ENTITY}
    if content_id is not None:
        message["media_content_type"] = content_type or ""
        message["media_content_id"] = content_id
    await client.send_json_auto_id(message)
    answer = await client.receive_json()
    assert answer["success"], answer
    result: dict[str, Any] = answer["result"]
    return result


def child(node: dict[str, Any], title: str) -> dict[str, Any]:
    """The child of a node with a title."""
    return next(entry for entry in node["children"] if entry["title"] == title)


async def play(
    hass: HomeAssistant, content_id: str, content_type: str = "movie"
) -> None:
    await hass.services.async_call(
        MP_DOMAIN,
        SERVICE_PLAY_MEDIA,
        {
            ATTR_ENTITY_ID: ENTITY,
            ATTR_MEDIA_CONTENT_TYPE: content_type,
            ATTR_MEDIA_CONTENT_ID: content_id,
        },
        blocking=True,
    )


def last_play(plex_server: PlexEmulator) -> dict[str, str]:
    """The parameters of the last ``playMedia`` the player received."""
    command = plex_server.players.commands[-1]
    assert command.machine_identifier == PLAYER_ID
    assert command.command == "playback/playMedia"
    return command.params


def played_queue_shuffled(plex_server: PlexEmulator) -> bool:
    container = last_play(plex_server)["containerKey"]
    queue_id = container.removeprefix("/playQueues/").split("?")[0]
    queue = plex_server.sessions.queues.get(queue_id)
    assert queue is not None
    return queue.shuffled


def key_of(plex_server: PlexEmulator, section: str, *titles: str) -> str:
    """The rating key of the item at a path of titles in a library."""
    library = plex_server.library
    found = next(s for s in library.visible_sections() if s.title == section)
    items = list(found.top_level())
    item = None
    for title in titles:
        item = next(entry for entry in items if entry.title == title)
        items = list(item.children or [])
    assert item is not None
    return str(item.rating_key)


def playlist_key(plex_server: PlexEmulator, title: str) -> str:
    return str(
        next(
            p.rating_key
            for p in plex_server.library.playlists.values()
            if p.title == title
        )
    )


# -- ids and payloads (no server) -----------------------------------------------------


def test_media_ids_round_trip() -> None:
    text = media_id("abc", "section", "1", "letter", "#", resume="1")
    assert text == "plex_bridge://abc/section/1/letter/%23?resume=1"
    parsed = parse_media_id(text)
    assert parsed is not None
    assert parsed.server == "abc"
    assert parsed.parts == ("section", "1", "letter", "#")
    assert parsed.query == {"resume": "1"}
    assert parse_media_id("plex_bridge://abc") == media_browser.MediaId("abc", ())
    assert parse_media_id("plex_bridge:///item/1") is None
    assert parse_media_id("plex://abc/1") is None


def test_titles_compare_without_case_accents_or_spacing() -> None:
    assert normalize_title("  Amélie ") == normalize_title("AMELIE")
    assert normalize_title("Spirited  Away") == "spirited away"


def test_core_names_are_accepted_and_ours_win() -> None:
    payload = load_payload(
        json.dumps(
            {
                "library_name": "TV Shows",
                "show_name": "Breaking Bad",
                "show": "The Wire",
                "season_number": 2,
                "episode_name": "Pilot",
                "plex_server": "ignored",
            }
        )
    )
    assert payload == {
        "library": "TV Shows",
        "show": "The Wire",
        "season": 2,
        "episode": "Pilot",
    }


# -- browsing -------------------------------------------------------------------------


async def test_root_lists_the_server(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    root = await browse(hass_ws_client, hass)
    server = plex_server.machine_identifier
    assert root["title"] == plex_server.name
    assert root["media_content_id"] == f"plex_bridge://{server}"
    assert root["can_search"] is True
    assert [(c["title"], c["media_content_id"]) for c in root["children"]] == [
        ("On Deck", f"plex_bridge://{server}/on_deck"),
        ("Recently Added", f"plex_bridge://{server}/recently_added"),
        ("Movies", f"plex_bridge://{server}/section/1"),
        ("TV Shows", f"plex_bridge://{server}/section/2"),
        ("Music", f"plex_bridge://{server}/section/3"),
        ("Photos", f"plex_bridge://{server}/section/4"),
        ("Playlists", f"plex_bridge://{server}/playlists"),
        ("Search", f"plex_bridge://{server}/search"),
    ]
    assert not any(c["can_play"] for c in root["children"])
    # The same node by its own id.
    again = await browse(hass_ws_client, hass, "server", root["media_content_id"])
    assert again["children"] == root["children"]


async def test_small_library_lists_its_titles(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    root = await browse(hass_ws_client, hass)
    movies = child(root, "Movies")
    node = await browse(
        hass_ws_client, hass, movies["media_content_type"], movies["media_content_id"]
    )
    titles = [c["title"] for c in node["children"]]
    assert titles[0] == "Collections"
    assert len(titles) == 13
    assert titles[1:4] == [
        "Back to the Future",
        "Back to the Future Part II",
        "Back to the Future Part III",
    ]
    matrix = child(node, "The Matrix")
    assert matrix["media_class"] == MediaClass.MOVIE
    assert matrix["media_content_type"] == "movie"
    assert matrix["can_play"] is True
    assert matrix["can_expand"] is False
    assert matrix["media_content_id"].endswith("/item/1")
    assert node["children_media_class"] == MediaClass.MOVIE

    collections = await browse(
        hass_ws_client, hass, "collections", node["children"][0]["media_content_id"]
    )
    trilogy = child(collections, "The Matrix Collection")
    assert trilogy["can_play"] is False
    assert trilogy["can_expand"] is True
    members = await browse(
        hass_ws_client, hass, "collection", trilogy["media_content_id"]
    )
    assert [c["title"] for c in members["children"]] == [
        "The Matrix",
        "The Matrix Reloaded",
        "The Matrix Revolutions",
    ]


async def test_show_seasons_episodes(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    shows = await browse(
        hass_ws_client,
        hass,
        "library",
        media_id(plex_server.machine_identifier, "section", "2"),
    )
    assert [c["title"] for c in shows["children"]] == [
        "Collections",
        "Breaking Bad",
        "The Office",
        "The Wire",
    ]
    show = child(shows, "Breaking Bad")
    assert show["media_class"] == MediaClass.TV_SHOW
    assert show["can_expand"] and show["can_play"]
    seasons = await browse(hass_ws_client, hass, "show", show["media_content_id"])
    assert [c["title"] for c in seasons["children"]] == [
        "Season 1",
        "Season 2",
        "Season 3",
    ]
    assert {c["media_class"] for c in seasons["children"]} == {MediaClass.SEASON}
    season = await browse(
        hass_ws_client, hass, "season", seasons["children"][1]["media_content_id"]
    )
    episodes = season["children"]
    assert episodes[0]["title"] == "1. The Bright Lantern"
    assert episodes[0]["media_class"] == MediaClass.EPISODE
    assert episodes[0]["can_play"] and not episodes[0]["can_expand"]
    episode = await browse(
        hass_ws_client, hass, "episode", episodes[0]["media_content_id"]
    )
    assert episode["title"] == "Breaking Bad - S02E01 - The Bright Lantern"
    assert episode["children"] == []


async def test_artist_albums_tracks(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    music = await browse(
        hass_ws_client,
        hass,
        "library",
        media_id(plex_server.machine_identifier, "section", "3"),
    )
    assert music["children_media_class"] == MediaClass.ARTIST
    artist = child(music, "Daft Punk")
    assert artist["media_class"] == MediaClass.ARTIST
    albums = await browse(hass_ws_client, hass, "artist", artist["media_content_id"])
    assert [c["media_class"] for c in albums["children"]] == [MediaClass.ALBUM] * 2
    album = albums["children"][1]
    assert album["title"].startswith("Night")
    tracks = await browse(hass_ws_client, hass, "album", album["media_content_id"])
    assert [c["title"] for c in tracks["children"]][:3] == [
        "1. The Sudden Ocean",
        "2. Oslo Echo",
        "3. Frozen Signal 2",
    ]
    assert {c["media_class"] for c in tracks["children"]} == {MediaClass.TRACK}


async def test_playlists_on_deck_recently_added(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    server = plex_server.machine_identifier
    playlists = await browse(
        hass_ws_client, hass, "playlists", media_id(server, "playlists")
    )
    assert [c["title"] for c in playlists["children"]] == [
        "Binge List",
        "Focus",
        "Movie Night",
        "Road Trip",
    ]
    road_trip = child(playlists, "Road Trip")
    assert road_trip["media_class"] == MediaClass.PLAYLIST
    assert road_trip["can_play"] and road_trip["can_expand"]
    assert "/playlist/" in road_trip["media_content_id"]
    items = await browse(
        hass_ws_client, hass, "playlist", road_trip["media_content_id"]
    )
    assert len(items["children"]) == 10
    assert {c["media_class"] for c in items["children"]} == {MediaClass.TRACK}

    on_deck = await browse(hass_ws_client, hass, "on_deck", media_id(server, "on_deck"))
    assert on_deck["children"]
    in_progress = [
        c for c in on_deck["children"] if c["media_content_id"].endswith("?resume=1")
    ]
    assert in_progress, "items with a saved position resume"

    recent = await browse(
        hass_ws_client, hass, "recently_added", media_id(server, "recently_added")
    )
    assert recent["children"]
    assert all(c["can_play"] for c in recent["children"])


async def test_browse_media_action(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    response = await hass.services.async_call(
        MP_DOMAIN,
        SERVICE_BROWSE_MEDIA,
        {
            ATTR_ENTITY_ID: ENTITY,
            ATTR_MEDIA_CONTENT_TYPE: "library",
            ATTR_MEDIA_CONTENT_ID: media_id(
                plex_server.machine_identifier, "section", "1"
            ),
        },
        blocking=True,
        return_response=True,
    )
    node = response[ENTITY]
    assert isinstance(node, BrowseMedia)
    assert node.title == "Movies"
    assert "The Matrix" in [c.title for c in node.children or []]


async def test_browse_unknown_ids(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    server = plex_server.machine_identifier
    client = await hass_ws_client(hass)
    for content_id in (
        media_id(server, "item", "99999"),
        media_id(server, "section", "99"),
        media_id(server, "section", "1", "letter", "?"),
        media_id(server, "nothing"),
        media_id("another-server", "item", "1"),
        "https://example.com/",
    ):
        await client.send_json_auto_id(
            {
                "type": "media_player/browse_media",
                "entity_id": ENTITY,
                "media_content_type": "movie",
                "media_content_id": content_id,
            }
        )
        answer = await client.receive_json()
        assert not answer["success"], content_id
        assert content_id in answer["error"]["message"]


async def test_thumbnails_are_proxied_and_never_carry_the_token(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    server = plex_server.machine_identifier
    node = await browse(
        hass_ws_client, hass, "library", media_id(server, "section", "1")
    )
    assert plex_server.token not in json.dumps(node)
    thumbnail = child(node, "The Matrix")["thumbnail"]
    assert thumbnail.startswith(f"/api/media_player_proxy/{ENTITY}/browse_media/movie/")
    assert plex_server.url not in thumbnail

    client = await hass_client()
    answer = await client.get(thumbnail)
    assert answer.status == HTTPStatus.OK
    assert answer.content_type == "image/png"
    assert (await answer.read()).startswith(b"\x89PNG")

    # Only the server's own image paths are fetched through the proxy.
    entity = hass.data["media_player"].get_entity(ENTITY)
    for path in (
        "/accounts",
        "/library/metadata/1/thumb?x=1",
        "http://example.com/a.png",
    ):
        url = entity.get_browse_image_url("movie", media_id(server, "item", "1"), path)
        assert (await client.get(url)).status == HTTPStatus.NOT_FOUND
    # Without an image id, the item's own picture.
    url = entity.get_browse_image_url("movie", media_id(server, "item", "1"))
    assert (await client.get(url)).status == HTTPStatus.OK
    url = entity.get_browse_image_url("library", media_id(server, "section", "1"))
    assert (await client.get(url)).status == HTTPStatus.NOT_FOUND


# -- large libraries ------------------------------------------------------------------


@pytest.fixture
async def demo_entry(
    hass: HomeAssistant, socket_enabled: None, emulator_clock: Clock
) -> AsyncIterator[tuple[PlexEmulator, MockConfigEntry]]:
    """The ``demo`` world (250 movies: more than a small library) set up."""
    emu = PlexEmulator(library="demo", clock=emulator_clock)
    await emu.start()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=emu.name,
        unique_id=emu.machine_identifier,
        data={CONF_URL: emu.url, CONF_TOKEN: emu.token, CONF_VERIFY_SSL: True},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    sessions = entry.runtime_data.sessions
    await wait_for_coordinator(sessions, lambda: sessions.push_connected)
    yield emu, entry
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await emu.stop()


def first_character(emu: PlexEmulator, rating_key: str) -> str:
    first = emu.library.get(rating_key).sort_key[:1].upper()
    return first if first.isalpha() else "#"


def rating_key(node: dict[str, Any]) -> str:
    parsed = parse_media_id(node["media_content_id"])
    assert parsed is not None
    assert parsed.parts[0] == "item"
    return parsed.parts[1]


async def walk(
    hass_ws_client: WebSocketGenerator, hass: HomeAssistant, node: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every playable item under a folder, checking that no node is too long."""
    assert len(node["children"]) <= media_browser.PAGE_SIZE, node["title"]
    found = []
    for entry in node["children"]:
        if entry["can_play"]:
            found.append(entry)
        else:
            below = await browse(
                hass_ws_client,
                hass,
                entry["media_content_type"],
                entry["media_content_id"],
            )
            found += await walk(hass_ws_client, hass, below)
    return found


@pytest.mark.parametrize("page_size", [200, 20])
async def test_large_library_is_split_like_plex(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    demo_entry: tuple[PlexEmulator, MockConfigEntry],
    monkeypatch: pytest.MonkeyPatch,
    page_size: int,
) -> None:
    emu, _ = demo_entry
    monkeypatch.setattr(media_browser, "PAGE_SIZE", page_size)
    movies = next(s for s in emu.library.visible_sections() if s.title == "Movies")
    everything = {str(item.rating_key) for item in movies.top_level()}
    assert len(everything) > media_browser.SMALL_LIBRARY

    server = emu.machine_identifier
    node = await browse(
        hass_ws_client, hass, "library", media_id(server, "section", "1")
    )
    titles = [c["title"] for c in node["children"]]
    assert titles[:2] == ["By genre", "By decade"]
    letters = [c for c in node["children"] if c["media_content_type"] == "letter"]
    assert letters[0]["title"] == "#"
    assert {c["title"] for c in letters} >= {"A", "B", "T"}
    assert not any(c["can_play"] for c in node["children"])

    # Letters: every movie once, each under its first character.
    seen: list[str] = []
    for letter in letters:
        below = await browse(hass_ws_client, hass, "letter", letter["media_content_id"])
        for item in await walk(hass_ws_client, hass, below):
            key = rating_key(item)
            assert first_character(emu, key) == letter["title"], item["title"]
            seen.append(key)
    assert sorted(seen) == sorted(everything)
    if page_size == 20:
        big = max(
            letters,
            key=lambda c: len(
                [k for k in everything if first_character(emu, k) == c["title"]]
            ),
        )
        pages = await browse(hass_ws_client, hass, "letter", big["media_content_id"])
        assert pages["children"][0]["title"].startswith(f"{big['title']} 1-20")

    # Genres and decades: what Plex's filters select.
    genres = await browse(
        hass_ws_client, hass, "genres", media_id(server, "section", "1", "genre")
    )
    assert genres["children"]
    genre = genres["children"][0]
    parsed = parse_media_id(genre["media_content_id"])
    assert parsed is not None
    genre_id = parsed.parts[-1]
    below = await browse(hass_ws_client, hass, "genre", genre["media_content_id"])
    in_genre = {rating_key(item) for item in await walk(hass_ws_client, hass, below)}
    expected = {
        str(item.rating_key)
        for item in movies.top_level()
        if genre_id in {str(g) for g in _genre_ids(item)}
    }
    assert in_genre == expected

    decades = await browse(
        hass_ws_client, hass, "decades", media_id(server, "section", "1", "decade")
    )
    decade = child(decades, "1990")
    below = await browse(hass_ws_client, hass, "decade", decade["media_content_id"])
    in_decade = {rating_key(item) for item in await walk(hass_ws_client, hass, below)}
    assert in_decade == {
        str(item.rating_key)
        for item in movies.top_level()
        if item.year is not None and 1990 <= item.year < 2000
    }


def _genre_ids(item: Any) -> list[str]:
    from tests.plex_server.library_query import tags_of

    return [tag_id for tag_id, _ in tags_of(item, "genre")]


async def test_large_show_library_has_no_decade_for_music(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    demo_entry: tuple[PlexEmulator, MockConfigEntry],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu, _ = demo_entry
    monkeypatch.setattr(media_browser, "SMALL_LIBRARY", 10)
    server = emu.machine_identifier
    music = await browse(
        hass_ws_client, hass, "library", media_id(server, "section", "3")
    )
    assert [c["title"] for c in music["children"]][:1] == ["By genre"]
    assert "By decade" not in [c["title"] for c in music["children"]]
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "media_player/browse_media",
            "entity_id": ENTITY,
            "media_content_type": "decades",
            "media_content_id": media_id(server, "section", "3", "decade"),
        }
    )
    assert not (await client.receive_json())["success"]


# -- search ---------------------------------------------------------------------------


async def search(hass: HomeAssistant, query: str, **data: Any) -> list[BrowseMedia]:
    response = await hass.services.async_call(
        MP_DOMAIN,
        SERVICE_SEARCH_MEDIA,
        {ATTR_ENTITY_ID: ENTITY, "search_query": query, **data},
        blocking=True,
        return_response=True,
    )
    return list(response[ENTITY].result)  # type: ignore[union-attr]


async def test_search_puts_the_exact_title_first(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    results = await search(hass, "the matrix")
    titles = [r.title for r in results]
    assert titles[:3] == ["The Matrix", "The Matrix Reloaded", "The Matrix Revolutions"]
    # A collection cannot be played, so it is no answer to "play X".
    assert "The Matrix Collection" not in titles
    assert results[0].title == "The Matrix"
    assert results[0].can_play
    assert results[0].media_content_id == media_id(
        plex_server.machine_identifier, "item", "1"
    )
    assert all(r.can_play for r in results)

    shows = await search(hass, "breaking", media_filter_classes=[MediaClass.TV_SHOW])
    assert [r.title for r in shows] == ["Breaking Bad"]
    music = await search(hass, "radiohead", media_content_type="music")
    # The artist first; then (the mirror indexes children under their artist's
    # name) Radiohead's albums and tracks, all of them music.
    assert music[0].media_class == MediaClass.ARTIST
    assert music[0].title == "Radiohead"
    assert {r.media_class for r in music} <= {
        MediaClass.ARTIST,
        MediaClass.ALBUM,
        MediaClass.TRACK,
    }
    assert await search(hass, "no such title anywhere") == []


async def test_voice_search_and_play(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """What ``HassMediaSearchAndPlay`` does: search, then play the first result."""
    results = await search(hass, "Spirited Away")
    await play(hass, results[0].media_content_id, results[0].media_content_type)
    assert (
        last_play(plex_server)["key"]
        == f"/library/metadata/{key_of(plex_server, 'Movies', 'Spirited Away')}"
    )


# -- play_media -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "payload", "path"),
    [
        ("movie", "1", ("Movies", "The Matrix")),
        ("movie", "The Matrix Reloaded", ("Movies", "The Matrix Reloaded")),
        (
            "movie",
            {"library": "Movies", "title": "spírited away"},
            ("Movies", "Spirited Away"),
        ),
        (
            "movie",
            {"library_name": "movies", "video_name": "Inception"},
            ("Movies", "Inception"),
        ),
        ("video", {"title": "Inception"}, ("Movies", "Inception")),
        (
            "tvshow",
            {"library": "TV Shows", "title": "The Wire"},
            ("TV Shows", "The Wire"),
        ),
        ("episode", {"show": "Breaking Bad"}, ("TV Shows", "Breaking Bad")),
        (
            "episode",
            {"show": "Breaking Bad", "season": 2},
            ("TV Shows", "Breaking Bad", "Season 2"),
        ),
        (
            "episode",
            {"library": "TV Shows", "show": "Breaking Bad", "season": 2, "episode": 3},
            ("TV Shows", "Breaking Bad", "Season 2", "Marseille Engine"),
        ),
        (
            "EPISODE",
            {
                "library_name": "TV Shows",
                "show_name": "The Wire",
                "season_number": 1,
                "episode_number": 2,
            },
            ("TV Shows", "The Wire", "Season 1", "Dublin Echo"),
        ),
        (
            "episode",
            {"show": "The Office", "episode": "golden night"},
            ("TV Shows", "The Office", "Season 2", "Golden Night"),
        ),
        ("music", {"artist": "Radiohead"}, ("Music", "Radiohead")),
        (
            "music",
            {"artist": "Daft Punk", "album": "Night"},
            ("Music", "Daft Punk", "Night"),
        ),
        (
            "music",
            {"artist": "Daft Punk", "album": "Night", "track": "Oslo Echo"},
            ("Music", "Daft Punk", "Night", "Oslo Echo"),
        ),
        (
            "music",
            {
                "artist_name": "Daft Punk",
                "album_name": "Endless Desert",
                "track_number": 2,
            },
            ("Music", "Daft Punk", "Endless Desert", "Voyage of the Verdict"),
        ),
        ("music", {"album": "Twisted Ocean"}, ("Music", "Radiohead", "Twisted Ocean")),
        (
            "music",
            {"artist": "Radiohead", "track": "The Stranger"},
            ("Music", "Radiohead", "Twisted Ocean", "The Stranger"),
        ),
        (
            "music",
            {"library": "Music", "track": "Holy Heart Rising"},
            ("Music", "Radiohead", "Twisted Ocean", "Holy Heart Rising"),
        ),
    ],
)
async def test_play_media_resolves(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    *,
    content_type: str,
    payload: str | dict[str, Any],
    path: tuple[str, ...],
) -> None:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    await play(hass, text, content_type)
    params = last_play(plex_server)
    key = key_of(plex_server, *path)
    # A show, season or album is queued whole; the player starts at its first leaf.
    item = plex_server.library.get(key)
    first_leaf = plex_server.library.leaves(item)[0]
    assert params["key"] == f"/library/metadata/{first_leaf.rating_key}"
    assert params["offset"] == "0"


async def test_play_media_ids_playlists_and_options(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    server = plex_server.machine_identifier
    matrix = plex_server.library.get("1")
    assert matrix.view_offset > 0

    await play(hass, media_id(server, "item", "1"))
    assert last_play(plex_server)["key"] == "/library/metadata/1"
    assert last_play(plex_server)["offset"] == "0"

    await play(hass, media_id(server, "item", "1", resume="1"))
    assert last_play(plex_server)["offset"] == str(matrix.view_offset)

    await play(
        hass, json.dumps({"library": "Movies", "title": "The Matrix", "resume": True})
    )
    assert last_play(plex_server)["offset"] == str(matrix.view_offset)

    await play(hass, json.dumps({"key": 1, "offset": 90, "resume": True}))
    assert last_play(plex_server)["offset"] == "90000"

    await play(hass, 'plex://{"plex_key": 2}')
    assert last_play(plex_server)["key"] == "/library/metadata/2"

    road_trip = playlist_key(plex_server, "Road Trip")
    await play(
        hass, json.dumps({"playlist_name": "road trip", "shuffle": 1}), "playlist"
    )
    assert played_queue_shuffled(plex_server)
    await play(hass, json.dumps({"playlist": "Road Trip"}), "playlist")
    assert not played_queue_shuffled(plex_server)
    await play(hass, media_id(server, "playlist", road_trip), "playlist")
    assert last_play(plex_server)["containerKey"].startswith("/playQueues/")
    await play(hass, json.dumps({"title": "Movie Night"}), "playlist")


@pytest.mark.parametrize(
    ("payload", "media"),
    [
        ("99999", 'the item with rating key "99999"'),
        (
            {"library": "Movies", "title": "Nope"},
            'the movie "Nope" in library "Movies"',
        ),
        ({"library": "Films", "title": "Nope"}, 'the library "Films"'),
        ({"title": "Nope"}, 'the movie "Nope"'),
        ({"show": "Lost"}, 'the show "Lost"'),
        ({"show": "Breaking Bad", "season": 9}, 'season 9 of the show "Breaking Bad"'),
        (
            {"show": "Breaking Bad", "season": 1, "episode": 42},
            'episode 42 of season 1 of the show "Breaking Bad"',
        ),
        (
            {"show": "Breaking Bad", "episode": "Nope"},
            'the episode "Nope" of the show "Breaking Bad"',
        ),
        ({"artist": "Nobody"}, 'the artist "Nobody"'),
        ({"artist": "Daft Punk", "album": "Nope"}, 'the album "Nope" by "Daft Punk"'),
        (
            {"artist": "Daft Punk", "album": "Night", "track": 9},
            'track 9 of the album "Night" by "Daft Punk"',
        ),
        ({"artist": "Daft Punk", "track": "Nope"}, 'the track "Nope" by "Daft Punk"'),
        ({"album": "Nope"}, 'the album "Nope"'),
        ({"track": "Nope", "library": "Music"}, 'the track "Nope" in library "Music"'),
        ({"playlist": "Nope"}, 'the playlist "Nope"'),
    ],
)
async def test_play_media_not_found(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    payload: str | dict[str, Any],
    media: str,
) -> None:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    with pytest.raises(ServiceValidationError) as caught:
        await play(hass, text)
    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == "media_not_found"
    assert caught.value.translation_placeholders == {"media": media}
    assert media in str(caught.value)


async def test_play_media_other_ids(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    server = plex_server.machine_identifier
    for folder in (
        media_id(server, "section", "1"),
        media_id(server, "section", "1", "letter", "A"),
        media_id(server, "collection", "77"),
        media_id(server),
    ):
        with pytest.raises(ServiceValidationError) as caught:
            await play(hass, folder)
        assert caught.value.translation_key == "not_playable"
        assert caught.value.translation_placeholders == {"media": folder}
    with pytest.raises(ServiceValidationError) as caught:
        await play(hass, media_id("another-server", "item", "1"))
    assert caught.value.translation_key == "media_not_found"
    with pytest.raises(ServiceValidationError) as caught:
        await play(hass, media_id(server, "playlist", "99999"))
    assert caught.value.translation_key == "media_not_found"
    with pytest.raises(ServiceValidationError) as caught:
        await play(hass, json.dumps({"title": "Nope"}), "video")
    assert caught.value.translation_placeholders == {"media": '"Nope"'}
    with pytest.raises(ServiceValidationError) as caught:
        await play(hass, "Nope", "tvshow")
    assert caught.value.translation_placeholders == {"media": 'the show "Nope"'}


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "a JSON object is expected"),
        ('{"movie_title": "x"}', "unknown keys: movie_title"),
        ('{"title": 5}', '"title" must be a non-empty text'),
        (
            '{"show": "Breaking Bad", "season": true}',
            '"season" must be a number or a title',
        ),
        ('{"key": "1", "shuffle": "sometimes"}', '"shuffle" must be true or false'),
        ('{"key": "1", "offset": "soon"}', '"offset" must be seconds'),
        ('{"key": "1", "offset": -5}', '"offset" must not be negative'),
        ('{"season": 1}', '"season" and "episode" need a "show"'),
        ('{"shuffle": true}', "say what to play"),
        ("   ", "nothing to play"),
    ],
)
async def test_play_media_invalid_payload(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    payload: str,
    error: str,
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await play(hass, payload)
    assert caught.value.translation_key == "invalid_payload"
    assert error in caught.value.translation_placeholders["error"]


async def test_server_errors_are_reported(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
) -> None:
    loaded_entry.runtime_data.client.cache.invalidate()
    # Titles are looked up in the library mirror: the server's search is not asked.
    plex_server.faults.add("/hubs/search", status=500)
    assert (await search(hass, "matrix"))[0].title == "The Matrix"
    # The item found is read from the server before it is played.
    plex_server.faults.add("/library/metadata/1", status=500)
    with pytest.raises(HomeAssistantError) as caught:
        await play(hass, json.dumps({"title": "The Matrix"}))
    assert caught.value.translation_key == "server_error"

    plex_server.faults.add("/playlists", status=500)
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "media_player/browse_media",
            "entity_id": ENTITY,
            "media_content_type": "playlists",
            "media_content_id": media_id(plex_server.machine_identifier, "playlists"),
        }
    )
    answer = await client.receive_json()
    assert not answer["success"]
    assert "Plex Media Server" in answer["error"]["message"]
