"""The GDM scanner against the emulator's loopback responders, and its parser.

No test waits out a window: scans that expect answers return once they came
(``expected=``), and scans that expect none use a window of 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
import logging

import pytest

from custom_components.plex_bridge.api.gdm import (
    DEFAULT_TARGETS,
    GDMServer,
    parse_answer,
    scan,
)
from tests.plex_server import PlexEmulator
from tests.plex_server.gdm import GDMResponder, answer, is_search


@pytest.fixture
async def second_server(plex_server: PlexEmulator) -> AsyncIterator[PlexEmulator]:
    """Another emulated server, with its own identifier and port."""
    emu = PlexEmulator(
        library="small", seed=1, name="Second Server", clock=plex_server.clock
    )
    await emu.start()
    yield emu
    await emu.stop()


async def start_responder(servers: Iterable[PlexEmulator]) -> GDMResponder:
    responder = GDMResponder(servers)
    await responder.start()
    return responder


def found(emu: PlexEmulator) -> GDMServer:
    """What a scan should report for ``emu``."""
    return GDMServer(
        name=emu.name,
        machine_identifier=emu.machine_identifier,
        host="127.0.0.1",
        port=emu.port,
        version=emu.version,
    )


async def test_finds_two_servers(
    plex_server: PlexEmulator, second_server: PlexEmulator
) -> None:
    """Two responders (two targets, as two hosts would be): both servers, with URLs."""
    first = await start_responder([plex_server])
    second = await start_responder([second_server])
    try:
        servers = await scan([first.address, second.address], window=30, expected=2)
    finally:
        await first.stop()
        await second.stop()
    assert sorted(servers, key=lambda s: s.name) == [
        found(plex_server),
        found(second_server),
    ]
    assert {server.url for server in servers} == {plex_server.url, second_server.url}
    assert [data for data, _ in first.received] == [b"M-SEARCH * HTTP/1.1\r\n\r\n"]


async def test_reports_each_server_as_it_answers(
    plex_server: PlexEmulator, second_server: PlexEmulator
) -> None:
    """``on_found`` hears each server once, even when two targets reach the same one."""
    responder = await start_responder([plex_server, second_server])
    echo = await start_responder([plex_server])
    heard: list[str] = []
    try:
        servers = await scan(
            [responder.address, echo.address],
            window=30,
            expected=2,
            on_found=lambda server: heard.append(server.machine_identifier),
        )
        await echo.wait_answered(1)
    finally:
        await responder.stop()
        await echo.stop()
    assert heard == [s.machine_identifier for s in servers]
    assert sorted(heard) == sorted(
        [plex_server.machine_identifier, second_server.machine_identifier]
    )


BAD_ANSWERS = [
    b"\xff\xfe not utf-8",
    b"",
    b"M-SEARCH * HTTP/1.1\r\n\r\n",
    (
        b"HTTP/1.0 404 Not Found\r\nContent-Type: plex/media-server\r\n"
        b"Resource-Identifier: abc\r\nPort: 32400\r\n"
    ),
    (
        b"HTTP/1.0 200 OK\r\nContent-Type: plex/media-player\r\n"
        b"Resource-Identifier: player\r\nName: A player\r\nPort: 32500\r\n"
    ),
    b"HTTP/1.0 200 OK\r\nResource-Identifier: notype\r\nPort: 32400\r\n",
    (
        b"HTTP/1.0 200 OK\r\nContent-Type: plex/media-server\r\nName: no id\r\n"
        b"Port: 32400\r\n"
    ),
    (
        b"HTTP/1.0 200 OK\r\nContent-Type: plex/media-server\r\n"
        b"Resource-Identifier: has spaces\r\nPort: 32400\r\n"
    ),
    (
        b"HTTP/1.0 200 OK\r\nContent-Type: plex/media-server\r\n"
        b"Resource-Identifier: noport\r\n"
    ),
    (
        b"HTTP/1.0 200 OK\r\nContent-Type: plex/media-server\r\n"
        b"Resource-Identifier: badport\r\nPort: http\r\n"
    ),
    (
        b"HTTP/1.0 200 OK\r\nContent-Type: plex/media-server\r\n"
        b"Resource-Identifier: zeroport\r\nPort: 0\r\n"
    ),
    (
        b"HTTP/1.0 200 OK\r\nContent-Type: plex/media-server\r\n"
        b"Resource-Identifier: bigport\r\nPort: 70000\r\n"
    ),
    (
        b"HTTP/1.0 200 OK\r\nContent-Type: plex/media-server\r\n"
        b"Resource-Identifier: huge\r\nPort: 32400\r\nName: " + b"x" * 5000 + b"\r\n"
    ),
]


class NoisyResponder(asyncio.DatagramProtocol):
    """Answers a search with garbage and malformed answers, then the real ones."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to answer on."""
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        """Send every answer back to whoever searched."""
        assert self.transport is not None
        if is_search(data):
            for datagram in self.answers:
                self.transport.sendto(datagram, addr)


