"""The control API (``/_emulator/...``) over HTTP: sessions, clock, items, faults, counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.plex_server import PlexEmulator
from tests.plex_server.items import Item, Section

CONTROL = "/_emulator"


@pytest.fixture
async def client(plex_server: PlexEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    """A client without any Plex token: the control API needs none."""
    async with aiohttp.ClientSession(base_url=plex_server.url) as session:
        yield session


def movie_section(emu: PlexEmulator) -> Section:
    return next(s for s in emu.library.sections.values() if s.type == "movie")


def a_movie(emu: PlexEmulator) -> Item:
    return movie_section(emu).by_kind["movie"][0]


def a_player(emu: PlexEmulator) -> str:
    return next(player.title for player in emu.players if player.controllable)


async def plex_json(
    client: aiohttp.ClientSession, emu: PlexEmulator, path: str
) -> dict[str, Any]:
    """GET a Plex endpoint as the owner, in JSON; its MediaContainer."""
    headers = {"X-Plex-Token": emu.token, "Accept": "application/json"}
    async with client.get(path, headers=headers) as response:
        assert response.status == 200, path
        body: dict[str, Any] = await response.json()
    return body["MediaContainer"]


async def control(
    client: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any = None,
    status: int = 200,
) -> Any:
    """Call the control API and check the status; the JSON answer."""
    async with client.request(method, CONTROL + path, json=body) as response:
        answer = await response.json()
        assert response.status == status, answer
    return answer


async def test_state(plex_server: PlexEmulator, client: aiohttp.ClientSession) -> None:
    state = await control(client, "GET", "/state")

    assert state["machineIdentifier"] == plex_server.machine_identifier
    assert state["url"] == plex_server.url
    assert state["sessions"] == []
    assert [p["machineIdentifier"] for p in state["players"]] == [
        p.machine_identifier for p in plex_server.players
    ]
    assert state["now"] == plex_server.clock.now()


async def test_session_lifecycle(
    plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    movie = a_movie(plex_server)
    started = await control(
        client,
        "POST",
        "/sessions",
        {
            "player": a_player(plex_server),
            "ratingKey": movie.rating_key,
            "transcode": True,
            "bandwidth": 4000,
        },
        status=201,
    )
    key = started["sessionKey"]
    assert started["state"] == "playing"
    assert started["transcode"] is True

    container = await plex_json(client, plex_server, "/status/sessions")
    assert container["size"] == 1
    playing = container["Metadata"][0]
    assert playing["ratingKey"] == str(movie.rating_key)
    assert playing["sessionKey"] == key
    assert playing["Session"]["bandwidth"] == 4000
    assert "TranscodeSession" in playing

    await control(client, "POST", "/clock/advance", {"seconds": 30})
    container = await plex_json(client, plex_server, "/status/sessions")
    assert container["Metadata"][0]["viewOffset"] == 30_000

    paused = await control(client, "POST", f"/sessions/{key}/pause")
    assert paused["state"] == "paused"
    await control(client, "POST", "/clock/advance", {"seconds": 30})
    container = await plex_json(client, plex_server, "/status/sessions")
    assert container["Metadata"][0]["Player"]["state"] == "paused"
    assert container["Metadata"][0]["viewOffset"] == 30_000

    sought = await control(client, "POST", f"/sessions/{key}/seek", {"offset": 600_000})
    assert sought["viewOffset"] == 600_000
    resumed = await control(client, "POST", f"/sessions/{key}/resume")
    assert resumed["state"] == "playing"

    state = await control(client, "GET", "/state")
    assert [s["sessionKey"] for s in state["sessions"]] == [key]

    await control(client, "POST", f"/sessions/{key}/stop")
    container = await plex_json(client, plex_server, "/status/sessions")
    assert container["size"] == 0


async def test_add_update_delete_item(
    plex_server: PlexEmulator, client: aiohttp.ClientSession, emulator_clock: Any
) -> None:
    section = movie_section(plex_server)
    added = await control(
        client,
        "POST",
        "/items",
        {"section": section.id, "title": "Control Movie", "year": 2024},
        status=201,
    )
    rating_key = added["ratingKey"]
    assert added["type"] == "movie"
    assert added["librarySectionID"] == section.id

    container = await plex_json(client, plex_server, f"/library/metadata/{rating_key}")
    assert container["Metadata"][0]["title"] == "Control Movie"
    assert container["Metadata"][0]["year"] == 2024

    emulator_clock.advance(60)
    updated = await control(
        client, "PATCH", f"/items/{rating_key}", {"title": "Renamed Movie"}
    )
    assert updated["updatedAt"] == added["updatedAt"] + 60
    container = await plex_json(client, plex_server, f"/library/metadata/{rating_key}")
    assert container["Metadata"][0]["title"] == "Renamed Movie"

    deleted = await control(client, "DELETE", f"/items/{rating_key}")
    assert deleted == {"deleted": [rating_key]}
    async with client.get(
        f"/library/metadata/{rating_key}", headers={"X-Plex-Token": plex_server.token}
    ) as response:
        assert response.status == 404

    timeline = [
        entry["state"]
        for message in plex_server.notifications.published
        if message["NotificationContainer"]["type"] == "timeline"
        for entry in message["NotificationContainer"]["TimelineEntry"]
        if entry["itemID"] == rating_key
    ]
    assert timeline == [0, 5, 5, 9]


async def test_scan_section(
    plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    section = movie_section(plex_server)
    answer = await control(client, "POST", f"/sections/{section.id}/scan")
    assert answer["scanned"] == section.id

    published = await control(client, "GET", "/notifications")
    kinds = [message["NotificationContainer"]["type"] for message in published]
    assert kinds[-4:] == ["activity", "activity", "activity", "status"]


async def test_faults_over_http(
    plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    fault = await control(
        client, "POST", "/faults", {"path": "/identity", "status": 503}, status=201
    )
    assert fault["status"] == 503
    await control(
        client, "POST", "/faults", {"path": "/library/*", "latency": 0.001}, status=201
    )

    async with client.get("/identity") as response:
        assert response.status == 503
    listed = await control(client, "GET", "/faults")
    assert [(f["path"], f["fired"]) for f in listed] == [
        ("/identity", 1),
        ("/library/*", 0),
    ]

    remaining = await control(client, "DELETE", f"/faults/{fault['id']}")
    assert [f["path"] for f in remaining] == ["/library/*"]
    async with client.get("/identity") as response:
        assert response.status == 200

    assert await control(client, "DELETE", "/faults") == []
    assert plex_server.faults.faults == []


async def test_counts_over_http(
    plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    headers = {"X-Plex-Token": plex_server.token}
    for path in ("/library/sections/1/all", "/library/sections/2/all", "/identity"):
        async with client.get(path, headers=headers):
            pass

    counts = await control(client, "GET", "/counts")
    assert counts["endpoints"] == {"/library/sections/{id}/all": 2, "/identity": 1}
    assert counts["paths"]["/library/sections/2/all"] == 1

    reset = await control(client, "DELETE", "/counts")
    assert reset == {"endpoints": {}, "paths": {}}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/sessions", "not json"),
        ("POST", "/sessions", [1, 2]),
        ("POST", "/sessions", {"ratingKey": 1}),
        ("POST", "/sessions", {"player": "No Such Player", "ratingKey": 1}),
        ("POST", "/sessions", {"player": "Chrome", "ratingKey": 99_999_999}),
        ("POST", "/sessions", {"player": "Chrome", "ratingKey": 1, "user": "Nobody"}),
        ("POST", "/sessions", {"player": "Chrome", "ratingKey": 1, "transcode": "yes"}),
        ("POST", "/clock/advance", {"seconds": -5}),
        ("POST", "/clock/advance", {"seconds": True}),
        ("POST", "/items", {"section": 1}),
        ("POST", "/items", {"section": 999, "title": "Nowhere"}),
        ("POST", "/faults", {"path": "/identity", "status": 418}),
        ("POST", "/faults", {"path": "/identity"}),
        ("POST", "/faults", {"status": 500}),
    ],
)
async def test_bad_input_is_400(
    client: aiohttp.ClientSession, method: str, path: str, body: Any
) -> None:
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    async with client.request(method, CONTROL + path, **kwargs) as response:
        assert response.status == 400
        assert (await response.json())["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/sessions/999/pause"),
        ("POST", "/sessions/999/dance"),
        ("PATCH", "/items/99999999"),
        ("DELETE", "/items/abc"),
        ("POST", "/sections/99/scan"),
        ("DELETE", "/faults/42"),
    ],
)
async def test_unknown_targets_are_404(
    client: aiohttp.ClientSession, method: str, path: str
) -> None:
    async with client.request(method, CONTROL + path) as response:
        assert response.status == 404
        assert (await response.json())["error"]
