"""Every kind of session real Plex lists in ``/status/sessions``, held to real Plex.

Besides movies, episodes and tracks, real servers list photo views, live TV
(``livetv_sessions.xml``), prerolls and trailers (clips in no library, HA core's
``session_transient.xml``), items of no library the user can see
(``session_unknown.xml``), sessions without a ``User`` element, and sessions of
Plex Web, which refuses remote control. For each kind the XML and the JSON answer
must say the same, the JSON must meet the OpenAPI spec, python-plexapi must read
it, and the session must publish its ``playing`` notifications.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import json
from typing import Any
from xml.etree import ElementTree as ET

import aiohttp
from plexapi.server import PlexServer
import pytest

from tests.plex_server import PlexEmulator
from tests.plex_server.sessions import PlaySession
from tests.plex_server.transient import PREROLL_DURATION, find_channel

from .fidelity import compare_with_capture, load_capture, spec_errors

TIMEOUT = 10
"""python-plexapi's and the websocket's timeout: a safety net, answers take ms."""
LIVING_ROOM = "Living Room TV"
THE_MATRIX = 1


def photo_section(emu: PlexEmulator) -> int:
    """The id of the emulated world's photo section."""
    return next(s.id for s in emu.library.visible_sections() if s.type == "photo")


def movie_section(emu: PlexEmulator) -> int:
    """The id of the section that holds The Matrix."""
    return emu.library.get(THE_MATRIX).section.id


def first_photo(emu: PlexEmulator) -> int:
    """The ratingKey of the world's first photo."""
    return min(i.rating_key for i in emu.library.items.values() if i.kind == "photo")


@dataclass(frozen=True)
class SessionKind:
    """How to start one kind of session and what real Plex shows for it."""

    start: Callable[[PlexEmulator], PlaySession]
    tag: str
    type: str
    section: Callable[[PlexEmulator], int | None]
    """The ``librarySectionID`` it must carry (``None``: none at all)."""
    plexapi_class: str
    user: bool = True
    live: bool = False
    subtype: str | None = None


KINDS: dict[str, SessionKind] = {
    "photo": SessionKind(
        lambda emu: emu.sessions.start_session(
            player="Bedroom", rating_key=first_photo(emu)
        ),
        "Photo",
        "photo",
        photo_section,
        "PhotoSession",
    ),
    "live_tv": SessionKind(
        lambda emu: emu.sessions.start_live_tv(player=LIVING_ROOM, channel="2.1"),
        "Video",
        "episode",
        lambda _: -4,
        "EpisodeSession",
        live=True,
    ),
    "preroll": SessionKind(
        lambda emu: emu.sessions.start_clip(
            player=LIVING_ROOM, clip="preroll", before=THE_MATRIX
        ),
        "Video",
        "clip",
        lambda _: -2,
        "ClipSession",
    ),
    "trailer": SessionKind(
        lambda emu: emu.sessions.start_clip(
            player=LIVING_ROOM, clip="trailer", trailer_of=THE_MATRIX
        ),
        "Video",
        "clip",
        movie_section,
        "ClipSession",
        subtype="trailer",
    ),
    "unknown_library": SessionKind(
        lambda emu: emu.sessions.start_unknown(player=LIVING_ROOM, transcode=True),
        "Video",
        "clip",
        lambda _: -3,
        "ClipSession",
    ),
    "no_library_id": SessionKind(
        lambda emu: emu.sessions.start_unknown(
            player=LIVING_ROOM, library_section_id=None
        ),
        "Video",
        "clip",
        lambda _: None,
        "ClipSession",
    ),
    "unseen_library": SessionKind(
        lambda emu: emu.sessions.start_unknown(
            player=LIVING_ROOM, library_section_id=99
        ),
        "Video",
        "clip",
        lambda _: 99,
        "ClipSession",
    ),
    "no_user": SessionKind(
        lambda emu: emu.sessions.start_clip(
            player=LIVING_ROOM, clip="preroll", include_user=False
        ),
        "Video",
        "clip",
        lambda _: -2,
        "ClipSession",
        user=False,
    ),
    "plex_web": SessionKind(
        lambda emu: emu.sessions.start_session(player="Chrome", rating_key=THE_MATRIX),
        "Video",
        "movie",
        movie_section,
        "MovieSession",
    ),
}


