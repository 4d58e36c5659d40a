"""Live sessions of the emulator: /status/sessions, history, terminate, transcodes.

Sessions are started and moved through the emulator's Python API
(``emu.sessions``) and read over real HTTP, in XML and in JSON; positions follow
the emulator's frozen clock.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from aiohttp import ClientSession
import pytest

from tests.plex_server import Clock, PlexEmulator

LIVING_ROOM = "1234567890123456-com-plexapp-android"
BEDROOM = "plex-htpc-bedroom-0001"
THE_MATRIX = 1  # movie, 5,885,000 ms, section 1
PILOT = 15  # Breaking Bad S01E01, section 2
ALBUM = 55  # "Twisted Ocean": tracks 56, 57, 58 (section 3)


def parse_xml(text: str) -> ET.Element:
    """Parse the emulator's own XML answer (trusted: we wrote the server)."""
    return ET.fromstring(text)


async def get_xml(emu: PlexEmulator, path: str, **params: Any) -> ET.Element:
    """GET ``path`` as XML with the owner's token; the parsed MediaContainer."""
    async with (
        ClientSession() as http,
        http.get(
            emu.url + path, params=params, headers={"X-Plex-Token": emu.token}
        ) as response,
    ):
        assert response.status == 200, await response.text()
        assert response.content_type == "text/xml"
        return parse_xml(await response.text())


async def get_json(emu: PlexEmulator, path: str, **params: Any) -> dict[str, Any]:
    """GET ``path`` as JSON with the owner's token; the ``MediaContainer`` object."""
    headers = {"X-Plex-Token": emu.token, "Accept": "application/json"}
    async with (
        ClientSession() as http,
        http.get(emu.url + path, params=params, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        container: dict[str, Any] = (await response.json())["MediaContainer"]
        return container


async def status(emu: PlexEmulator, path: str, **params: Any) -> int:
    """The HTTP status of a GET."""
    async with (
        ClientSession() as http,
        http.get(
            emu.url + path, params=params, headers={"X-Plex-Token": emu.token}
        ) as response,
    ):
        return response.status


async def test_session_xml_follows_the_clock(plex_server: PlexEmulator) -> None:
    """Position = start offset + clock time while playing; it holds while paused."""
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key=THE_MATRIX, view_offset=60_000
    )

    container = await get_xml(plex_server, "/status/sessions")
    assert container.attrib["size"] == "1"
    (video,) = container
    assert video.tag == "Video"
    assert video.attrib["ratingKey"] == "1"
    assert video.attrib["type"] == "movie"
    assert video.attrib["sessionKey"] == session.session_key == "1"
    assert video.attrib["viewOffset"] == "60000"
    player = video.find("Player")
    assert player is not None
    assert player.attrib["machineIdentifier"] == LIVING_ROOM
    assert player.attrib["state"] == "playing"
    assert player.attrib["product"] == "Plex for Android (TV)"
    assert player.attrib["local"] == "1"
    user = video.find("User")
    assert user is not None
    assert user.attrib["id"] == str(plex_server.owner_id)
    assert user.attrib["title"] == plex_server.owner_name
    session_element = video.find("Session")
    assert session_element is not None
    assert session_element.attrib["id"] == session.id
    assert session_element.attrib["location"] == "lan"
    assert int(session_element.attrib["bandwidth"]) > 0
    assert video.find("TranscodeSession") is None

    plex_server.clock.advance(30)
    (video,) = await get_xml(plex_server, "/status/sessions")
    assert video.attrib["viewOffset"] == "90000"

    plex_server.sessions.pause(session)
    plex_server.clock.advance(100)
    (video,) = await get_xml(plex_server, "/status/sessions")
    assert video.attrib["viewOffset"] == "90000"
    assert video.find("Player").attrib["state"] == "paused"  # type: ignore[union-attr]

    plex_server.sessions.resume(session)
    plex_server.sessions.seek(session, 1_000_000)
    plex_server.sessions.advance(5)
    (video,) = await get_xml(plex_server, "/status/sessions")
    assert video.attrib["viewOffset"] == "1005000"
    assert plex_server.players.require(LIVING_ROOM).state == "playing"


async def test_direct_play_decisions(plex_server: PlexEmulator) -> None:
    """Direct play: Media selected, Part and its streams ``directplay``."""
    plex_server.sessions.start_session(player=BEDROOM, rating_key=THE_MATRIX)
    (video,) = await get_xml(plex_server, "/status/sessions")
    media = video.find("Media")
    assert media is not None
    assert media.attrib["selected"] == "1"
    part = media.find("Part")
    assert part is not None
    assert part.attrib["decision"] == "directplay"
    assert part.attrib["selected"] == "1"
    # The library's own file: its key and size, as /library/metadata shows them.
    library_media = plex_server.library.item_node(THE_MATRIX).find("Media")
    assert library_media is not None
    file_part = library_media.find("Part")
    assert file_part is not None
    assert part.attrib["key"] == file_part.attrs["key"]
    assert part.attrib["size"] == str(file_part.attrs["size"])
    assert "bitrate" not in part.attrib
    streams = part.findall("Stream")
    assert [s.attrib["streamType"] for s in streams] == ["1", "2"]
    assert {s.attrib["decision"] for s in streams} == {"directplay"}
    assert all("key" not in s.attrib and "bitrateMode" not in s.attrib for s in streams)
    # The element order of captures/session_base.xml: tags, Player, User, Session, Media.
    tags = [child.tag for child in video]
    assert (
        tags.index("Player")
        < tags.index("User")
        < tags.index("Session")
        < tags.index("Media")
    )


async def test_session_json_shape(plex_server: PlexEmulator) -> None:
    """JSON: items under Metadata, Player/User/Session as objects, typed values."""
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key=PILOT, user="Sam"
    )
    container = await get_json(plex_server, "/status/sessions")
    assert container["size"] == 1
    (item,) = container["Metadata"]
    assert item["type"] == "episode"
    assert item["grandparentTitle"] == "Breaking Bad"
    assert item["sessionKey"] == session.session_key
    assert item["viewOffset"] == 0
    assert item["Player"]["machineIdentifier"] == LIVING_ROOM
    assert item["Player"]["local"] is True
    assert item["Player"]["userID"] == 1000
    assert item["User"] == {
        "id": "1000",
        "thumb": item["User"]["thumb"],
        "title": "Sam",
    }
    assert item["Session"] == {
        "id": session.id,
        "bandwidth": session.bandwidth,
        "location": "lan",
    }
    assert item["Media"][0]["Part"][0]["decision"] == "directplay"


