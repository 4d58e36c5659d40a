"""The notification websocket (``/:/websockets/notifications``) and its hub.

Clients connect over a real websocket with the token in the query, as
python-plexapi's ``AlertListener`` and HA core do; every frame is one JSON
``NotificationContainer``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import json
from typing import Any

from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType
import pytest

from tests.plex_server import PlexEmulator

LIVING_ROOM = "1234567890123456-com-plexapp-android"
THE_MATRIX = 1
TIMEOUT = 5  # safety net only: every wait below is answered at once


@contextlib.asynccontextmanager
async def websocket(
    emu: PlexEmulator, query: str = ""
) -> AsyncIterator[ClientWebSocketResponse]:
    """A notification websocket, registered with the hub before it is handed over."""
    connected = emu.notifications.connection_count
    async with ClientSession() as http:
        url = f"{emu.url}/:/websockets/notifications?X-Plex-Token={emu.token}{query}"
        async with http.ws_connect(url) as socket:
            assert emu.notifications.connection_count == connected + 1
            yield socket


async def receive(socket: ClientWebSocketResponse) -> dict[str, Any]:
    """The next notification's ``NotificationContainer``."""
    async with asyncio.timeout(TIMEOUT):
        message = await socket.receive()
    assert message.type == WSMsgType.TEXT, message
    container: dict[str, Any] = json.loads(message.data)["NotificationContainer"]
    return container


async def test_playing_notifications(plex_server: PlexEmulator) -> None:
    """Start, progress, pause and stop each send a PlaySessionStateNotification."""
    async with websocket(plex_server) as socket:
        session = plex_server.sessions.start_session(
            player="Living Room TV", rating_key=THE_MATRIX, view_offset=5_000
        )
        container = await receive(socket)
        assert container["type"] == "playing"
        assert container["size"] == 1
        (entry,) = container["PlaySessionStateNotification"]
        assert entry == {
            "sessionKey": session.session_key,
            "clientIdentifier": LIVING_ROOM,
            "guid": "",
            "ratingKey": "1",
            "url": "",
            "key": "/library/metadata/1",
            "viewOffset": 5_000,
            "playQueueItemID": session.play_queue_item_id,
            "playQueueID": session.play_queue.id,
            "state": "playing",
        }

        plex_server.sessions.advance(10)
        (entry,) = (await receive(socket))["PlaySessionStateNotification"]
        assert (entry["state"], entry["viewOffset"]) == ("playing", 15_000)

        plex_server.sessions.pause(session)
        (entry,) = (await receive(socket))["PlaySessionStateNotification"]
        assert (entry["state"], entry["viewOffset"]) == ("paused", 15_000)

        plex_server.sessions.stop_session(session)
        (entry,) = (await receive(socket))["PlaySessionStateNotification"]
        assert (entry["state"], entry["sessionKey"]) == ("stopped", session.session_key)


async def test_transcoded_play_names_its_transcode_session(
    plex_server: PlexEmulator,
) -> None:
    """A transcoded session's notifications carry ``transcodeSession``; the transcoder reports too."""
    async with websocket(plex_server) as socket:
        session = plex_server.sessions.start_session(
            player="Bedroom", rating_key=THE_MATRIX, transcode=True
        )
        playing = await receive(socket)
        (entry,) = playing["PlaySessionStateNotification"]
        assert entry["transcodeSession"] == session.transcode_id
        started = await receive(socket)
        assert started["type"] == "transcodeSession.start"
        (transcode,) = started["TranscodeSession"]
        assert transcode["key"] == session.transcode_id
        assert transcode["videoDecision"] == "transcode"


async def test_filters_choose_the_types(plex_server: PlexEmulator) -> None:
    """``filters=a,b`` keeps only those types, ``filters=-a`` drops them."""
    hub = plex_server.notifications
    async with (
        websocket(plex_server, "&filters=timeline,status") as only,
        websocket(plex_server, "&filters=-playing") as without_playing,
        websocket(plex_server, "&filters=") as everything,
    ):
        plex_server.sessions.start_session(
            player="Living Room TV", rating_key=THE_MATRIX
        )
        hub.publish(
            "activity", "ActivityNotification", [{"event": "started", "uuid": "a1"}]
        )
        hub.publish_status("LIBRARY_UPDATE", "Library scan complete")

        assert (await receive(only))["type"] == "status"
        assert (await receive(without_playing))["type"] == "activity"
        assert (await receive(without_playing))["type"] == "status"
        assert [(await receive(everything))["type"] for _ in range(3)] == [
            "playing",
            "activity",
            "status",
        ]


