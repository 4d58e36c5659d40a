"""GDM ("G'Day Mate"): how a Plex Media Server answers a search on the local network.

Real servers listen on UDP 32414 (the multicast group 239.0.0.250 and the interface
addresses) and answer each ``M-SEARCH * HTTP/1.x`` datagram with one unicast
datagram back to the sender: an HTTP-shaped status line and ``Name: value`` lines,
CRLF-separated, no body::

    HTTP/1.0 200 OK
    Content-Type: plex/media-server
    Resource-Identifier: 646ab0aa8a01c543e94ba975f6fd6efadc36b7
    Name: myfirstplexserver
    Port: 32400
    Updated-At: 1585769946
    Version: 1.18.8.2527-740d4c206
    Host: 53f4b5b6023d41182fe88a99b0e714ba.plex.direct

Where the format comes from: the reference material in ``shared/plex-reference/``
has no GDM capture, so this follows python-plexapi's ``plexapi/gdm.py`` (its
``GDM.update`` docstring quotes a real server's answer, the fields and their order
above, and its parser is what Home Assistant's own Plex integration has used), and
public descriptions of real servers' answers (the status line ``HTTP/1.0 200 OK``;
servers answer plexapi's ``M-SEARCH * HTTP/1.0`` as well as ``HTTP/1.1``). No value
holds a second colon: python-plexapi splits each line on every ``:``, and real
servers' answers parse there. ``Host`` is the server's plex.direct name, not an
address; a client takes the address from the datagram's source.

``GDMResponder`` answers on one UDP socket for one or several emulators (one
datagram each, as several servers behind one address would), bound to loopback,
on an ephemeral port by default. Anything that is not an M-SEARCH is ignored, as
real servers do. Tests read ``responder.address`` and point the scanner at it::

    responder = GDMResponder([emu])
    await responder.start()          # ("127.0.0.1", <port>)
    ...
    responder.servers.append(other)  # a server that appears later
    await responder.stop()
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import PlexEmulator

GDM_SERVER_PORT = 32414
"""The port real servers answer searches on."""
GDM_MULTICAST_ADDRESS = "239.0.0.250"
"""The group real servers join (python-plexapi sends its searches there)."""


def is_search(data: bytes) -> bool:
    """Whether a datagram is a GDM search (``M-SEARCH * HTTP/1.0`` or ``/1.1``)."""
    return data.startswith(b"M-SEARCH * HTTP/1.")


def plex_direct_host(emu: PlexEmulator) -> str:
    """The plex.direct name a real server puts in ``Host`` (a 32-hex-digit label)."""
    digest = hashlib.md5(emu.machine_identifier.encode(), usedforsecurity=False)
    return f"{digest.hexdigest()}.plex.direct"


def answer(emu: PlexEmulator) -> bytes:
    """The datagram a real server sends back to a search."""
    lines = [
        "HTTP/1.0 200 OK",
        "Content-Type: plex/media-server",
        f"Resource-Identifier: {emu.machine_identifier}",
        f"Name: {emu.name}",
        f"Port: {emu.port}",
        f"Updated-At: {emu.clock.timestamp()}",
        f"Version: {emu.version}",
        f"Host: {plex_direct_host(emu)}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, responder: GDMResponder) -> None:
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.responder.received.append((data, (str(addr[0]), int(addr[1]))))
        if not is_search(data) or self.transport is None:
            return
        for emu in list(self.responder.servers):
            self.transport.sendto(answer(emu), addr)
        self.responder.answered += 1
        self.responder._wake()


class GDMResponder:
    """Answers GDM searches for the emulators in ``servers`` (a list a test may change)."""

    def __init__(self, servers: Iterable[PlexEmulator] = ()) -> None:
        self.servers: list[PlexEmulator] = list(servers)
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        """Every datagram received, with its sender (searches and anything else)."""
        self.answered = 0
        """How many searches were answered."""
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self._transport: asyncio.DatagramTransport | None = None
        self._waiters: list[asyncio.Event] = []

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on ``host:port`` (0: a free port); returns the bound address."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(host, port)
        )
        self._transport = transport
        bound = transport.get_extra_info("sockname")
        self.address = (str(bound[0]), int(bound[1]))
        return self.address

    async def stop(self) -> None:
        """Close the socket."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _wake(self) -> None:
        for event in self._waiters:
            event.set()

    async def wait_answered(self, count: int = 1) -> None:
        """Return once ``count`` searches in all have been answered (no polling)."""
        event = asyncio.Event()
        self._waiters.append(event)
        try:
            while self.answered < count:
                await event.wait()
                event.clear()
        finally:
            self._waiters.remove(event)
