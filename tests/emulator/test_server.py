"""The emulated server's own endpoints and its token checks, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from xml.etree.ElementTree import Element

import aiohttp
from defusedxml.ElementTree import fromstring
import pytest

from tests.plex_server import PlexEmulator
from tests.plex_server.server_routes import updater


@pytest.fixture
async def http(plex_server: PlexEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session without a token (each test passes the one it wants)."""
    async with aiohttp.ClientSession(base_url=plex_server.url) as session:
        yield session


async def fetch(
    http: aiohttp.ClientSession, path: str, token: str | None, **kwargs: Any
) -> tuple[int, str, str]:
    """Status, content type and body of a GET sent with a token header (or none)."""
    headers = {
        **kwargs.pop("headers", {}),
        **({"X-Plex-Token": token} if token else {}),
    }
    async with http.get(path, headers=headers, **kwargs) as response:
        return response.status, response.content_type, await response.text()


async def xml(
    http: aiohttp.ClientSession, path: str, token: str, **kwargs: Any
) -> Element:
    """The parsed XML answer to an authorised GET (asserts 200)."""
    status, _, body = await fetch(http, path, token, **kwargs)
    assert status == 200, body
    return fromstring(body)


def shared_token(emu: PlexEmulator, name: str) -> str:
    """The token of one of the library's shared users."""
    return next(user.token for user in emu.library.shared_users if user.name == name)


# -- server endpoints ----------------------------------------------------------------


async def test_root(http: aiohttp.ClientSession, plex_server: PlexEmulator) -> None:
    """``/`` describes the server like ``plex_server_base.xml``, in XML and JSON."""
    root = await xml(http, "/", plex_server.token)
    assert root.attrib["friendlyName"] == plex_server.name
    assert root.attrib["machineIdentifier"] == plex_server.machine_identifier
    assert root.attrib["version"] == plex_server.version
    assert root.attrib["myPlex"] == "1"
    assert root.attrib["transcoderVideo"] == "1"
    assert root.attrib["platform"] == "Linux"
    directories = {d.attrib["key"] for d in root.findall("Directory")}
    assert {"library", "clients", "playQueues", "hubs"} <= directories
    assert root.attrib["size"] == str(len(directories))
    status, content_type, _ = await fetch(
        http, "/", plex_server.token, headers={"Accept": "application/json"}
    )
    assert (status, content_type) == (200, "application/json")
    async with http.get(
        "/", headers={"X-Plex-Token": plex_server.token, "Accept": "application/json"}
    ) as response:
        data = (await response.json())["MediaContainer"]
    assert data["myPlex"] is True
    assert data["transcoderActiveVideoSessions"] == 0
    assert data["Directory"][0] == {
        "count": 1,
        "key": "activities",
        "title": "activities",
    }


