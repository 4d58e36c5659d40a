"""Play queues and remote control proxied through the emulated server.

Requests are built the way python-plexapi builds them (``PlayQueue.create``,
``PlexClient.sendCommand`` after ``proxyThroughServer()``): sorted query
arguments with every value URL-encoded, the target player in
``X-Plex-Target-Client-Identifier``, and an increasing ``commandID``.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import json
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from aiohttp import ClientSession
from plexapi.server import PlexServer
import pytest
from yarl import URL

from tests.plex_server import PlexEmulator

LIVING_ROOM = (
    "1234567890123456-com-plexapp-android"  # Plex for Android (TV): answers "OK"
)
BEDROOM = "plex-htpc-bedroom-0001"  # Plex HTPC: answers <Response code="200" .../>
CHROME = "plexweb-chrome-0001"  # Plex Web: refuses control
THE_MATRIX = 1
SEASON_ONE = 14  # Breaking Bad season 1: episodes 15, 16, 17, 18
ALBUM = 55  # tracks 56, 57, 58
MOVIE_NIGHT = 80  # a video playlist


def parse_xml(text: str) -> ET.Element:
    """Parse the emulator's own XML answer (trusted: we wrote the server)."""
    return ET.fromstring(text)


def plexapi_url(emu: PlexEmulator, path: str, args: dict[str, Any]) -> URL:
    """``path`` with ``args`` joined exactly as ``plexapi.utils.joinArgs`` does."""
    query = "&".join(
        f"{key}={quote(str(args[key]), safe='')}" for key in sorted(args, key=str.lower)
    )
    return URL(f"{emu.url}{path}?{query}", encoded=True)


async def request(
    emu: PlexEmulator,
    method: str,
    url: URL | str,
    *,
    target: str | None = None,
    as_json: bool = False,
) -> tuple[int, str, str]:
    """One request with the owner's token; (status, content type, body)."""
    headers = {"X-Plex-Token": emu.token}
    if target is not None:
        headers["X-Plex-Target-Client-Identifier"] = target
    if as_json:
        headers["Accept"] = "application/json"
    async with (
        ClientSession() as http,
        http.request(method, url, headers=headers) as response,
    ):
        return response.status, response.content_type, await response.text()


async def create_queue(emu: PlexEmulator, **args: Any) -> ET.Element:
    """``POST /playQueues`` with python-plexapi's default arguments plus ``args``."""
    defaults = {
        "includeChapters": 1,
        "includeRelated": 1,
        "repeat": 0,
        "shuffle": 0,
        "continuous": 0,
    }
    status, _, body = await request(
        emu, "POST", plexapi_url(emu, "/playQueues", defaults | args)
    )
    assert status == 200, body
    return parse_xml(body)


def server_uri(emu: PlexEmulator, rating_key: int) -> str:
    """The ``uri`` python-plexapi sends for one item."""
    return f"server://{emu.machine_identifier}/com.plexapp.plugins.library/library/metadata/{rating_key}"


class Remote:
    """Sends commands to one player through the server, numbering them like plexapi."""

    def __init__(self, emu: PlexEmulator, target: str) -> None:
        self.emu = emu
        self.target = target
        self.command_id = 0

    async def send(self, command: str, **params: Any) -> tuple[int, str, str]:
        """``PlexClient.sendCommand(command, **params)``; (status, content type, body)."""
        self.command_id += 1
        params["commandID"] = self.command_id
        url = plexapi_url(self.emu, f"/player/{command}", params)
        return await request(self.emu, "GET", url, target=self.target)

    async def play_media(
        self, rating_key: int, queue_id: int, offset: int = 0
    ) -> tuple[int, str, str]:
        """``PlexClient.playMedia`` as python-plexapi sends it."""
        emu = self.emu
        return await self.send(
            "playback/playMedia",
            providerIdentifier="com.plexapp.plugins.library",
            machineIdentifier=emu.machine_identifier,
            protocol="http",
            address=emu.host,
            port=emu.port,
            offset=offset,
            key=f"/library/metadata/{rating_key}",
            type="video",
            containerKey=f"/playQueues/{queue_id}?window=100&own=1",
        )