async def get(
    emu: PlexEmulator, path: str, *, as_json: bool = False
) -> tuple[int, str]:
    """One owner request to the emulated server: (status, body)."""
    headers = {"X-Plex-Token": emu.token}
    if as_json:
        headers["Accept"] = "application/json"
    async with (
        aiohttp.ClientSession() as http,
        http.get(emu.url + path, headers=headers) as response,
    ):
        return response.status, await response.text()


async def sessions_xml(emu: PlexEmulator, path: str = "/status/sessions") -> ET.Element:
    """The XML answer of a sessions path (which must succeed)."""
    status, text = await get(emu, path)
    assert status == 200, text
    return ET.fromstring(text)


async def sessions_json(emu: PlexEmulator) -> Any:
    """The JSON answer of ``/status/sessions``."""
    status, text = await get(emu, "/status/sessions", as_json=True)
    assert status == 200, text
    return json.loads(text)


def read_with_plexapi(emu: PlexEmulator) -> list[dict[str, Any]]:
    """python-plexapi's view of ``/status/sessions`` (runs in a worker thread)."""
    server = PlexServer(emu.url, emu.token, timeout=TIMEOUT)
    return [
        {
            "class": type(session).__name__,
            "type": session.type,
            "librarySectionID": session.librarySectionID,
            "live": session.live,
            "sessionKey": session.sessionKey,
            "player": session.player.title if session.player else None,
            "session": session.session.id if session.session else None,
            "usernames": session.usernames,
        }
        for session in server.sessions()
    ]


async def in_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking call in a worker thread of its own, shut down afterwards."""
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, func, *args)
    finally:
        executor.shutdown(wait=True)


def playing_entries(emu: PlexEmulator, session_key: str) -> list[dict[str, Any]]:
    """The ``PlaySessionStateNotification`` entries published for one session."""
    return [
        entry
        for message in emu.notifications.published
        if message["NotificationContainer"]["type"] == "playing"
        for entry in message["NotificationContainer"]["PlaySessionStateNotification"]
        if entry["sessionKey"] == session_key
    ]


# -- each kind, XML and JSON ------------------------------------------------------------


@pytest.mark.parametrize("name", list(KINDS))
async def test_status_sessions_shows_the_kind(
    plex_server: PlexEmulator, name: str
) -> None:
    """The XML element and the JSON object carry the kind's shape, both alike."""
    kind = KINDS[name]
    session = kind.start(plex_server)
    root = await sessions_xml(plex_server)
    assert root.get("size") == "1"
    (element,) = list(root)
    assert (element.tag, element.get("type")) == (kind.tag, kind.type)
    assert element.get("sessionKey") == session.session_key
    expected_section = kind.section(plex_server)
    assert element.get("librarySectionID") == (
        None if expected_section is None else str(expected_section)
    )
    if expected_section is None or expected_section < 0 or expected_section == 99:
        assert element.get("librarySectionTitle") is None
    assert element.get("subtype") == kind.subtype
    assert element.get("live") == ("1" if kind.live else None)
    assert [child.tag for child in element if child.tag in ("Player", "Session")] == [
        "Player",
        "Session",
    ]
    assert (element.find("User") is not None) is kind.user
    assert element.find("Media/Part") is not None

    payload = await sessions_json(plex_server)
    (item,) = payload["MediaContainer"]["Metadata"]
    assert item["type"] == kind.type
    assert item.get("librarySectionID") == expected_section
    assert item["ratingKey"] == element.get("ratingKey")
    assert item["key"] == element.get("key")
    assert isinstance(item["Player"], dict)
    assert isinstance(item["Session"], dict)
    assert ("User" in item) is kind.user