async def test_transcode_session(plex_server: PlexEmulator) -> None:
    """A transcoded WAN session: decisions, TranscodeSession, /transcode/sessions."""
    session = plex_server.sessions.start_session(
        player=BEDROOM,
        rating_key=PILOT,
        user=1000,
        transcode=True,
        bandwidth=4000,
        location="wan",
    )
    plex_server.clock.advance(10)
    (video,) = await get_xml(plex_server, "/status/sessions")
    assert video.attrib["viewOffset"] == "10000"
    player = video.find("Player")
    assert player is not None
    assert player.attrib["local"] == "0"
    assert player.attrib["address"] == player.attrib["remotePublicAddress"]
    session_element = video.find("Session")
    assert session_element is not None
    assert session_element.attrib == {
        "id": session.id,
        "bandwidth": "4000",
        "location": "wan",
    }
    part = video.find("Media/Part")
    assert part is not None
    assert part.attrib["decision"] == "transcode"
    # What the transcoder sends (session_base.xml): no file key or size.
    assert "key" not in part.attrib
    assert "size" not in part.attrib
    assert {
        name: part.attrib[name]
        for name in ("container", "protocol", "bitrate", "width", "height")
    } == {
        "container": "mpegts",
        "protocol": "hls",
        "bitrate": "4000",
        "width": "1280",
        "height": "720",
    }
    streams = {s.attrib["streamType"]: s.attrib for s in part.findall("Stream")}
    assert {s["decision"] for s in streams.values()} == {"transcode"}
    assert all("key" not in s for s in streams.values())
    assert (streams["1"]["codec"], streams["1"]["bitrate"]) == ("h264", "3744")
    assert (streams["1"]["width"], streams["1"]["height"]) == ("1280", "720")
    audio = streams["2"]
    assert (audio["codec"], audio["channels"], audio["bitrate"]) == ("aac", "2", "256")
    assert audio["bitrateMode"] == "cbr"
    transcode = video.find("TranscodeSession")
    assert transcode is not None
    assert transcode.attrib["key"] == f"/transcode/sessions/{session.transcode_id}"
    assert transcode.attrib["videoDecision"] == "transcode"
    assert transcode.attrib["audioDecision"] == "transcode"
    assert transcode.attrib["protocol"] == "hls"
    assert transcode.attrib["sourceVideoCodec"] in {"h264", "hevc"}
    assert video.find("Media").attrib["videoCodec"] == "h264"  # type: ignore[union-attr]
    # 10 s at 2.5x = 25 s of media made, under the 60 s throttle ceiling.
    assert transcode.attrib["maxOffsetAvailable"] == "25.0"
    assert transcode.attrib["throttled"] == "0"

    plex_server.clock.advance(60)  # 175 s made > 70 s position + 60 s: throttled
    container = await get_xml(plex_server, "/transcode/sessions")
    (transcode,) = container
    assert transcode.tag == "TranscodeSession"
    assert transcode.attrib["key"] == session.transcode_id
    assert transcode.attrib["throttled"] == "1"
    assert transcode.attrib["maxOffsetAvailable"] == "130.0"
    progress = float(transcode.attrib["progress"])
    assert progress == round(130_000 / session.duration * 100, 1)

    transcodes = await get_json(plex_server, "/transcode/sessions")
    assert transcodes["TranscodeSession"][0]["throttled"] is True