async def test_create_play_queue_for_a_season(plex_server: PlexEmulator) -> None:
    """A season queues its episodes; the answer is shaped like playqueue_created.xml."""
    container = await create_queue(
        plex_server, type="video", uri=server_uri(plex_server, SEASON_ONE)
    )
    attrs = container.attrib
    assert attrs["size"] == attrs["playQueueTotalCount"] == "4"
    assert attrs["identifier"] == "com.plexapp.plugins.library"
    assert attrs["librarySectionID"] == "2"
    assert attrs["playQueueSelectedItemOffset"] == "0"
    assert attrs["playQueueSelectedMetadataItemID"] == "15"
    assert attrs["playQueueVersion"] == "1"
    assert attrs["playQueueShuffled"] == "0"
    assert [video.attrib["ratingKey"] for video in container] == [
        "15",
        "16",
        "17",
        "18",
    ]
    item_ids = [video.attrib["playQueueItemID"] for video in container]
    assert len(set(item_ids)) == 4
    assert attrs["playQueueSelectedItemID"] == item_ids[0]
    assert container[0].find("Media/Part") is not None
    # playqueue_created.xml carries the id on Media too.
    media = container.findall("*/Media")
    assert [element.attrib["playQueueItemID"] for element in media] == item_ids

    queue_id = attrs["playQueueID"]
    status, _, body = await request(
        plex_server, "GET", f"{plex_server.url}/playQueues/{queue_id}?window=50&own=0"
    )
    assert status == 200
    again = parse_xml(body)
    assert again.attrib["playQueueID"] == queue_id
    assert [video.attrib["playQueueItemID"] for video in again] == item_ids

    status, _, body = await request(
        plex_server, "GET", f"{plex_server.url}/playQueues/{queue_id}", as_json=True
    )
    queue = json.loads(body)["MediaContainer"]
    assert queue["playQueueID"] == int(queue_id)
    assert queue["playQueueSelectedMetadataItemID"] == 15
    assert queue["playQueueShuffled"] is False
    assert [item["ratingKey"] for item in queue["Metadata"]] == ["15", "16", "17", "18"]


async def test_play_queue_of_several_items_with_key_and_shuffle(
    plex_server: PlexEmulator,
) -> None:
    """python-plexapi's ``library:///directory/...`` list form, ``key`` and ``shuffle``."""
    uri = "library:///directory/" + quote("/library/metadata/1,2,3", safe="")
    container = await create_queue(
        plex_server, type="video", uri=uri, key="/library/metadata/2"
    )
    assert [video.attrib["ratingKey"] for video in container] == ["1", "2", "3"]
    assert container.attrib["playQueueSelectedItemOffset"] == "1"
    assert container.attrib["playQueueSelectedMetadataItemID"] == "2"

    shuffled = await create_queue(
        plex_server, type="audio", uri=server_uri(plex_server, 59), shuffle=1
    )
    artist_tracks = [
        str(track.rating_key) for track in plex_server.library.get(59).leaves()
    ]
    keys = [track.attrib["ratingKey"] for track in shuffled]
    assert sorted(keys) == sorted(artist_tracks)
    assert shuffled.attrib["playQueueShuffled"] == "1"
    assert shuffled[0].tag == "Track"


async def test_play_queue_continuous_and_playlist(plex_server: PlexEmulator) -> None:
    """``continuous=1`` on an episode queues the rest of the show; ``playlistID=``."""
    container = await create_queue(
        plex_server, type="video", uri=server_uri(plex_server, 26), continuous=1
    )
    assert [video.attrib["ratingKey"] for video in container] == ["26", "27"]

    playlist = plex_server.library.playlist(MOVIE_NIGHT)
    expected = [str(item.rating_key) for _, item in playlist.entries]
    uri = f"server://{plex_server.machine_identifier}/com.plexapp.plugins.library{playlist.key}"
    container = await create_queue(
        plex_server, type="video", playlistID=MOVIE_NIGHT, uri=uri
    )
    assert [item.attrib["ratingKey"] for item in container] == expected