async def test_library_scan_sends_activity_then_status(
    plex_server: PlexEmulator,
) -> None:
    """A section refresh: activity started / updated / ended, then the status."""
    async with websocket(plex_server) as socket:
        plex_server.library.refresh_section(1)
        events = []
        for _ in range(3):
            container = await receive(socket)
            assert container["type"] == "activity"
            (entry,) = container["ActivityNotification"]
            assert entry["Activity"]["type"] == "library.update.section"
            events.append(entry["event"])
        assert events == ["started", "updated", "ended"]
        status = await receive(socket)
    assert status == {
        "type": "status",
        "size": 1,
        "StatusNotification": [
            {
                "title": "Library scan complete",
                "description": "",
                "notificationName": "LIBRARY_UPDATE",
            }
        ],
    }


async def test_library_changes_send_timeline_entries(plex_server: PlexEmulator) -> None:
    """Items created (0, then 5), updated (5) and deleted (9) reach the socket."""
    library = plex_server.library
    async with websocket(plex_server, "&filters=timeline") as socket:
        added = library.add_item(1, "Brand New Film", year=2025)
        created, processed = await receive(socket), await receive(socket)
        library.update_item(THE_MATRIX, title="The Matrix (Remastered)")
        updated = await receive(socket)
        library.delete_item(added.rating_key)
        deleted = await receive(socket)

    def entry(container: dict[str, Any]) -> tuple[str, int]:
        assert container["type"] == "timeline"
        (only,) = container["TimelineEntry"]
        assert only["identifier"] == "com.plexapp.plugins.library"
        return only["itemID"], only["state"]

    new_key = str(added.rating_key)
    assert [entry(c) for c in (created, processed, updated, deleted)] == [
        (new_key, 0),
        (new_key, 5),
        ("1", 5),
        (new_key, 9),
    ]
    assert updated["TimelineEntry"][0]["sectionID"] == "1"


async def test_subscribe_without_a_socket(plex_server: PlexEmulator) -> None:
    """Tests can listen on a queue; ``unsubscribe`` stops the delivery."""
    hub = plex_server.notifications
    queue = hub.subscribe("timeline")
    hub.publish("timeline", "TimelineEntry", [{"itemID": "1", "state": 5, "type": 1}])
    hub.publish("playing", "PlaySessionStateNotification", [{"state": "playing"}])
    hub.unsubscribe(queue)
    hub.publish("timeline", "TimelineEntry", [{"itemID": "2", "state": 9, "type": 1}])
    assert queue.qsize() == 1
    container = queue.get_nowait()["NotificationContainer"]
    assert container == {
        "type": "timeline",
        "size": 1,
        "TimelineEntry": [{"itemID": "1", "state": 5, "type": 1}],
    }
    assert (
        hub.published[-1]["NotificationContainer"]["TimelineEntry"][0]["itemID"] == "2"
    )


async def test_drop_all_cuts_the_connections(plex_server: PlexEmulator) -> None:
    """Fault injection: sockets are aborted without a close frame."""
    async with websocket(plex_server) as socket:
        assert plex_server.notifications.drop_all() == 1
        async with asyncio.timeout(TIMEOUT):
            message = await socket.receive()
        # CLOSED / ERROR, not CLOSE: no close frame was sent.
        assert message.type in {WSMsgType.CLOSED, WSMsgType.ERROR}
        assert socket.close_code != 1001


async def test_shutdown_closes_sockets_cleanly(
    socket_enabled: None, emulator_clock: Any
) -> None:
    """Stopping the emulator closes each websocket with 1001 (going away)."""
    emu = PlexEmulator(library="small", clock=emulator_clock)
    await emu.start()
    try:
        async with websocket(emu) as socket:
            stopping = asyncio.create_task(emu.stop())
            async with asyncio.timeout(TIMEOUT):
                message = await socket.receive()
            assert message.type == WSMsgType.CLOSE
            assert message.data == 1001
            await socket.close()
            await stopping
    finally:
        await emu.stop()
    assert emu.notifications.connection_count == 0


@pytest.mark.parametrize(
    "path", ["/:/websockets/notifications", "/:/websocket/notifications"]
)
async def test_both_paths_serve_the_websocket(
    plex_server: PlexEmulator, path: str
) -> None:
    """The path clients use and the spec's spelling."""
    async with (
        ClientSession() as http,
        http.ws_connect(
            f"{plex_server.url}{path}?X-Plex-Token={plex_server.token}"
        ) as socket,
    ):
        plex_server.notifications.publish_status(
            "LIBRARY_UPDATE", "Library scan complete"
        )
        assert (await receive(socket))["type"] == "status"
