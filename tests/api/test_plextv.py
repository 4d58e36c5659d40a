"""The plex.tv client against the emulated plex.tv, beside python-plexapi.

``test_both_clients_read_the_same_servers`` is the test behind the choice written
in api/plextv.py's docstring: python-plexapi (in a thread, pointed at the emulated
plex.tv by a ``requests`` adapter) and our client read the same PIN sign-in and
the same resources; ours does it on the event loop with the one ``PLEX_TV_URL``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
import logging
from typing import Any

import aiohttp
from plexapi.myplex import MyPlexAccount, MyPlexPinLogin
import pytest

from custom_components.plex_bridge.api.connections import async_choose_connection
from custom_components.plex_bridge.api.plextv import (
    Pin,
    PinExpiredError,
    PlexTVAuthError,
    PlexTVClient,
    PlexTVUnavailableError,
    parse_resource,
)
from tests.plex_server import Clock, PlexEmulator
from tests.plex_server.plextv import Connection, PlexTV, plextv_session

CLIENT_ID = "plex-bridge-test-installation"


@pytest.fixture
async def plextv(
    plex_server: PlexEmulator, emulator_clock: Clock
) -> AsyncIterator[PlexTV]:
    service = PlexTV(token=plex_server.token, clock=emulator_clock)
    service.register(plex_server)
    await service.start()
    yield service
    await service.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def client(plextv: PlexTV, session: aiohttp.ClientSession) -> PlexTVClient:
    return PlexTVClient(session, CLIENT_ID, plextv.url)


@pytest.fixture
def run_sync() -> Iterator[Callable[..., Any]]:
    executor = ThreadPoolExecutor(max_workers=1)

    def run(func: Callable[..., Any], *args: Any) -> Any:
        return asyncio.get_running_loop().run_in_executor(executor, func, *args)

    yield run
    executor.shutdown(wait=True)


async def test_pin_sign_in(plextv: PlexTV, client: PlexTVClient) -> None:
    pin = await client.create_pin()
    assert len(pin.code) == 25
    assert pin.auth_token is None
    assert pin.expires_in == 1800
    assert plextv.find_pin(pin.id).client_identifier == CLIENT_ID
    assert plextv.find_pin(pin.id).product == "Plex Bridge"

    assert (await client.check_pin(pin.id)).auth_token is None
    plextv.claim_pin(pin.code)
    assert (await client.check_pin(pin.id)).auth_token == plextv.owner.token


def test_auth_url_names_the_code_and_the_product(client: PlexTVClient) -> None:
    url = client.auth_url(Pin(id=1, code="abc", expires_in=1800, auth_token=None))
    assert url == (
        "https://app.plex.tv/auth#?clientID=plex-bridge-test-installation&code=abc"
        "&context%5Bdevice%5D%5Bproduct%5D=Plex%20Bridge"
    )


async def test_expired_pin(
    plextv: PlexTV, client: PlexTVClient, emulator_clock: Clock
) -> None:
    pin = await client.create_pin()
    emulator_clock.advance(1800)
    with pytest.raises(PinExpiredError):
        await client.check_pin(pin.id)


async def test_resources_and_account(
    plextv: PlexTV, plex_server: PlexEmulator, client: PlexTVClient
) -> None:
    (resource,) = await client.resources(plextv.owner.token)
    assert resource.is_server
    assert resource.owned
    assert resource.presence
    assert resource.name == plex_server.name
    assert resource.client_identifier == plex_server.machine_identifier
    assert resource.access_token == plex_server.token
    assert [c.uri for c in resource.connections] == [plex_server.url]
    assert await client.username(plextv.owner.token) == plextv.owner.username


async def test_refused_token(client: PlexTVClient) -> None:
    with pytest.raises(PlexTVAuthError):
        await client.resources("not-a-token")


@pytest.mark.parametrize(
    "fault", [{"status": 503}, {"reset": True}, {"malformed": True}]
)
async def test_plex_tv_failures(
    plextv: PlexTV, client: PlexTVClient, fault: dict[str, Any]
) -> None:
    plextv.faults.add("/api/v2/pins", **fault)
    with pytest.raises(PlexTVUnavailableError):
        await client.create_pin()


async def test_unreachable(
    session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    client = PlexTVClient(session, CLIENT_ID, "http://127.0.0.1:9")
    with pytest.raises(PlexTVUnavailableError):
        await client.create_pin()


async def test_token_is_never_logged_or_in_a_url(
    plextv: PlexTV,
    client: PlexTVClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []
    record = plextv.faults.record

    def record_url(request: Any) -> None:
        seen.append(str(request.url))
        record(request)

    monkeypatch.setattr(plextv.faults, "record", record_url)
    caplog.set_level(logging.DEBUG)
    await client.resources(plextv.owner.token)
    await client.username(plextv.owner.token)
    plextv.faults.add("/api/v2/resources", status=500)
    with pytest.raises(PlexTVUnavailableError) as err:
        await client.resources(plextv.owner.token)

    assert len(seen) == 3
    assert all(plextv.owner.token not in url for url in seen)
    assert plextv.owner.token not in str(err.value)
    assert plextv.owner.token not in caplog.text


async def test_several_connections_and_shared_servers(
    plextv: PlexTV,
    plex_server: PlexEmulator,
    second_plex_server_for_api: PlexEmulator,
    client: PlexTVClient,
) -> None:
    plextv.register(
        second_plex_server_for_api,
        [
            Connection("https://192-168-1-20.abc.plex.direct:32400", local=True),
            Connection("https://203-0-113-7.abc.plex.direct:41000", local=False),
            Connection(
                "https://203-0-113-200.abc.plex.direct:8443", local=False, relay=True
            ),
        ],
    )
    friend = plex_server.library.shared_users[0]
    pin = plextv.create_pin(CLIENT_ID)
    plextv.claim_pin(pin.id, friend.name)
    token = (await client.check_pin(pin.id)).auth_token
    assert token is not None

    first, second = await client.resources(token)
    assert not first.owned
    assert first.source_title == plextv.owner.username
    assert first.access_token == friend.token
    assert [c.rank for c in second.connections] == [0, 1, 2]
    assert [c.uri for c in second.connections_by_preference()] == [
        "https://192-168-1-20.abc.plex.direct:32400",
        "https://203-0-113-7.abc.plex.direct:41000",
        "https://203-0-113-200.abc.plex.direct:8443",
    ]


@pytest.fixture
async def second_plex_server_for_api(
    emulator_clock: Clock,
) -> AsyncIterator[PlexEmulator]:
    emu = PlexEmulator(library="small", seed=1, name="Second", clock=emulator_clock)
    await emu.start()
    yield emu
    await emu.stop()


def test_parse_resource_reads_string_flags_and_skips_broken_connections() -> None:
    resource = parse_resource(
        {
            "clientIdentifier": "abc",
            "provides": "client,server",
            "owned": "1",
            "presence": "0",
            "connections": [{"uri": "http://a:1/", "local": "1"}, {"local": True}],
        }
    )
    assert resource.is_server
    assert resource.owned
    assert not resource.presence
    assert resource.name == "abc"
    assert resource.access_token is None
    assert [(c.uri, c.local, c.relay) for c in resource.connections] == [
        ("http://a:1", True, False)
    ]
    with pytest.raises(ValueError, match="clientIdentifier"):
        parse_resource({"name": "no id"})


async def test_both_clients_read_the_same_servers(
    plextv: PlexTV,
    plex_server: PlexEmulator,
    client: PlexTVClient,
    run_sync: Callable[..., Any],
) -> None:
    """python-plexapi and our client: the same sign-in, the same resources."""
    requests_session = plextv_session(plextv.url)
    try:
        login = MyPlexPinLogin(session=requests_session)
        code = await run_sync(lambda: login.pin)
        plextv.claim_pin(code)
        assert await run_sync(login.checkLogin) is True
        account = await run_sync(
            lambda: MyPlexAccount(token=login.token, session=requests_session)
        )
        theirs = await run_sync(account.resources)
    finally:
        requests_session.close()

    pin = await client.create_pin()
    plextv.claim_pin(pin.id)
    token = (await client.check_pin(pin.id)).auth_token
    assert token == login.token
    ours = await client.resources(token)

    assert [
        (r.name, r.clientIdentifier, r.accessToken, [c.uri for c in r.connections])
        for r in theirs
        if "server" in r.provides
    ] == [
        (r.name, r.client_identifier, r.access_token, [c.uri for c in r.connections])
        for r in ours
        if r.is_server
    ]


async def test_plexapi_connect_sends_the_token_to_every_address(
    plextv: PlexTV,
    plex_server: PlexEmulator,
    second_plex_server_for_api: PlexEmulator,
    run_sync: Callable[..., Any],
    session: aiohttp.ClientSession,
) -> None:
    """A listed address that is another machine now gets python-plexapi's token.

    api/connections.py asks it for ``/identity`` without one.
    """
    other = second_plex_server_for_api
    plextv.unregister(plex_server)
    plextv.register(plex_server, [Connection(other.url), Connection(plex_server.url)])
    seen: list[str | None] = []
    record = other.faults.record

    def record_token(request: Any) -> None:
        seen.append(
            request.headers.get("X-Plex-Token") or request.query.get("X-Plex-Token")
        )
        record(request)

    other.faults.record = record_token  # type: ignore[method-assign]
    requests_session = plextv_session(plextv.url)
    try:
        account = await run_sync(
            lambda: MyPlexAccount(token=plextv.owner.token, session=requests_session)
        )
        (resource,) = await run_sync(account.resources)
        await run_sync(resource.connect)
    finally:
        requests_session.close()
    assert plex_server.token in seen

    seen.clear()
    choice = await async_choose_connection(
        session, [c.uri for c in resource.connections], plex_server.machine_identifier
    )
    assert choice.url == plex_server.url
    assert seen == [None]