async def test_play_queue_errors(plex_server: PlexEmulator) -> None:
    """Bad requests get 400, unknown queues 404."""
    no_type = plexapi_url(
        plex_server, "/playQueues", {"uri": server_uri(plex_server, 1)}
    )
    assert (await request(plex_server, "POST", no_type))[0] == 400
    unknown = plexapi_url(
        plex_server,
        "/playQueues",
        {"type": "video", "uri": server_uri(plex_server, 999_999)},
    )
    assert (await request(plex_server, "POST", unknown))[0] == 400
    neither = plexapi_url(plex_server, "/playQueues", {"type": "video"})
    assert (await request(plex_server, "POST", neither))[0] == 400
    assert (await request(plex_server, "GET", f"{plex_server.url}/playQueues/4242"))[
        0
    ] == 404


async def test_play_media_starts_a_session(plex_server: PlexEmulator) -> None:
    """Command playMedia plays the queue's item for the player's account; recorded with commandID."""
    queue = await create_queue(
        plex_server, type="video", uri=server_uri(plex_server, SEASON_ONE)
    )
    remote = Remote(plex_server, LIVING_ROOM)
    status, content_type, body = await remote.play_media(
        16, int(queue.attrib["playQueueID"]), offset=30_000
    )
    assert (status, content_type, body) == (200, "text/plain", "OK")

    player = plex_server.players.require(LIVING_ROOM)
    assert player.state == "playing"
    session = plex_server.sessions.for_player(player)
    assert session is not None
    assert session.rating_key == "16"
    assert session.account.id == plex_server.owner_id
    assert session.play_queue.id == int(queue.attrib["playQueueID"])
    assert plex_server.sessions.position(session) == 30_000
    (command,) = plex_server.players.commands
    assert command.machine_identifier == LIVING_ROOM
    assert command.command == "playback/playMedia"
    assert command.command_id == 1
    assert command.accepted is True
    assert (
        command.params["containerKey"]
        == f"/playQueues/{queue.attrib['playQueueID']}?window=100&own=1"
    )

    status, _, body = await request(
        plex_server,
        "GET",
        f"{plex_server.url}/playQueues/{queue.attrib['playQueueID']}",
    )
    assert parse_xml(body).attrib["playQueueSelectedMetadataItemID"] == "16"


async def test_every_playback_command_changes_the_player(
    plex_server: PlexEmulator,
) -> None:
    """pause, play, seekTo, steps, skips, setParameters and stop, one after another."""
    sessions = plex_server.sessions
    player = plex_server.players.require(BEDROOM)
    queue = await create_queue(
        plex_server, type="video", uri=server_uri(plex_server, SEASON_ONE)
    )
    remote = Remote(plex_server, BEDROOM)

    status, content_type, body = await remote.play_media(
        15, int(queue.attrib["playQueueID"])
    )
    assert (status, content_type) == (200, "text/xml")
    assert parse_xml(body).attrib == {"code": "200", "status": "OK"}
    plex_server.clock.advance(20)

    assert (await remote.send("playback/pause", type="video"))[0] == 200
    assert player.state == "paused"
    assert sessions.position(sessions.require(player)) == 20_000
    plex_server.clock.advance(50)
    assert sessions.position(sessions.require(player)) == 20_000

    assert (await remote.send("playback/play", type="video"))[0] == 200
    assert player.state == "playing"

    assert (await remote.send("playback/seekTo", offset=600_000, type="video"))[
        0
    ] == 200
    assert sessions.position(sessions.require(player)) == 600_000
    assert (await remote.send("playback/stepForward", type="video"))[0] == 200
    assert sessions.position(sessions.require(player)) == 630_000
    assert (await remote.send("playback/stepBack", type="video"))[0] == 200
    assert sessions.position(sessions.require(player)) == 615_000

    assert (await remote.send("playback/skipNext", type="video"))[0] == 200
    assert sessions.require(player).rating_key == "16"
    assert sessions.position(sessions.require(player)) == 0
    assert (await remote.send("playback/skipPrevious", type="video"))[0] == 200
    assert sessions.require(player).rating_key == "15"
    assert (
        await remote.send("playback/skipTo", key="/library/metadata/18", type="video")
    )[0] == 200
    assert sessions.require(player).rating_key == "18"
    assert (await remote.send("playback/skipNext", type="video"))[
        0
    ] == 200  # past the end: stops
    assert player.state == "stopped"
    assert sessions.for_player(player) is None

    assert (
        await remote.send(
            "playback/setParameters", volume=35, shuffle=1, repeat=2, type="video"
        )
    )[0] == 200
    assert (player.volume, player.shuffle, player.repeat) == (35, 1, 2)
    assert (await remote.send("playback/setParameters", volume=101, type="video"))[
        0
    ] == 400
    assert player.volume == 35

    await remote.play_media(17, int(queue.attrib["playQueueID"]))
    assert (await remote.send("playback/stop", type="video"))[0] == 200
    assert player.state == "stopped"

    recorded = [(c.command, c.command_id) for c in plex_server.players.commands]
    assert recorded == [
        ("playback/playMedia", 1),
        ("playback/pause", 2),
        ("playback/play", 3),
        ("playback/seekTo", 4),
        ("playback/stepForward", 5),
        ("playback/stepBack", 6),
        ("playback/skipNext", 7),
        ("playback/skipPrevious", 8),
        ("playback/skipTo", 9),
        ("playback/skipNext", 10),
        ("playback/setParameters", 11),
        ("playback/setParameters", 12),
        ("playback/playMedia", 13),
        ("playback/stop", 14),
    ]


