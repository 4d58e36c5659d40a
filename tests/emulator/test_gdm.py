"""The emulator's GDM responder answers searches the way a real server does.

Fidelity: python-plexapi's own ``GDM`` scanner, unpatched except for where its socket
sends (the multicast group becomes the loopback responder), reads the answer as a
server with the right name, port and identifier.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import socket
from typing import Any

from homeassistant.core import HomeAssistant
from plexapi import gdm as plexapi_gdm
import pytest

from custom_components.plex_bridge.api.gdm import scan
from tests.emulator.test_cli import plex_server_process
from tests.plex_server import Clock, PlexEmulator
from tests.plex_server.gdm import GDM_MULTICAST_ADDRESS, GDM_SERVER_PORT, GDMResponder


@pytest.fixture
async def responder(plex_server: PlexEmulator) -> AsyncIterator[GDMResponder]:
    """A responder for the emulated server, on a free loopback port."""
    gdm = GDMResponder([plex_server])
    await gdm.start()
    yield gdm
    await gdm.stop()


@pytest.fixture
def client() -> Iterator[socket.socket]:
    """A plain UDP socket on loopback that reads without blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


def drain(sock: socket.socket) -> list[bytes]:
    """Every datagram waiting on ``sock`` (loopback delivers before sendto returns)."""
    datagrams = []
    while True:
        try:
            datagrams.append(sock.recv(65536))
        except BlockingIOError:
            return datagrams


def headers(answer: bytes) -> tuple[str, dict[str, str]]:
    """The status line and the ``Name: value`` lines of an answer."""
    status, *lines = answer.decode().split("\r\n")
    assert lines[-1] == "", "each line ends with CRLF"
    return status, dict(line.split(": ", 1) for line in lines[:-1])


async def test_answer_is_a_real_servers(
    responder: GDMResponder,
    client: socket.socket,
    plex_server: PlexEmulator,
    emulator_clock: Clock,
) -> None:
    """Status line, fields in a real server's order, one datagram per search."""
    client.sendto(b"M-SEARCH * HTTP/1.1\r\n\r\n", responder.address)
    await responder.wait_answered(1)
    [answer] = drain(client)
    status, fields = headers(answer)
    assert status == "HTTP/1.0 200 OK"
    assert list(fields) == [
        "Content-Type",
        "Resource-Identifier",
        "Name",
        "Port",
        "Updated-At",
        "Version",
        "Host",
    ]
    assert fields["Content-Type"] == "plex/media-server"
    assert fields["Resource-Identifier"] == plex_server.machine_identifier
    assert fields["Name"] == plex_server.name
    assert fields["Port"] == str(plex_server.port)
    assert fields["Updated-At"] == str(emulator_clock.timestamp())
    assert fields["Version"] == plex_server.version
    assert fields["Host"].endswith(".plex.direct")
    assert all(value.count(":") == 0 for value in fields.values())


async def test_ignores_what_is_not_a_search(
    responder: GDMResponder, client: socket.socket
) -> None:
    """Garbage, an HTTP GET and a player's HELLO get no answer; the search after does."""
    for datagram in (
        b"\x00\xff garbage",
        b"GET / HTTP/1.1\r\n\r\n",
        b"HELLO * HTTP/1.0",
    ):
        client.sendto(datagram, responder.address)
    client.sendto(b"M-SEARCH * HTTP/1.0", responder.address)
    await responder.wait_answered(1)
    assert len(responder.received) == 4
    [answer] = drain(client)
    assert answer.startswith(b"HTTP/1.0 200 OK\r\n")
    assert responder.answered == 1


async def test_several_servers_answer(
    responder: GDMResponder, client: socket.socket, plex_server: PlexEmulator
) -> None:
    """One responder for two emulators sends one answer for each, to the sender."""
    other = PlexEmulator(library="small", seed=1, name="Second Server")
    await other.start()
    try:
        responder.servers.append(other)
        client.sendto(b"M-SEARCH * HTTP/1.1\r\n\r\n", responder.address)
        await responder.wait_answered(1)
        answers = [headers(answer)[1] for answer in drain(client)]
    finally:
        await other.stop()
    assert [(a["Name"], a["Port"], a["Resource-Identifier"]) for a in answers] == [
        (plex_server.name, str(plex_server.port), plex_server.machine_identifier),
        (other.name, str(other.port), other.machine_identifier),
    ]


def _redirected_socket(address: tuple[str, int], answers: int) -> type[socket.socket]:
    """A socket class that sends GDM's multicast search to ``address`` instead.

    It reports a timeout once ``answers`` datagrams were read, which is how
    python-plexapi's scan ends (otherwise after a real second of silence).
    """

    class RedirectedSocket(socket.socket):
        left = answers

        def sendto(self, data: Any, *args: Any) -> int:
            assert args[-1] == (GDM_MULTICAST_ADDRESS, GDM_SERVER_PORT)
            return super().sendto(data, address)

        def recvfrom(self, bufsize: int, *args: Any) -> tuple[bytes, Any]:
            if RedirectedSocket.left == 0:
                raise TimeoutError
            RedirectedSocket.left -= 1
            return super().recvfrom(bufsize, *args)

    return RedirectedSocket


async def test_python_plexapi_finds_the_server(
    hass: HomeAssistant,
    responder: GDMResponder,
    plex_server: PlexEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """python-plexapi's GDM scan (``M-SEARCH * HTTP/1.0``) reads our answer."""
    other = PlexEmulator(library="small", seed=1, name="Second Server")
    await other.start()
    responder.servers.append(other)

    class SocketModule:
        """plexapi.gdm's view of ``socket``: the real module but for ``socket``."""

        def __getattr__(self, name: str) -> Any:
            return getattr(socket, name)

    module = SocketModule()
    module.socket = _redirected_socket(responder.address, answers=2)  # type: ignore[attr-defined]
    monkeypatch.setattr(plexapi_gdm, "socket", module)
    scanner = plexapi_gdm.GDM()  # type: ignore[no-untyped-call]
    try:
        await hass.async_add_executor_job(scanner.scan)
    finally:
        await other.stop()

    assert responder.received[0][0] == b"M-SEARCH * HTTP/1.0"
    found = {
        entry["data"]["Resource-Identifier"]: (
            entry["data"]["Name"],
            entry["data"]["Port"],
            entry["data"]["Content-Type"],
            entry["from"],
        )
        for entry in scanner.entries
    }
    assert found == {
        plex_server.machine_identifier: (
            plex_server.name,
            str(plex_server.port),
            "plex/media-server",
            responder.address,
        ),
        other.machine_identifier: (
            other.name,
            str(other.port),
            "plex/media-server",
            responder.address,
        ),
    }


async def test_cli_answers_gdm_for_every_server(socket_enabled: None) -> None:
    """``--gdm-port 0`` answers searches for each server and says where."""
    async with plex_server_process(
        "--library", "small", "--port", "0", "--servers", "2", "--gdm-port", "0"
    ) as running:
        host, port = running.info["gdm"].rsplit(":", 1)
        servers = await scan([(host, int(port))], window=30, expected=2)
        status, _ = await running.stop()
    assert status == 0
    assert sorted((s.machine_identifier, s.url) for s in servers) == sorted(
        (server["machineIdentifier"], server["url"])
        for server in running.info["servers"]
    )


async def test_cli_has_no_gdm_unless_asked(socket_enabled: None) -> None:
    """Without ``--gdm-port`` nothing answers GDM, and the JSON line has no ``gdm``."""
    async with plex_server_process("--library", "small", "--port", "0") as running:
        await running.stop()
    assert "gdm" not in running.info
