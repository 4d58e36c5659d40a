"""Fault injection and request counting, seen by a real HTTP client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from defusedxml.ElementTree import ParseError, fromstring
import pytest

from tests.plex_server import PlexEmulator

NOTIFICATIONS = "/:/websockets/notifications"


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (401, "Unauthorized"),
        (404, "Not Found"),
        (500, "Internal Server Error"),
        (503, "Service Unavailable"),
    ],
)
async def test_status_fault_answers_plex_error_page(
    plex_server: PlexEmulator,
    owner_http: aiohttp.ClientSession,
    status: int,
    title: str,
) -> None:
    fault = plex_server.faults.add("/identity", status=status, times=1)

    async with owner_http.get("/identity") as response:
        assert response.status == status
        assert response.content_type == "text/html"
        assert f"<title>{title}</title>" in await response.text()
    assert fault.fired == 1
    assert plex_server.faults.faults == []

    async with owner_http.get("/identity") as response:
        assert response.status == 200
        root = fromstring(await response.text())
    assert root.get("machineIdentifier") == plex_server.machine_identifier


async def test_fault_matches_route_template(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    rating_key = next(iter(plex_server.library.items))
    fault = plex_server.faults.add("/library/metadata/{ids}", status=404)

    async with owner_http.get(f"/library/metadata/{rating_key}") as response:
        assert response.status == 404
    async with owner_http.get(f"/library/metadata/{rating_key}/children") as response:
        assert response.status != 404  # another route: /library/metadata/{id}/children
    assert fault.fired == 1


async def test_fault_matches_glob(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    fault = plex_server.faults.add("/library/sections/*/all", status=500)

    async with owner_http.get("/library/sections/1/all") as response:
        assert response.status == 500
    async with owner_http.get("/library/sections/1") as response:
        assert response.status == 200
    async with owner_http.get("/library/sections") as response:
        assert response.status == 200
    assert fault.fired == 1


async def test_fault_limited_to_method(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    fault = plex_server.faults.add("/identity", status=503, method="post")

    async with owner_http.get("/identity") as response:
        assert response.status == 200
    assert fault.fired == 0


async def test_times_expires_after_that_many_requests(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    plex_server.faults.add("/identity", status=500, times=2)

    statuses = []
    for _ in range(3):
        async with owner_http.get("/identity") as response:
            statuses.append(response.status)

    assert statuses == [500, 500, 200]


async def test_fault_until_cleared(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    fault = plex_server.faults.add("/identity", status=503)
    for _ in range(3):
        async with owner_http.get("/identity") as response:
            assert response.status == 503
    assert fault.fired == 3

    plex_server.faults.clear()
    async with owner_http.get("/identity") as response:
        assert response.status == 200


async def test_reset_aborts_the_connection(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    fault = plex_server.faults.add("/identity", reset=True)

    with pytest.raises(aiohttp.ClientConnectionError):
        async with owner_http.get("/identity") as response:
            await response.read()

    assert fault.fired >= 1
    plex_server.faults.remove(fault)
    async with owner_http.get("/identity") as response:
        assert response.status == 200


async def test_truncated_body(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    plex_server.faults.add("/library/sections", truncate=True, times=1)

    async with owner_http.get("/library/sections") as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


@pytest.mark.parametrize("accept", ["application/xml", "application/json"])
async def test_malformed_body(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession, accept: str
) -> None:
    plex_server.faults.add("/library/sections", malformed=True, times=1)

    async with owner_http.get(
        "/library/sections", headers={"Accept": accept}
    ) as response:
        assert response.status == 200
        body = await response.text()

    parse = json.loads if accept == "application/json" else fromstring
    with pytest.raises((ParseError, json.JSONDecodeError)):
        parse(body)


async def test_body_answers_in_the_servers_place(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    page = b"<html><body>Sign in to the guest Wi-Fi</body></html>"
    plex_server.faults.add("/status/sessions", body=page, times=1)

    async with owner_http.get(
        "/status/sessions", headers={"Accept": "application/json"}
    ) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert await response.read() == page
    async with owner_http.get("/status/sessions") as response:
        assert response.content_type != "text/html"


async def test_rewrite_changes_the_json_answer(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    plex_server.sessions.start_session(player="Living Room TV", rating_key="1")

    def null_titles(data: dict[str, Any]) -> None:
        for entry in data["MediaContainer"]["Metadata"]:
            entry["title"] = None

    fault = plex_server.faults.add("/status/sessions", rewrite=null_titles)
    json_accept = {"Accept": "application/json"}
    async with owner_http.get("/status/sessions", headers=json_accept) as response:
        assert response.content_type == "application/json"
        data = await response.json()
    assert [e["title"] for e in data["MediaContainer"]["Metadata"]] == [None]
    assert data["MediaContainer"]["Metadata"][0]["ratingKey"] == "1"
    # XML answers go out as the server made them.
    async with owner_http.get("/status/sessions") as response:
        root = fromstring(await response.text())
    assert root.find("Video").get("title")
    assert fault.fired == 2
    assert fault.as_dict()["rewrite"] is True


async def test_latency_delays_the_answer(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    # Wide margins: a busy machine may take a while to connect, and the answer
    # must still be the thing that is late.
    fault = plex_server.faults.add("/identity", latency=5, times=1)

    with pytest.raises(TimeoutError):
        async with owner_http.get("/identity", timeout=aiohttp.ClientTimeout(total=1)):
            pass

    assert fault.fired == 1


async def test_hold_keeps_the_answer_until_released(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    fault = plex_server.faults.add("/identity", hold=True)

    async def read() -> int:
        async with owner_http.get("/identity") as response:
            return response.status

    request = asyncio.create_task(read())
    await fault.held()
    assert not request.done()
    fault.release()
    assert await request == 200
    assert fault.as_dict()["hold"] is True


async def test_query_narrows_a_fault(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    fault = plex_server.faults.add(
        "/library/sections/{id}/all", status=503, query={"includeGuids": "1"}
    )

    async with owner_http.get("/library/sections/1/all") as response:
        assert response.status == 200
    async with owner_http.get(
        "/library/sections/1/all", params={"includeGuids": "1"}
    ) as response:
        assert response.status == 503
    assert fault.fired == 1
    assert fault.as_dict()["query"] == {"includeGuids": "1"}


def test_hold_alone_is_a_fault(plex_server: PlexEmulator) -> None:
    assert plex_server.faults.add("/identity", hold=True).hold
    with pytest.raises(ValueError, match="needs a kind"):
        plex_server.faults.add("/identity")


async def test_latency_with_status(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    plex_server.faults.add("/identity", latency=0.001, status=503, times=1)

    async with owner_http.get("/identity") as response:
        assert response.status == 503


async def test_ws_drop_cuts_open_websockets_once(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    socket = await owner_http.ws_connect(NOTIFICATIONS)
    fault = plex_server.faults.add(NOTIFICATIONS, ws_drop=True, times=1)

    message = await socket.receive(timeout=5)
    assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert socket.close_code != 1001  # not the clean "going away" close
    assert fault.fired == 1
    assert plex_server.faults.faults == []

    again = await owner_http.ws_connect(NOTIFICATIONS)
    assert not again.closed
    await again.close()


async def test_ws_drop_refuses_new_websockets_until_cleared(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    fault = plex_server.faults.add(NOTIFICATIONS, ws_drop=True)

    with pytest.raises(aiohttp.ClientConnectionError):
        await owner_http.ws_connect(NOTIFICATIONS)
    assert fault.fired >= 1

    plex_server.faults.clear()
    socket = await owner_http.ws_connect(NOTIFICATIONS)
    assert not socket.closed
    await socket.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": 418},
        {},
        {"status": 500, "reset": True},
        {"latency": -1},
        {"status": 500, "times": 0},
        {"content_type": "text/html"},
        {"body": b"<html/>", "malformed": True},
    ],
)
def test_bad_faults_are_refused(
    plex_server: PlexEmulator, kwargs: dict[str, object]
) -> None:
    with pytest.raises(ValueError):
        plex_server.faults.add("/identity", **kwargs)  # type: ignore[arg-type]
    assert plex_server.faults.faults == []


async def test_counts_per_template_and_path(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    plex_server.faults.add("/library/sections/2/all", status=500, times=1)
    for path in (
        "/library/sections/1/all",
        "/library/sections/2/all",
        "/library/sections/1/all",
    ):
        async with owner_http.get(path):
            pass
    async with owner_http.get("/identity"):
        pass

    faults = plex_server.faults
    assert faults.counts["/library/sections/{id}/all"] == 3
    assert faults.count("/library/sections/{id}/all") == 3
    assert faults.count("/library/sections/1/all") == 2
    assert faults.count("/library/sections/2/all") == 1  # the faulted one counts too
    assert faults.count("/identity") == 1
    assert faults.count("/status/sessions") == 0

    faults.reset_counts()
    assert faults.count("/identity") == 0
    assert not faults.counts


async def test_control_api_is_neither_counted_nor_faulted(
    plex_server: PlexEmulator, owner_http: aiohttp.ClientSession
) -> None:
    plex_server.faults.add("*", status=503)

    async with owner_http.get("/_emulator/counts") as response:
        assert response.status == 200
    async with owner_http.get("/identity") as response:
        assert response.status == 503

    assert plex_server.faults.count("/_emulator/counts") == 0
    assert plex_server.faults.count("/identity") == 1