async def test_commands_publish_playing_notifications(
    plex_server: PlexEmulator,
) -> None:
    """Each state change a command makes is announced as ``playing``."""
    queue = plex_server.notifications.subscribe("playing")
    container = await create_queue(
        plex_server, type="audio", uri=server_uri(plex_server, ALBUM)
    )
    remote = Remote(plex_server, "plexamp-kitchen-0001")
    await remote.play_media(56, int(container.attrib["playQueueID"]))
    await remote.send("playback/pause", type="music")
    await remote.send("playback/stop", type="music")
    states = []
    while not queue.empty():
        (entry,) = queue.get_nowait()["NotificationContainer"][
            "PlaySessionStateNotification"
        ]
        states.append((entry["ratingKey"], entry["state"]))
    plex_server.notifications.unsubscribe(queue)
    assert states == [("56", "playing"), ("56", "paused"), ("56", "stopped")]


async def test_plex_web_refuses_control(plex_server: PlexEmulator) -> None:
    """Plex Web answers 406 and does nothing; the attempt is recorded as refused."""
    queue = await create_queue(
        plex_server, type="video", uri=server_uri(plex_server, THE_MATRIX)
    )
    status, _, _ = await Remote(plex_server, CHROME).play_media(
        THE_MATRIX, int(queue.attrib["playQueueID"])
    )
    assert status == 406
    assert plex_server.players.require(CHROME).state == "stopped"
    assert plex_server.sessions.sessions == []
    (command,) = plex_server.players.commands
    assert (command.machine_identifier, command.accepted) == (CHROME, False)


async def test_unknown_or_missing_target(plex_server: PlexEmulator) -> None:
    """An unknown target gets PMS's 500 ``Response``; no target at all a 400."""
    status, _, body = await Remote(plex_server, "no-such-player").send(
        "playback/pause", type="video"
    )
    assert status == 500
    response = parse_xml(body)
    assert response.tag == "Response"
    assert response.attrib["code"] == "2000"
    assert "no-such-player" in response.attrib["status"]
    status, _, _ = await request(
        plex_server, "GET", f"{plex_server.url}/player/playback/pause?commandID=1"
    )
    assert status == 400
    assert plex_server.players.commands == []


@pytest.mark.parametrize(
    ("target", "command", "params"),
    [
        (
            BEDROOM,
            "mirror/details",
            {"key": "/library/metadata/1"},
        ),  # HTPC has no mirror
        (BEDROOM, "playback/dance", {}),
        (BEDROOM, "playback/seekTo", {"offset": 5}),  # nothing is playing
        (BEDROOM, "playback/playMedia", {"key": "/library/metadata/999999"}),
    ],
)
async def test_commands_a_player_cannot_carry_out(
    plex_server: PlexEmulator, target: str, command: str, params: dict[str, Any]
) -> None:
    """The player's own 400 "Error processing player command"."""
    status, content_type, body = await Remote(plex_server, target).send(
        command, **params
    )
    assert status == 400
    assert content_type == "text/html"
    assert "Error processing player command" in body
    assert plex_server.players.require(target).state == "stopped"