async def test_ignores_garbage_and_malformed_answers(
    plex_server: PlexEmulator,
    second_server: PlexEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only well-formed server answers count; a repeated identifier counts once.

    Datagrams from one socket arrive in order, so the bad ones were all read before
    the last good one ended the scan.
    """
    duplicate = answer(plex_server).replace(
        plex_server.name.encode(), b"Same identifier, other name"
    )
    noisy = NoisyResponder(
        [*BAD_ANSWERS, answer(plex_server), duplicate, answer(second_server)]
    )
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: noisy, local_addr=("127.0.0.1", 0)
    )
    caplog.set_level(logging.DEBUG, logger="custom_components.plex_bridge.api.gdm")
    try:
        servers = await scan(
            [transport.get_extra_info("sockname")], window=30, expected=2
        )
    finally:
        transport.close()
    assert servers == [found(plex_server), found(second_server)]
    assert caplog.text.count("is not a GDM answer") == len(BAD_ANSWERS)


async def test_silence_ends_with_the_window(socket_enabled: None) -> None:
    """Nobody answers: the scan returns nothing once the window is over."""
    assert await scan([("127.0.0.1", 9)], window=0) == []


async def test_network_errors_do_not_raise(
    socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused send is logged at debug; names and IPv6 are skipped, not looked up."""
    caplog.set_level(logging.DEBUG, logger="custom_components.plex_bridge.api.gdm")
    assert await scan([("127.0.0.1", 0)], window=0) == []
    assert "GDM socket error" in caplog.text
    assert await scan([("plex.local", 32414), ("::1", 32414)], window=30) == []
    assert "not an IP address" in caplog.text
    assert "IPv4 only" in caplog.text


def test_default_target_is_plex_multicast_group() -> None:
    """By default the scan searches where python-plexapi does."""
    assert DEFAULT_TARGETS == (("239.0.0.250", 32414),)


def test_parse_reads_fields_loosely() -> None:
    """Header names in any case, a colon inside a value, no name, no version."""
    server = parse_answer(
        b"HTTP/1.1 200 OK\r\ncontent-type: plex/media-server\r\n"
        b"RESOURCE-IDENTIFIER: 0123abcd\r\nname: Den: upstairs\r\nport: 32401\r\n",
        "192.0.2.7",
    )
    assert server == GDMServer(
        name="Den: upstairs",
        machine_identifier="0123abcd",
        host="192.0.2.7",
        port=32401,
        version=None,
    )
    assert server.url == "http://192.0.2.7:32401"
    unnamed = parse_answer(
        b"HTTP/1.0 200 OK\nContent-Type: plex/media-server\n"
        b"Resource-Identifier: x1\nPort: 32400\nVersion: 1.2.3\n",
        "192.0.2.8",
    )
    assert unnamed is not None
    assert (unnamed.name, unnamed.version) == ("Plex Media Server", "1.2.3")


@pytest.mark.parametrize("datagram", BAD_ANSWERS)
def test_parse_rejects(datagram: bytes) -> None:
    """Each malformed answer on its own is not a server."""
    assert parse_answer(datagram, "192.0.2.9") is None
