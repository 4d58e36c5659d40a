"""The emulated plex.tv: PIN sign-in, the account, resources; plain HTTP and python-plexapi."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
from defusedxml.ElementTree import fromstring
from plexapi.myplex import MyPlexAccount, MyPlexPinLogin
import pytest
from yarl import URL

from tests.emulator.fidelity import CAPTURES_DIR
from tests.plex_server import Clock, PlexEmulator
from tests.plex_server.plextv import (
    Connection,
    PlexTV,
    plex_direct_address,
    plex_direct_uri,
    plextv_session,
)

CLIENT_ID = "plex-bridge-test-client"
CAPTURES = CAPTURES_DIR
JSON = {"Accept": "application/json"}


@pytest.fixture
async def plextv(
    plex_server: PlexEmulator, emulator_clock: Clock
) -> AsyncIterator[PlexTV]:
    """plex.tv on loopback, listing the emulated server, owner token = the server's."""
    service = PlexTV(token=plex_server.token, clock=emulator_clock)
    service.register(plex_server)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def client(plextv: PlexTV) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of plex.tv that identifies itself as a Plex client does."""
    async with aiohttp.ClientSession(
        base_url=plextv.url, headers={"X-Plex-Client-Identifier": CLIENT_ID}
    ) as session:
        yield session


@pytest.fixture
def run_sync() -> Iterator[Callable[..., Any]]:
    """Run a synchronous client (python-plexapi) in a thread that the test joins."""
    executor = ThreadPoolExecutor(max_workers=1)

    def run(func: Callable[..., Any], *args: Any) -> Any:
        return asyncio.get_running_loop().run_in_executor(executor, func, *args)

    yield run
    executor.shutdown(wait=True)


async def test_pin_flow_end_to_end(
    plextv: PlexTV, plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    async with client.post("/api/v2/pins?strong=true", headers=JSON) as response:
        assert response.status == 201
        pin = await response.json()
    assert len(pin["code"]) == 25
    assert pin["authToken"] is None
    assert pin["clientIdentifier"] == CLIENT_ID
    assert pin["expiresIn"] == 1800

    async with client.get(f"/api/v2/pins/{pin['id']}", headers=JSON) as response:
        assert response.status == 200
        assert (await response.json())["authToken"] is None

    async with client.post(f"/_emulator/pins/{pin['id']}/claim") as response:
        assert response.status == 200

    async with client.get(f"/api/v2/pins/{pin['id']}", headers=JSON) as response:
        token = (await response.json())["authToken"]
    assert token == plextv.owner.token

    async with client.get(
        "/api/v2/user", headers={**JSON, "X-Plex-Token": token}
    ) as response:
        assert response.status == 200
        user = await response.json()
    assert user["username"] == plextv.owner.username
    assert user["authToken"] == token
    assert user["subscription"]["active"] is True

    async with client.get(
        "/api/v2/resources?includeHttps=1&includeRelay=1",
        headers={**JSON, "X-Plex-Token": token},
    ) as response:
        resources = await response.json()
    assert [r["clientIdentifier"] for r in resources] == [
        plex_server.machine_identifier
    ]
    resource = resources[0]
    assert resource["product"] == "Plex Media Server"
    assert resource["provides"] == "server"
    assert resource["owned"] is True
    assert resource["accessToken"] == plex_server.token
    assert resource["connections"] == [
        {
            "protocol": "http",
            "address": "127.0.0.1",
            "port": plex_server.port,
            "uri": plex_server.url,
            "local": True,
            "relay": False,
            "IPv6": False,
        }
    ]


async def test_claim_by_code_in_python(
    plextv: PlexTV, client: aiohttp.ClientSession
) -> None:
    async with client.post("/api/v2/pins") as response:
        assert response.status == 201
        root = fromstring(await response.text())
    assert root.tag == "pin"
    assert len(root.get("code", "")) == 4
    assert root.get("authToken") == ""

    other = plextv.add_account("guest")
    plextv.claim_pin(root.get("code", ""), "guest")

    async with client.get(f"/api/v2/pins/{root.get('id')}") as response:
        claimed = fromstring(await response.text())
    assert claimed.get("authToken") == other.token


async def test_pin_expires(
    plextv: PlexTV, client: aiohttp.ClientSession, emulator_clock: Clock
) -> None:
    pin = plextv.create_pin(CLIENT_ID)

    emulator_clock.advance(1799)
    async with client.get(f"/api/v2/pins/{pin.id}", headers=JSON) as response:
        assert (await response.json())["expiresIn"] == 1

    emulator_clock.advance(1)
    async with client.get(f"/api/v2/pins/{pin.id}", headers=JSON) as response:
        assert response.status == 404
        assert (await response.json())["errors"][0]["code"] == 1020
    with pytest.raises(KeyError):
        plextv.claim_pin(pin.id)


async def test_pin_needs_client_identifier(plextv: PlexTV) -> None:
    async with (
        aiohttp.ClientSession(base_url=plextv.url) as anonymous,
        anonymous.post("/api/v2/pins", headers=JSON) as response,
    ):
        assert response.status == 400
        body = await response.json()
    assert body["errors"][0]["message"] == "X-Plex-Client-Identifier is missing"


async def test_pin_of_another_client_is_not_found(
    plextv: PlexTV, client: aiohttp.ClientSession
) -> None:
    pin = plextv.create_pin("someone-else")
    async with client.get(f"/api/v2/pins/{pin.id}") as response:
        assert response.status == 404


@pytest.mark.parametrize("token", [None, "wrong"])
@pytest.mark.parametrize(
    "path", ["/api/v2/user", "/api/v2/resources", "/api/resources"]
)
async def test_unknown_token_is_refused(
    client: aiohttp.ClientSession, path: str, token: str | None
) -> None:
    headers = {} if token is None else {"X-Plex-Token": token}
    async with client.get(path, headers=headers) as response:
        assert response.status == 401
        root = fromstring(await response.text())
    assert root.tag == "errors"
    assert root[0].get("code") == "1001"


async def test_claim_of_unknown_pin_or_user(
    plextv: PlexTV, client: aiohttp.ClientSession
) -> None:
    async with client.post("/_emulator/pins/123/claim") as response:
        assert response.status == 404
    pin = plextv.create_pin(CLIENT_ID)
    async with client.post(
        f"/_emulator/pins/{pin.id}/claim", json={"user": "nobody"}
    ) as response:
        assert response.status == 404
    async with client.post(f"/_emulator/pins/{pin.id}/claim", data="[") as response:
        assert response.status == 400
    assert pin.auth_token is None


async def test_resources_v1_form(
    plextv: PlexTV, plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    async with client.get(
        "/api/resources?includeHttps=1&includeRelay=1",
        params={"X-Plex-Token": plextv.owner.token},
    ) as response:
        root = fromstring(await response.text())
    assert root.tag == "MediaContainer"
    assert root.get("size") == "1"
    device = root.find("Device")
    assert device is not None
    assert device.get("clientIdentifier") == plex_server.machine_identifier
    assert device.get("owned") == "1"
    connection = device.find("Connection")
    assert connection is not None
    assert connection.get("uri") == plex_server.url


async def test_other_account_sees_no_owned_servers(
    plextv: PlexTV, client: aiohttp.ClientSession
) -> None:
    guest = plextv.add_account("guest")
    async with client.get(
        "/api/v2/resources", headers={**JSON, "X-Plex-Token": guest.token}
    ) as response:
        assert await response.json() == []


async def test_friend_sees_shared_server_with_own_token(
    plextv: PlexTV, plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    shared = plex_server.library.shared_users[0]
    pin = plextv.create_pin(CLIENT_ID)
    plextv.claim_pin(pin.id, shared.name)
    friend_token = pin.auth_token
    assert friend_token is not None
    assert friend_token not in (plextv.owner.token, shared.token)

    headers = {**JSON, "X-Plex-Token": friend_token}
    async with client.get("/api/v2/resources", headers=headers) as response:
        resources = await response.json()
    assert [r["clientIdentifier"] for r in resources] == [
        plex_server.machine_identifier
    ]
    assert resources[0]["owned"] is False
    assert resources[0]["ownerId"] == plextv.owner.id
    assert resources[0]["sourceTitle"] == plextv.owner.username
    assert resources[0]["accessToken"] == shared.token

    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{plex_server.url}/library/sections",
            headers={**JSON, "X-Plex-Token": resources[0]["accessToken"]},
        ) as response,
    ):
        sections = (await response.json())["MediaContainer"]["Directory"]
    assert {int(section["key"]) for section in sections} == set(shared.section_ids)


async def test_users_lists_friends(
    plextv: PlexTV, plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    async with client.get(
        "/api/users/", headers={"X-Plex-Token": plextv.owner.token}
    ) as response:
        root = fromstring(await response.text())
    shared = plex_server.library.shared_users
    assert root.get("size") == str(len(shared))
    users = root.findall("User")
    assert [user.get("username") for user in users] == [user.name for user in shared]
    servers = [user.find("Server") for user in users]
    assert [
        server.get("machineIdentifier") for server in servers if server is not None
    ] == [plex_server.machine_identifier] * len(shared)


async def test_plexapi_pin_login_and_account(
    plextv: PlexTV, plex_server: PlexEmulator, run_sync: Callable[..., Any]
) -> None:
    session = plextv_session(plextv.url)
    try:
        login = MyPlexPinLogin(session=session)
        code = await run_sync(lambda: login.pin)
        assert len(code) == 4
        assert await run_sync(login.checkLogin) is False

        plextv.claim_pin(code)
        assert await run_sync(login.checkLogin) is True
        assert login.token == plextv.owner.token

        account = await run_sync(
            lambda: MyPlexAccount(token=login.token, session=session)
        )
        assert account.username == plextv.owner.username
        assert account.subscriptionActive is True

        resources = await run_sync(account.resources)
        assert [r.clientIdentifier for r in resources] == [
            plex_server.machine_identifier
        ]
        assert resources[0].connections[0].uri == plex_server.url
        server = await run_sync(resources[0].connect)
        assert server.machineIdentifier == plex_server.machine_identifier

        friends = await run_sync(account.users)
        assert [friend.username for friend in friends] == [
            user.name for user in plex_server.library.shared_users
        ]
        assert friends[0].servers[0].machineIdentifier == plex_server.machine_identifier
    finally:
        session.close()


async def test_plextv_counts_and_faults(
    plextv: PlexTV, client: aiohttp.ClientSession
) -> None:
    plextv.faults.add("/api/v2/pins", status=503, times=1)

    async with client.post("/api/v2/pins") as response:
        assert response.status == 503
    async with client.post("/api/v2/pins") as response:
        assert response.status == 201
    async with client.get("/_emulator/state") as response:
        state = await response.json()

    assert plextv.faults.count("/api/v2/pins") == 2
    assert len(state["pins"]) == 1


# -- several connections per server, as real plex.tv lists them ---------------------------

SERVER_HASH = "123456789001234567890"


def listed_connections(server_hash: str = SERVER_HASH) -> list[Connection]:
    """A LAN address, a public one (port forward) and plex.tv's relay, as plex.direct."""
    return [
        Connection(plex_direct_uri("192.168.1.20", 32400, server_hash), local=True),
        Connection(plex_direct_uri("203.0.113.7", 41000, server_hash), local=False),
        Connection(
            plex_direct_uri("198.51.100.3", 8443, server_hash), local=False, relay=True
        ),
        Connection("https://[2001:db8::20]:32400", local=True, ipv6=True),
    ]