async def test_timeline_poll(plex_server: PlexEmulator) -> None:
    """``timeline/poll`` describes what the player plays, per media type."""
    remote = Remote(plex_server, BEDROOM)
    plex_server.sessions.start_session(
        player=BEDROOM, rating_key=THE_MATRIX, view_offset=1_000
    )
    plex_server.clock.advance(2)
    status, _, body = await remote.send("timeline/poll", wait=0)
    assert status == 200
    container = parse_xml(body)
    assert container.attrib["commandID"] == "1"
    timelines = {timeline.attrib["type"]: timeline.attrib for timeline in container}
    assert timelines["music"]["state"] == "stopped"
    assert timelines["video"]["state"] == "playing"
    assert timelines["video"]["time"] == "3000"
    assert timelines["video"]["ratingKey"] == "1"
    assert timelines["video"]["machineIdentifier"] == plex_server.machine_identifier


async def test_transient_token(plex_server: PlexEmulator) -> None:
    """``/security/token`` answers like security_token.xml; bad parameters get 400."""
    url = f"{plex_server.url}/security/token?type=delegation&scope=all"
    status, _, body = await request(plex_server, "POST", url)
    assert status == 200
    container = parse_xml(body)
    token = container.attrib["token"]
    assert token.startswith("transient-")
    assert plex_server.sessions.queues.transient_tokens[token] == plex_server.owner_id
    status, _, body = await request(plex_server, "GET", url, as_json=True)
    assert json.loads(body)["MediaContainer"]["token"] != token
    bad = f"{plex_server.url}/security/token?type=other&scope=all"
    assert (await request(plex_server, "GET", bad))[0] == 400


def drive_with_plexapi(emu: PlexEmulator) -> dict[str, Any]:
    """Play, pause, seek and stop a movie on the HTPC the way python-plexapi does."""
    plex = PlexServer(emu.url, emu.token)
    client = plex.client("Bedroom")
    client.proxyThroughServer()
    client.playMedia(plex.fetchItem(THE_MATRIX), offset=10_000)
    client.pause()
    client.seekTo(600_000)
    (session,) = plex.sessions()
    seen = {
        "title": session.title,
        "viewOffset": session.viewOffset,
        "player": session.player.title,
        "state": session.player.state,
    }
    client.stop()
    seen["after_stop"] = len(plex.sessions())
    return seen


async def test_python_plexapi_controls_a_player(plex_server: PlexEmulator) -> None:
    """python-plexapi, unpatched: playMedia (with its transient token), pause, seekTo, stop."""
    executor = ThreadPoolExecutor(max_workers=1)
    try:
        seen = await asyncio.get_running_loop().run_in_executor(
            executor, drive_with_plexapi, plex_server
        )
    finally:
        executor.shutdown(wait=True)
    assert seen == {
        "title": "The Matrix",
        "viewOffset": 600_000,
        "player": "Bedroom",
        "state": "paused",
        "after_stop": 0,
    }
    commands = [command.command for command in plex_server.players.commands]
    assert commands == [
        "playback/playMedia",
        "playback/pause",
        "playback/seekTo",
        "playback/stop",
    ]
    assert (
        plex_server.players.commands[0].params["token"]
        in plex_server.sessions.queues.transient_tokens
    )


async def test_skip_to_an_item_outside_the_queue(plex_server: PlexEmulator) -> None:
    """A skipTo to a key the queue does not hold: 400, and the player plays on."""
    queue = await create_queue(
        plex_server, type="video", uri=server_uri(plex_server, SEASON_ONE)
    )
    remote = Remote(plex_server, BEDROOM)
    await remote.play_media(15, int(queue.attrib["playQueueID"]))
    status, _, body = await remote.send(
        "playback/skipTo", key="/library/metadata/1", type="video"
    )
    assert status == 400
    assert "Error processing player command" in body
    session = plex_server.sessions.require(BEDROOM)
    assert (session.rating_key, session.state) == ("15", "playing")