async def test_stop_past_ninety_percent_is_history(plex_server: PlexEmulator) -> None:
    """Stopping at >= 90 % scrobbles: history entry, item watched, player stopped."""
    library = plex_server.library
    movie = library.get(THE_MATRIX)
    plays_before = movie.view_count
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key=THE_MATRIX, view_offset=5_300_000
    )
    plex_server.clock.advance(120)
    plex_server.sessions.stop_session(session)

    assert (await get_xml(plex_server, "/status/sessions")).attrib["size"] == "0"
    assert plex_server.players.require(LIVING_ROOM).state == "stopped"
    assert movie.view_count == plays_before + 1
    history = await get_xml(plex_server, "/status/sessions/history/all")
    (entry,) = history
    assert entry.tag == "Video"
    assert entry.attrib["ratingKey"] == "1"
    assert entry.attrib["historyKey"] == "/status/sessions/history/1"
    assert entry.attrib["accountID"] == "1"
    assert entry.attrib["deviceID"] == str(
        plex_server.players.require(LIVING_ROOM).device_id
    )
    assert entry.attrib["viewedAt"] == str(plex_server.clock.timestamp())
    assert entry.attrib["librarySectionID"] == "1"


async def test_stop_early_keeps_resume_point(plex_server: PlexEmulator) -> None:
    """Stopping early writes no history; the item keeps the position."""
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key=THE_MATRIX
    )
    plex_server.sessions.advance(600)
    plex_server.sessions.stop_session(session)
    assert plex_server.sessions.history == []
    assert plex_server.library.get(THE_MATRIX).view_offset == 600_000
    history = await get_json(plex_server, "/status/sessions/history/all")
    assert history["size"] == 0


async def test_playing_past_the_end_moves_through_the_queue(
    plex_server: PlexEmulator,
) -> None:
    """A track that ends is scrobbled and the player goes on with the next one."""
    album = plex_server.library.get(ALBUM)
    first, second, _third = album.leaves()
    queue = plex_server.sessions.queues.create(album.leaves())
    plex_server.sessions.start_session(
        player="Kitchen",
        rating_key=first.rating_key,
        play_queue=queue,
        view_offset=(first.duration or 0) - 5_000,
    )
    plex_server.clock.advance(15)  # 5 s of the first track, 10 s into the second

    (track,) = await get_xml(plex_server, "/status/sessions")
    assert track.tag == "Track"
    assert track.attrib["ratingKey"] == str(second.rating_key)
    assert track.attrib["viewOffset"] == "10000"
    assert queue.selected_item is second
    (entry,) = plex_server.sessions.history
    assert entry.item is first
    assert entry.viewed_at == plex_server.clock.timestamp() - 10