@pytest.mark.usefixtures("plex_reference")
@pytest.mark.parametrize("name", list(KINDS))
async def test_json_meets_the_spec(plex_server: PlexEmulator, name: str) -> None:
    """``/status/sessions`` in JSON validates against the OpenAPI schema."""
    KINDS[name].start(plex_server)
    payload = await sessions_json(plex_server)
    assert payload["MediaContainer"]["size"] == 1
    assert spec_errors("/status/sessions", "GET", payload) == []


@pytest.mark.parametrize("name", [n for n, k in KINDS.items() if k.user])
async def test_python_plexapi_reads_the_kind(
    plex_server: PlexEmulator, name: str
) -> None:
    """python-plexapi, unpatched, builds its session object for the kind."""
    kind = KINDS[name]
    session = kind.start(plex_server)
    (seen,) = await in_thread(read_with_plexapi, plex_server)
    assert seen["class"] == kind.plexapi_class
    assert seen["type"] == kind.type
    assert seen["librarySectionID"] == kind.section(plex_server)
    assert seen["live"] is kind.live
    assert seen["sessionKey"] == int(session.session_key)
    assert seen["player"] == session.player.title
    assert seen["session"] == session.id
    assert seen["usernames"] == [session.account.title]


async def test_python_plexapi_cannot_read_a_session_without_user(
    plex_server: PlexEmulator,
) -> None:
    """python-plexapi 4.18 reads ``User`` unguarded: a session without one breaks it.

    ``PlexSession._loadData`` does ``data.find('User').attrib``, so ``sessions()``
    raises when a server lists a session without a ``User`` (as real servers do for
    some transient sessions). The integration reads sessions with its own client;
    this test records the limitation, and fails once python-plexapi copes.
    """
    KINDS["no_user"].start(plex_server)
    with pytest.raises(AttributeError, match="attrib"):
        await in_thread(read_with_plexapi, plex_server)


@pytest.mark.parametrize("name", list(KINDS))
async def test_kind_publishes_playing_notifications(
    plex_server: PlexEmulator, name: str
) -> None:
    """Start, progress and stop each publish a ``PlaySessionStateNotification``."""
    session = KINDS[name].start(plex_server)
    root = await sessions_xml(plex_server)
    key = root[0].get("key")
    plex_server.sessions.advance(2)
    offset = plex_server.sessions.position(session)
    plex_server.sessions.stop_session(session)
    entries = playing_entries(plex_server, session.session_key)
    assert [entry["state"] for entry in entries] == ["playing", "playing", "stopped"]
    assert {entry["ratingKey"] for entry in entries} == {session.rating_key}
    assert {entry["key"] for entry in entries} == {key}
    assert {entry["clientIdentifier"] for entry in entries} == {
        session.player.machine_identifier
    }
    assert entries[1]["viewOffset"] == offset
    if KINDS[name].type != "photo":
        assert entries[1]["viewOffset"] == entries[0]["viewOffset"] + 2000


# -- live TV ----------------------------------------------------------------------------


@pytest.mark.usefixtures("plex_reference")
async def test_live_tv_matches_the_capture(plex_server: PlexEmulator) -> None:
    """``/status/sessions`` and ``/livetv/sessions`` have ``livetv_sessions.xml``'s shape.

    ``/status/sessions`` adds the ``Player``, ``User`` and ``Session`` every session
    there has (``session_base.xml``); ``/livetv/sessions`` is the capture's own
    request and must match it exactly (element names, attribute superset).
    """
    capture = load_capture("livetv_sessions.xml")
    plex_server.sessions.start_live_tv(player=LIVING_ROOM)
    status = await sessions_xml(plex_server)
    assert (
        compare_with_capture(capture, status, extra_tags=("Player", "User", "Session"))
        == []
    )
    livetv = await sessions_xml(plex_server, "/livetv/sessions")
    assert compare_with_capture(capture, livetv) == []
    (video,) = list(livetv)
    assert video.find("Media").get("uuid") == video.get("key").rsplit("/", 1)[-1]
    assert video.find("Media/TranscodeSession") is not None
    one = await sessions_xml(plex_server, video.get("key"))
    assert one[0].get("ratingKey") == video.get("ratingKey")
    status_code, _ = await get(plex_server, "/livetv/sessions/no-such-session")
    assert status_code == 404