async def test_identity_needs_no_token(
    http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``/identity`` answers anyone, as real Plex does."""
    status, _, body = await fetch(http, "/identity", None)
    assert status == 200
    attrs = fromstring(body).attrib
    assert attrs == {
        "size": "0",
        "claimed": "1",
        "machineIdentifier": plex_server.machine_identifier,
        "version": plex_server.version,
    }


async def test_accounts(http: aiohttp.ClientSession, plex_server: PlexEmulator) -> None:
    """``/accounts``: the system account, the owner and the shared users."""
    root = await xml(http, "/accounts", plex_server.token)
    assert root.attrib["identifier"] == "com.plexapp.system.accounts"
    accounts = [(a.attrib["id"], a.attrib["name"]) for a in root]
    assert accounts == [
        ("0", ""),
        ("1", plex_server.owner_name),
        ("1000", "Sam"),
        ("1001", "Alex"),
    ]
    assert root[1].attrib["key"] == "/accounts/1"
    one = await xml(http, "/accounts/1000", plex_server.token)
    assert one[0].attrib["name"] == "Sam"


async def test_myplex_account(
    http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``/myplex/account`` is a ``MyPlex`` element: signed in and mapped."""
    root = await xml(http, "/myplex/account", plex_server.token)
    assert root.tag == "MyPlex"
    assert root.attrib["signInState"] == "ok"
    assert root.attrib["mappingState"] == "mapped"
    assert root.attrib["subscriptionActive"] == "1"
    assert root.attrib["privatePort"] == str(plex_server.port)


async def test_updater_status(
    http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``/updater/status`` reports the running version until a release is announced."""
    root = await xml(http, "/updater/status", plex_server.token)
    assert root.attrib["canInstall"] == "0"
    assert root[0].tag == "Release"
    assert root[0].attrib["version"] == plex_server.version
    state = updater(plex_server)
    state.available = True
    state.can_install = True
    root = await xml(http, "/updater/status", plex_server.token)
    assert root.attrib["canInstall"] == "1"
    assert root[0].attrib["version"] == state.version
    assert root[0].attrib["fixed"] == "Summary of\nrelease notes"


async def test_clients(http: aiohttp.ClientSession, plex_server: PlexEmulator) -> None:
    """``/clients`` lists the simulated players as ``Server`` elements."""
    root = await xml(http, "/clients", plex_server.token)
    assert root.attrib["size"] == str(len(root)) == str(len(plex_server.players))
    assert all(server.tag == "Server" for server in root)
    assert all(
        "machineIdentifier" in server.attrib and "port" in server.attrib
        for server in root
    )


# -- tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/library/sections", "/library/metadata/1", "/:/websockets/notifications"],
)
async def test_missing_or_wrong_token_is_unauthorized(
    http: aiohttp.ClientSession, plex_server: PlexEmulator, path: str
) -> None:
    """No token, or a wrong one, gets 401 with an HTML page."""
    for token in (None, "not-a-token"):
        status, content_type, body = await fetch(http, path, token)
        assert (status, content_type) == (401, "text/html")
        assert "401 Unauthorized" in body


async def test_token_as_header_or_query(
    http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """The token works as the X-Plex-Token header and as the query parameter."""
    status, _, _ = await fetch(http, "/library/sections", plex_server.token)
    assert status == 200
    status, _, _ = await fetch(
        http, "/library/sections", None, params={"X-Plex-Token": plex_server.token}
    )
    assert status == 200


async def test_control_api_bypasses_plex_auth(http: aiohttp.ClientSession) -> None:
    """Paths under ``/_emulator/`` are not Plex's: no token is asked for."""
    status, _, _ = await fetch(http, "/_emulator/nothing-here", None)
    assert status == 404


async def test_shared_user_sees_only_its_sections(
    http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """Sam sees Movies and TV Shows; music, owner-only endpoints and playlists are not his."""
    sam = shared_token(plex_server, "Sam")
    sections = await xml(http, "/library/sections", sam)
    assert [d.attrib["title"] for d in sections] == ["Movies", "TV Shows"]
    movies = await xml(http, "/library/sections/1/all", sam)
    assert int(movies.attrib["size"]) > 0
    track = plex_server.library.sections[3].by_kind["track"][0]
    for path in (
        "/library/sections/3/all",
        f"/library/metadata/{track.rating_key}",
        f"{track.thumb}",
    ):
        status, _, _ = await fetch(http, path, sam)
        assert status == 404, path
    mixed = await xml(http, f"/library/metadata/1,{track.rating_key}", sam)
    assert [v.attrib["ratingKey"] for v in mixed] == ["1"]
    search = await xml(http, "/hubs/search", sam, params={"query": "a", "limit": "50"})
    assert {hub.attrib["type"] for hub in search} <= {
        "movie",
        "show",
        "episode",
        "collection",
    }
    playlists = await xml(http, "/playlists", sam)
    assert playlists.attrib["size"] == "0"
    for path in ("/library", "/accounts", "/library/sections/1/refresh"):
        status, _, _ = await fetch(http, path, sam)
        assert status == 403, path
    status, _, _ = await fetch(http, "/identity", sam)
    assert status == 200


async def test_other_shared_user(
    http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """Alex sees only Music."""
    alex = shared_token(plex_server, "Alex")
    sections = await xml(http, "/library/sections", alex)
    assert [d.attrib["title"] for d in sections] == ["Music"]
    status, _, _ = await fetch(http, "/library/metadata/1", alex)
    assert status == 404