async def test_history_filters_sort_and_paging(plex_server: PlexEmulator) -> None:
    """accountID, librarySectionID, metadataItemID, viewedAt>, sort and paging."""
    sessions = plex_server.sessions
    plays = [(THE_MATRIX, None), (PILOT, "Sam"), (2, None), (16, "Sam")]
    for rating_key, user in plays:
        item = plex_server.library.get(rating_key)
        offset = (item.duration or 0) - 1_000
        session = sessions.start_session(
            player=BEDROOM, rating_key=rating_key, user=user, view_offset=offset
        )
        sessions.stop_session(session)
        plex_server.clock.advance(60)

    everything = await get_xml(
        plex_server, "/status/sessions/history/all", sort="viewedAt:desc"
    )
    assert [e.attrib["ratingKey"] for e in everything] == ["16", "2", "15", "1"]
    assert everything.attrib["totalSize"] == "4"

    sam = await get_xml(plex_server, "/status/sessions/history/all", accountID=1000)
    assert [e.attrib["ratingKey"] for e in sam] == ["15", "16"]
    assert {e.attrib["accountID"] for e in sam} == {"1000"}

    movies = await get_json(
        plex_server, "/status/sessions/history/all", librarySectionID=1
    )
    assert [e["ratingKey"] for e in movies["Metadata"]] == ["1", "2"]
    assert movies["Metadata"][0]["librarySectionID"] == "1"
    assert isinstance(movies["Metadata"][0]["viewedAt"], int)

    show = await get_xml(plex_server, "/status/sessions/history/all", metadataItemID=13)
    assert [e.attrib["ratingKey"] for e in show] == ["15", "16"]
    assert show[0].attrib["grandparentTitle"] == "Breaking Bad"

    start = plex_server.clock.timestamp() - 4 * 60
    recent = await get_xml(
        plex_server, "/status/sessions/history/all", **{"viewedAt>": start + 60}
    )
    assert [e.attrib["ratingKey"] for e in recent] == ["15", "2", "16"]

    page = await get_xml(
        plex_server,
        "/status/sessions/history/all",
        sort="viewedAt:desc",
        **{"X-Plex-Container-Start": 1, "X-Plex-Container-Size": 2},
    )
    assert [e.attrib["ratingKey"] for e in page] == ["2", "15"]
    assert page.attrib == {"size": "2", "totalSize": "4", "offset": "1"}


async def test_terminate(plex_server: PlexEmulator) -> None:
    """Terminate ends the session and stops the player; 403 / 404 as the spec says."""
    session = plex_server.sessions.start_session(
        player="Living Room TV", rating_key=THE_MATRIX
    )
    assert await status(plex_server, "/status/sessions/terminate") == 403
    assert (
        await status(plex_server, "/status/sessions/terminate", sessionId="nope") == 404
    )

    assert (
        await status(
            plex_server,
            "/status/sessions/terminate",
            sessionId=session.id,
            reason="Bedtime",
        )
        == 200
    )

    assert (await get_xml(plex_server, "/status/sessions")).attrib["size"] == "0"
    player = plex_server.players.require(LIVING_ROOM)
    assert player.state == "stopped"
    assert player.termination_reason == "Bedtime"
    assert (
        await status(plex_server, "/status/sessions/terminate", sessionId=session.id)
        == 404
    )


async def test_one_session_per_player(plex_server: PlexEmulator) -> None:
    """Starting on a busy player replaces its session; others play alongside."""
    sessions = plex_server.sessions
    first = sessions.start_session(player="Living Room TV", rating_key=THE_MATRIX)
    sessions.start_session(player=BEDROOM, rating_key=2)
    third = sessions.start_session(player="Living Room TV", rating_key=3)
    assert sessions.get(first.session_key) is None
    assert sessions.get(LIVING_ROOM) is third
    container = await get_xml(plex_server, "/status/sessions")
    assert sorted(e.attrib["ratingKey"] for e in container) == ["2", "3"]