async def test_live_tv_follows_the_schedule(plex_server: PlexEmulator) -> None:
    """A tuned player shows the program on air and moves on when it ends."""
    channel = find_channel("2.1")
    now = plex_server.clock.now()
    index, start = channel.airing(now)
    first = plex_server.sessions.start_live_tv(player=LIVING_ROOM, channel="2.1")
    assert first.item.title == channel.programs[index].title
    assert plex_server.sessions.position(first) == int((now - start) * 1000)
    end = start + channel.programs[index].minutes * 60
    plex_server.sessions.advance(end - now + 60)
    (second,) = plex_server.sessions.sessions
    following = channel.programs[(index + 1) % len(channel.programs)]
    assert second.item.title == following.title
    assert second.session_key != first.session_key
    assert second.player is first.player
    assert plex_server.sessions.position(second) == 60_000
    assert [e["state"] for e in playing_entries(plex_server, first.session_key)][
        -1
    ] == "stopped"
    assert playing_entries(plex_server, second.session_key)[-1]["viewOffset"] == 60_000
    root = await sessions_xml(plex_server)
    assert root[0].get("title") == following.title
    assert root[0].get("live") == "1"


async def test_live_tv_reaches_a_websocket(plex_server: PlexEmulator) -> None:
    """The websocket carries a live session's ``playing`` notification."""
    url = (
        f"{plex_server.url}/:/websockets/notifications?X-Plex-Token={plex_server.token}"
    )
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=TIMEOUT)) as ws,
    ):
        session = plex_server.sessions.start_live_tv(player=LIVING_ROOM)
        while True:
            message = await ws.receive_json(timeout=TIMEOUT)
            container = message["NotificationContainer"]
            if container["type"] == "playing":
                break
    (entry,) = container["PlaySessionStateNotification"]
    assert entry["sessionKey"] == session.session_key
    assert entry["key"] == session.key
    assert entry["key"].startswith("/livetv/sessions/")
    assert entry["state"] == "playing"


# -- clips ------------------------------------------------------------------------------


async def test_preroll_then_the_feature(plex_server: PlexEmulator) -> None:
    """When a preroll ends, the player plays the movie it came before."""
    clip = plex_server.sessions.start_clip(
        player=LIVING_ROOM, clip="preroll", before=THE_MATRIX
    )
    plex_server.sessions.advance(PREROLL_DURATION / 1000 + 5)
    (feature,) = plex_server.sessions.sessions
    assert feature.rating_key == str(THE_MATRIX)
    assert feature.player is clip.player
    assert plex_server.sessions.position(feature) == 5000
    assert plex_server.sessions.get(clip.session_key) is None
    # The clip is in no library: nothing was scrobbled for it.
    assert all(
        e.item.rating_key != clip.item.rating_key for e in plex_server.sessions.history
    )


async def test_trailer_needs_a_movie_or_show(plex_server: PlexEmulator) -> None:
    """Only movies and shows have trailers; an unknown clip kind is refused."""
    photo = first_photo(plex_server)
    with pytest.raises(ValueError, match="trailers"):
        plex_server.sessions.start_clip(
            player=LIVING_ROOM, clip="trailer", trailer_of=photo
        )
    with pytest.raises(ValueError, match="clip must be"):
        plex_server.sessions.start_clip(player=LIVING_ROOM, clip="commercial")
    with pytest.raises(KeyError, match="channel"):
        plex_server.sessions.start_live_tv(player=LIVING_ROOM, channel="99.9")


