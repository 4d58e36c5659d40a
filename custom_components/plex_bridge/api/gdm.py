"""GDM: find Plex Media Servers on the local network, on the event loop.

A Plex Media Server listens on UDP 32414 (the multicast group 239.0.0.250, the
address python-plexapi searches) and answers each
``M-SEARCH * HTTP/1.1`` with one datagram: ``HTTP/1.0 200 OK`` and ``Name: value``
lines (``Content-Type: plex/media-server``, ``Resource-Identifier``, ``Name``,
``Port``, ``Version``...). ``scan`` sends the search to each target from one
asyncio datagram socket (no thread, unlike python-plexapi's blocking ``GDM``),
collects the answers for a window and parses them into ``GDMServer``.

What comes off the network is untrusted: a datagram that is not a server's answer,
or lacks a usable identifier or port, is skipped (logged at debug), and network
errors end the scan with what it has instead of raising. The server's address is
the datagram's source, as for every GDM client: ``Host`` holds a plex.direct name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import ipaddress
import logging
import re
import socket
from typing import Final
from urllib.parse import urlsplit

_LOGGER = logging.getLogger(__name__)

GDM_PORT: Final = 32414
"""The port servers answer searches on."""
GDM_MULTICAST_ADDRESS: Final = "239.0.0.250"
"""The group servers join; python-plexapi (and so HA's Plex integration) searches there."""
DEFAULT_TARGETS: Final[tuple[tuple[str, int], ...]] = (
    (GDM_MULTICAST_ADDRESS, GDM_PORT),
)
DEFAULT_WINDOW: Final = 3.0
"""Seconds a scan listens for answers (servers answer within milliseconds)."""

SEARCH: Final = b"M-SEARCH * HTTP/1.1\r\n\r\n"
MAX_ANSWER_BYTES: Final = 4096
"""Real answers are a few hundred bytes; anything much larger is not one."""
MAX_NAME_LENGTH: Final = 255
_STATUS = re.compile(r"HTTP/1\.[01] 200\b")
_IDENTIFIER = re.compile(r"[\w.-]{1,128}", re.ASCII)


@dataclass(frozen=True, slots=True)
class GDMServer:
    """A server that answered a search."""

    name: str
    machine_identifier: str
    host: str
    """The address the answer came from."""
    port: int
    version: str | None

    @property
    def url(self) -> str:
        """The server's base URL on the local network (GDM carries no scheme: http)."""
        return f"http://{self.host}:{self.port}"


def parse_answer(data: bytes, host: str) -> GDMServer | None:
    """The server a datagram from ``host`` describes, or None if it is not an answer."""
    if len(data) > MAX_ANSWER_BYTES:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.splitlines()
    if not lines or not _STATUS.match(lines[0]):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers.setdefault(key.strip().lower(), value.strip())
    if headers.get("content-type") != "plex/media-server":
        return None
    identifier = headers.get("resource-identifier", "")
    if not _IDENTIFIER.fullmatch(identifier):
        return None
    port_text = headers.get("port", "")
    if not port_text.isascii() or not port_text.isdigit():
        return None
    port = int(port_text)
    if not 0 < port < 65536:
        return None
    name = headers.get("name", "")[:MAX_NAME_LENGTH] or "Plex Media Server"
    return GDMServer(
        name=name,
        machine_identifier=identifier,
        host=host,
        port=port,
        version=headers.get("version") or None,
    )


def _usable_targets(targets: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The IPv4 literal targets (no name lookups on the loop; GDM is IPv4 only)."""
    usable = []
    for host, port in targets:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            _LOGGER.debug("Skipping GDM target %r: not an IP address", host)
            continue
        if address.version != 4:
            _LOGGER.debug("Skipping GDM target %s: GDM is IPv4 only", host)
            continue
        usable.append((str(address), int(port)))
    return usable


class _ScanProtocol(asyncio.DatagramProtocol):
    """Collects answers; wakes the scan once ``expected`` servers answered."""

    def __init__(
        self,
        expected: int | None,
        on_found: Callable[[GDMServer], None] | None,
    ) -> None:
        self.found: dict[str, GDMServer] = {}
        self.done = asyncio.Event()
        self._expected = expected
        self._on_found = on_found

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        host = str(addr[0])
        server = parse_answer(data, host)
        if server is None:
            _LOGGER.debug("Ignoring a datagram from %s that is not a GDM answer", host)
            return
        if server.machine_identifier in self.found:
            return
        self.found[server.machine_identifier] = server
        _LOGGER.debug("GDM: %s (%s) at %s", server.name, server.version, server.url)
        if self._on_found is not None:
            self._on_found(server)
        if self._expected is not None and len(self.found) >= self._expected:
            self.done.set()

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("GDM socket error: %s", exc)


async def scan(
    targets: Sequence[tuple[str, int]] = DEFAULT_TARGETS,
    *,
    window: float = DEFAULT_WINDOW,
    expected: int | None = None,
    on_found: Callable[[GDMServer], None] | None = None,
) -> list[GDMServer]:
    """Search ``targets`` and return the servers that answered within ``window`` s.

    Each server is reported once (by machine identifier), in the order answers came,
    and to ``on_found`` as soon as it answers. The scan returns early once
    ``expected`` servers answered. It never raises for network errors: it logs them
    at debug and returns what it found.
    """
    usable = _usable_targets(targets)
    if not usable:
        return []
    loopback_only = all(ipaddress.ip_address(host).is_loopback for host, _ in usable)
    # Answers to a multicast search come back to whichever interface it left by.
    local = "127.0.0.1" if loopback_only else "0.0.0.0"  # noqa: S104
    loop = asyncio.get_running_loop()
    protocol = _ScanProtocol(expected, on_found)
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: protocol,
            local_addr=(local, 0),
            family=socket.AF_INET,
        )
    except OSError as err:
        _LOGGER.debug("GDM: cannot open a socket: %s", err)
        return []
    try:
        for target in usable:
            transport.sendto(SEARCH, target)
        try:
            async with asyncio.timeout(window):
                await protocol.done.wait()
        except TimeoutError:
            pass
    finally:
        transport.close()
    return list(protocol.found.values())


def is_plain_address_url(url: object) -> bool:
    """Whether ``url`` is ``http://<IP address>:<port>``: the kind GDM reports.

    Only such an address may be replaced by what GDM finds; an https URL or a host
    name was chosen on purpose and stays.
    """
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return False
    return True