async def test_start_session_rejects_bad_arguments(plex_server: PlexEmulator) -> None:
    """Unknown player, item, user or location; containers are not playable."""
    sessions = plex_server.sessions
    with pytest.raises(KeyError):
        sessions.start_session(player="Nowhere", rating_key=THE_MATRIX)
    with pytest.raises(KeyError):
        sessions.start_session(player=BEDROOM, rating_key=999_999)
    with pytest.raises(KeyError):
        sessions.start_session(player=BEDROOM, rating_key=THE_MATRIX, user="Nobody")
    with pytest.raises(ValueError):
        sessions.start_session(player=BEDROOM, rating_key=THE_MATRIX, location="moon")
    with pytest.raises(ValueError):
        sessions.start_session(player=BEDROOM, rating_key=ALBUM)
    assert sessions.sessions == []


async def test_running_clock_reports_in_the_background_until_stopped(
    socket_enabled: None,
) -> None:
    """Only a running clock starts the progress reporter; ``stop`` ends it."""
    emu = PlexEmulator(library="small", clock=Clock(start=1_760_000_000.0))
    await emu.start()
    try:
        reporter = emu.sessions._reporter
        assert reporter is not None
        assert not reporter.done()
    finally:
        await emu.stop()
    assert reporter.cancelled()
    assert emu.sessions._reporter is None


async def test_frozen_clock_runs_nothing_in_the_background(
    plex_server: PlexEmulator,
) -> None:
    """Tests freeze the clock: no task, positions are derived on read."""
    assert plex_server.sessions._reporter is None


async def test_a_players_timeline_reports_drive_its_session(
    plex_server: PlexEmulator,
) -> None:
    """``/:/timeline`` from a simulated player's identifier starts, pauses, stops it."""

    async def report(state: str, time: int) -> None:
        params: dict[str, str | int] = {
            "ratingKey": THE_MATRIX,
            "key": "/library/metadata/1",
            "state": state,
            "time": time,
        }
        headers = {
            "X-Plex-Token": plex_server.token,
            "X-Plex-Client-Identifier": BEDROOM,
        }
        async with (
            ClientSession() as http,
            http.get(
                f"{plex_server.url}/:/timeline", params=params, headers=headers
            ) as response,
        ):
            assert response.status == 200

    await report("playing", 120_000)
    (video,) = await get_xml(plex_server, "/status/sessions")
    assert video.attrib["viewOffset"] == "120000"
    assert video.find("Player").attrib["machineIdentifier"] == BEDROOM  # type: ignore[union-attr]

    await report("paused", 130_000)
    (video,) = await get_xml(plex_server, "/status/sessions")
    assert video.attrib["viewOffset"] == "130000"
    assert plex_server.players.require(BEDROOM).state == "paused"

    await report("stopped", 5_500_000)
    assert (await get_xml(plex_server, "/status/sessions")).attrib["size"] == "0"
    (entry,) = plex_server.sessions.history  # past 90 %: a view
    assert entry.item.rating_key == THE_MATRIX
    assert plex_server.library.get(THE_MATRIX).view_offset == 0


async def test_shared_users_see_no_sessions_and_only_their_history(
    plex_server: PlexEmulator,
) -> None:
    """Sessions are the owner's (401 for a shared user); history is filtered."""
    sam = next(user for user in plex_server.library.shared_users if user.name == "Sam")
    for rating_key, user in ((THE_MATRIX, None), (2, "Sam")):
        item = plex_server.library.get(rating_key)
        session = plex_server.sessions.start_session(
            player=BEDROOM,
            rating_key=rating_key,
            user=user,
            view_offset=(item.duration or 0) - 1_000,
        )
        plex_server.sessions.stop_session(session)
    plex_server.sessions.start_session(player=BEDROOM, rating_key=3)

    async with ClientSession(headers={"X-Plex-Token": sam.token}) as http:
        for path in (
            "/status/sessions",
            "/transcode/sessions",
            "/status/sessions/terminate",
        ):
            async with http.get(plex_server.url + path) as response:
                assert response.status == 401, path
        async with http.get(
            plex_server.url + "/status/sessions/history/all", params={"accountID": 1}
        ) as response:
            assert response.status == 200
            history = parse_xml(await response.text())
    assert [(e.attrib["ratingKey"], e.attrib["accountID"]) for e in history] == [
        ("2", "1000")
    ]