# -- Plex Web ---------------------------------------------------------------------------


async def test_plex_web_session_refuses_control(plex_server: PlexEmulator) -> None:
    """A Plex Web session is listed like any other, and a remote pause is refused."""
    session = KINDS["plex_web"].start(plex_server)
    root = await sessions_xml(plex_server)
    player = root[0].find("Player")
    assert player is not None
    assert (player.get("product"), player.get("title")) == ("Plex Web", "Chrome")
    headers = {
        "X-Plex-Token": plex_server.token,
        "X-Plex-Target-Client-Identifier": session.player.machine_identifier,
    }
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            plex_server.url + "/player/playback/pause",
            params={"type": "video", "commandID": "1"},
            headers=headers,
        ) as response,
    ):
        assert response.status == 406
    assert plex_server.sessions.require(session.session_key).state == "playing"


# -- the control API --------------------------------------------------------------------


async def control(
    emu: PlexEmulator, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """``POST /_emulator/sessions``: (status, JSON answer)."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(emu.url + "/_emulator/sessions", json=body) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"kind": "livetv", "channel": "KFLM"},
            {"live": True, "key_prefix": "/livetv/sessions/", "section": -4},
        ),
        ({"kind": "preroll", "before": THE_MATRIX}, {"type": "clip", "section": -2}),
        ({"kind": "trailer", "trailerOf": THE_MATRIX}, {"type": "clip"}),
        ({"kind": "unknown"}, {"type": "clip", "section": -3}),
        (
            {"kind": "unknown", "librarySectionID": None},
            {"type": "clip", "section": None},
        ),
        ({"kind": "unknown", "librarySectionID": 42}, {"section": 42}),
        (
            {"kind": "preroll", "includeUser": False},
            {"type": "clip", "user": None},
        ),
    ],
)
async def test_control_api_starts_each_kind(
    plex_server: PlexEmulator, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Every kind starts over HTTP, and ``/status/sessions`` then lists it."""
    status, answer = await control(plex_server, {"player": LIVING_ROOM, **body})
    assert status == 201, answer
    if "type" in expected:
        assert answer["type"] == expected["type"]
    if "live" in expected:
        assert answer["live"] is True
        assert answer["key"].startswith(expected["key_prefix"])
    if "user" in expected:
        assert answer["user"] is None
    payload = await sessions_json(plex_server)
    (item,) = payload["MediaContainer"]["Metadata"]
    assert item["sessionKey"] == answer["sessionKey"]
    if "section" in expected:
        assert item.get("librarySectionID") == expected["section"]
    assert ("User" in item) is ("user" not in expected)


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "radio"},
        {"kind": "livetv", "transcode": True},
        {"kind": "livetv", "channel": "99.9"},
        {"kind": "trailer", "trailerOf": 99_999_999},
        {"kind": "preroll", "includeUser": "no"},
        {"kind": "unknown", "librarySectionID": "music"},
        {"kind": "library"},
    ],
)
async def test_control_api_refuses_bad_kinds(
    plex_server: PlexEmulator, body: dict[str, Any]
) -> None:
    """Bad kinds and fields get ``400`` and start nothing."""
    status, answer = await control(plex_server, {"player": LIVING_ROOM, **body})
    assert status == 400, answer
    assert "error" in answer
    assert plex_server.sessions.sessions == []


async def test_control_state_lists_the_lineup(plex_server: PlexEmulator) -> None:
    """``GET /_emulator/state`` lists the channels and what each airs now."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(plex_server.url + "/_emulator/state") as response,
    ):
        state = await response.json()
    now = plex_server.clock.now()
    expected = []
    for channel in plex_server.sessions.channels:
        index, _ = channel.airing(now)
        expected.append((channel.number, channel.programs[index].title))
    assert [(c["channel"], c["onAir"]["title"]) for c in state["channels"]] == expected