@pytest.mark.usefixtures("plex_reference")  # reads a capture
def test_plex_direct_uri_has_the_captured_shape() -> None:
    """captures/plextv_resources_base.xml: address 1.2.3.4 -> 1-2-3-4.<hash>.plex.direct."""
    capture = fromstring(
        (CAPTURES / "plextv_resources_base.xml").read_text(encoding="utf-8")
    )
    for element in capture.iter("Connection"):
        if ".plex.direct" not in element.get("uri", ""):
            continue
        uri = plex_direct_uri(
            element.get("address", ""), int(element.get("port", "0")), SERVER_HASH
        )
        assert uri == element.get("uri")
        assert plex_direct_address(URL(uri).host or "") == element.get("address")


async def test_several_connections_relay_and_ipv6_on_request(
    plextv: PlexTV, plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    plextv.unregister(plex_server)
    plextv.register(plex_server, listed_connections())
    headers = {**JSON, "X-Plex-Token": plextv.owner.token}

    async with client.get(
        "/api/v2/resources?includeHttps=1", headers=headers
    ) as response:
        plain = (await response.json())[0]
    async with client.get(
        "/api/v2/resources?includeHttps=1&includeRelay=1&includeIPv6=1",
        headers=headers,
    ) as response:
        everything = (await response.json())[0]

    assert [c["uri"] for c in plain["connections"]] == [
        f"https://192-168-1-20.{SERVER_HASH}.plex.direct:32400",
        f"https://203-0-113-7.{SERVER_HASH}.plex.direct:41000",
    ]
    # Whether the server has a relay is the server's, whatever the query asks.
    assert plain["relay"] is True
    assert everything["relay"] is True
    assert everything["connections"] == [
        {
            "protocol": "https",
            "address": "192.168.1.20",
            "port": 32400,
            "uri": f"https://192-168-1-20.{SERVER_HASH}.plex.direct:32400",
            "local": True,
            "relay": False,
            "IPv6": False,
        },
        {
            "protocol": "https",
            "address": "203.0.113.7",
            "port": 41000,
            "uri": f"https://203-0-113-7.{SERVER_HASH}.plex.direct:41000",
            "local": False,
            "relay": False,
            "IPv6": False,
        },
        {
            "protocol": "https",
            "address": "198.51.100.3",
            "port": 8443,
            "uri": f"https://198-51-100-3.{SERVER_HASH}.plex.direct:8443",
            "local": False,
            "relay": True,
            "IPv6": False,
        },
        {
            "protocol": "https",
            "address": "2001:db8::20",
            "port": 32400,
            "uri": "https://[2001:db8::20]:32400",
            "local": True,
            "relay": False,
            "IPv6": True,
        },
    ]


@pytest.mark.usefixtures("plex_reference")  # reads a capture
async def test_v1_resources_list_every_connection_like_the_capture(
    plextv: PlexTV, plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    plextv.unregister(plex_server)
    plextv.register(plex_server, listed_connections())
    async with client.get(
        "/api/resources?includeHttps=1&includeRelay=1",
        params={"X-Plex-Token": plextv.owner.token},
    ) as response:
        root = fromstring(await response.text())
    device = root.find("Device")
    assert device is not None
    assert device.get("relay") == "1"
    connections = device.findall("Connection")
    assert [c.get("uri") for c in connections] == [
        f"https://192-168-1-20.{SERVER_HASH}.plex.direct:32400",
        f"https://203-0-113-7.{SERVER_HASH}.plex.direct:41000",
        f"https://198-51-100-3.{SERVER_HASH}.plex.direct:8443",
    ]
    # The captured <Connection> has exactly these attributes.
    capture = fromstring(
        (CAPTURES / "plextv_resources_one_server.xml").read_text(encoding="utf-8")
    )
    captured = capture.find("Device/Connection")
    assert captured is not None
    assert set(connections[0].attrib) == set(captured.attrib)
    assert [c.get("local") for c in connections] == ["1", "0", "0"]


async def test_presence_follows_the_server(
    plextv: PlexTV, plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    headers = {**JSON, "X-Plex-Token": plextv.owner.token}
    plextv.set_online(plex_server, False)
    async with client.get("/api/v2/resources", headers=headers) as response:
        assert (await response.json())[0]["presence"] is False
    async with client.get(
        "/api/resources", params={"X-Plex-Token": plextv.owner.token}
    ) as response:
        device = fromstring(await response.text()).find("Device")
    assert device is not None
    assert device.get("presence") == "0"
    plextv.set_online(plex_server, True)
    async with client.get("/api/v2/resources", headers=headers) as response:
        assert (await response.json())[0]["presence"] is True


async def test_listed_addresses_answer_through_add_listener(
    plextv: PlexTV, plex_server: PlexEmulator, client: aiohttp.ClientSession
) -> None:
    """A second address of the same server answers /identity as the same machine."""
    other = await plex_server.add_listener()
    plextv.unregister(plex_server)
    plextv.register(
        plex_server, [Connection(plex_server.url), Connection(other, local=False)]
    )
    async with client.get(
        "/api/v2/resources", headers={**JSON, "X-Plex-Token": plextv.owner.token}
    ) as response:
        uris = [c["uri"] for c in (await response.json())[0]["connections"]]
    assert uris == [plex_server.url, other]
    for uri in uris:
        async with client.get(f"{uri}/identity", headers=JSON) as response:
            identity = (await response.json())["MediaContainer"]
        assert identity["machineIdentifier"] == plex_server.machine_identifier
