"""Simulated Plex players: the devices that play, and that a remote can control.

Each ``Player`` is a device with the identity a real one advertises
(``machineIdentifier``, ``product``, ``platform``, ``protocolCapabilities`` ...) and a
playback state (``state``, current play queue, ``volume``, ``shuffle``,
``repeat``). What it is playing lives in ``emu.sessions`` (the live session of the
player); the player keeps the session key and the play queue it plays from.

The server lists players at ``/clients`` (``client_nodes``, served by
``server_routes``) and proxies remote-control commands to them
(``/player/...`` with ``X-Plex-Target-Client-Identifier``, see ``playqueues``).
``playqueues.PlaybackControl`` applies one such command to a player and records
it in ``PlayerRegistry.commands``.

How real players answer a proxied command (the server passes the answer through):

- most answer ``<Response code="200" status="OK"/>``;
- Plex for Android (TV) and Plexamp answer the bare text ``OK`` (python-plexapi's
  ``PlexClient.sendCommand`` carries a workaround naming exactly these products);
- Plex Web does not take remote control: the server answers ``406 Not Acceptable``
  (python-plexapi issue #158 reports it for "Plex Web (Chrome)"; HA core issue
  #13300 shows the same 406 from another player that would not be controlled);
- a command a player does not know gets ``400`` "Error processing player command"
  (python-plexapi issue #586 shows the player's HTML answer).

The default players:

=====================  ==========================  ==================================
title                  product                     notes
=====================  ==========================  ==================================
Living Room TV         Plex for Android (TV)       SHIELD, answers ``OK``
Bedroom                Plex HTPC for Mac           navigation, no mirror
Chrome                 Plex Web                    refuses control (406)
Kitchen                Plexamp                     music, answers ``OK``
=====================  ==========================  ==================================

The players are not reachable at their advertised address (nothing listens there;
they run no ``/resources`` of their own): control goes through the server, as
python-plexapi's ``PlexClient.proxyThroughServer()`` sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from .node import Node

if TYPE_CHECKING:
    from .server import PlexEmulator

STOPPED = "stopped"
PLAYING = "playing"
PAUSED = "paused"
BUFFERING = "buffering"

REPLY_XML = "xml"
REPLY_OK = "ok"


class PlayerCommand(NamedTuple):
    """One remote-control command a player received."""

    machine_identifier: str
    command: str
    """``controller/command``, e.g. ``playback/pause``."""
    params: dict[str, str]
    command_id: int | None
    accepted: bool
    """False when the player refused control (Plex Web)."""


@dataclass
class Player:
    """One simulated player: its identity and its playback state."""

    machine_identifier: str
    title: str
    product: str
    platform: str
    platform_version: str
    device: str
    device_class: str
    model: str
    vendor: str
    version: str
    address: str
    port: int
    protocol_capabilities: str
    protocol_version: str = "1"
    profile: str | None = None
    public_address: str = "203.0.113.20"
    controllable: bool = True
    reply: str = REPLY_XML
    user_id: int | None = None
    """The account signed in on the player (``None``: the server owner)."""
    state: str = STOPPED
    volume: int = 100
    shuffle: int = 0
    repeat: int = 0
    session_key: str | None = None
    play_queue_id: int | None = None
    termination_reason: str | None = None
    """The ``reason`` of the last ``/status/sessions/terminate`` that stopped it."""
    device_id: int = 0
    """The server's id for the device (``deviceID`` in history); set by the registry."""

    @property
    def capabilities(self) -> list[str]:
        """``protocolCapabilities`` as a list."""
        return [cap for cap in self.protocol_capabilities.split(",") if cap]

    # -- elements ---------------------------------------------------------------------

    def client_node(self) -> Node:
        """The ``Server`` element of ``/clients`` (as in captures/plex_server_clients.xml)."""
        return Node(
            "Server",
            {
                "name": self.title,
                "host": self.address,
                "address": self.address,
                "port": self.port,
                "machineIdentifier": self.machine_identifier,
                "version": self.version,
                "protocol": "plex",
                "product": self.product,
                "deviceClass": self.device_class,
                "protocolVersion": self.protocol_version,
                "protocolCapabilities": self.protocol_capabilities,
            },
        )

    def session_node(self, *, state: str, user_id: int | None, local: bool) -> Node:
        """The ``Player`` child of a ``/status/sessions`` item (as in session_base.xml)."""
        return Node(
            "Player",
            {
                "address": self.address if local else self.public_address,
                "device": self.device,
                "deviceClass": self.device_class,
                "local": local,
                "machineIdentifier": self.machine_identifier,
                "model": self.model,
                "platform": self.platform,
                "platformVersion": self.platform_version,
                "product": self.product,
                "profile": self.profile,
                "protocolVersion": self.protocol_version,
                "relayed": False,
                "remotePublicAddress": self.public_address,
                "secure": True,
                "state": state,
                "title": self.title,
                "userID": user_id,
                "vendor": self.vendor,
                "version": self.version,
            },
        )


def default_players() -> list[Player]:
    """The players every emulated server starts with (see the module docstring)."""
    return [
        Player(
            machine_identifier="1234567890123456-com-plexapp-android",
            title="Living Room TV",
            product="Plex for Android (TV)",
            platform="Android",
            platform_version="11",
            device="SHIELD Android TV",
            device_class="stb",
            model="mdarcy",
            vendor="NVIDIA",
            version="10.12.0.1071",
            address="127.0.0.1",
            port=32500,
            protocol_capabilities="timeline,playback,navigation,mirror,playqueues,provider-playback",
            profile="Android",
            reply=REPLY_OK,
        ),
        Player(
            machine_identifier="plex-htpc-bedroom-0001",
            title="Bedroom",
            product="Plex HTPC for Mac",
            platform="osx",
            platform_version="13.5",
            device="Mac",
            device_class="pc",
            model="standalone",
            vendor="Apple",
            version="1.33.2.3525-140e01eb",
            address="127.0.0.1",
            port=32433,
            protocol_capabilities="timeline,playback,navigation,playqueues",
            protocol_version="3",
            profile="Plex HTPC",
        ),
        Player(
            machine_identifier="plexweb-chrome-0001",
            title="Chrome",
            product="Plex Web",
            platform="Chrome",
            platform_version="120.0",
            device="Linux",
            device_class="pc",
            model="hosted",
            vendor="",
            version="4.118.0",
            address="127.0.0.1",
            port=32400,
            protocol_capabilities="timeline,playback,navigation,mirror,playqueues",
            protocol_version="3",
            profile="Web",
            controllable=False,
        ),
        Player(
            machine_identifier="plexamp-kitchen-0001",
            title="Kitchen",
            product="Plexamp",
            platform="Linux",
            platform_version="6.1",
            device="Raspberry Pi",
            device_class="speaker",
            model="headless",
            vendor="Raspberry Pi Foundation",
            version="4.10.1",
            address="127.0.0.1",
            port=32500,
            protocol_capabilities="timeline,playback,playqueues,playqueues-creation,provider-playback",
            profile="Plexamp",
            reply=REPLY_OK,
        ),
    ]


class PlayerRegistry:
    """The simulated players of one emulated server.

    Python API (for tests, the control API and the demo):

    - ``get(id_or_title)`` / ``require(...)``: look a player up;
    - ``add(player)`` / ``remove(machine_identifier)``: change the set;
    - ``commands``: every remote-control command received, in order;
    - ``client_nodes()``: the ``/clients`` elements.
    """

    def __init__(self, emu: PlexEmulator, players: list[Player] | None = None) -> None:
        self.emu = emu
        self._players: dict[str, Player] = {}
        self.commands: list[PlayerCommand] = []
        self._next_device_id = 0
        for player in players if players is not None else default_players():
            self.add(player)

    def __iter__(self) -> Iterator[Player]:
        """The players, in the order they were added."""
        return iter(list(self._players.values()))

    def __len__(self) -> int:
        """How many players there are."""
        return len(self._players)

    def add(self, player: Player) -> Player:
        """Add (or replace) a player, keyed by its machine identifier."""
        if not player.device_id:
            self._next_device_id += 1
            player.device_id = self._next_device_id
        self._players[player.machine_identifier] = player
        return player

    def remove(self, machine_identifier: str) -> Player | None:
        """Take a player away (its session, if any, is left to ``sessions``)."""
        return self._players.pop(machine_identifier, None)

    def get(self, key: str | Player) -> Player | None:
        """A player by machine identifier or, failing that, by title."""
        if isinstance(key, Player):
            return key
        if key in self._players:
            return self._players[key]
        return next((p for p in self._players.values() if p.title == key), None)

    def by_identifier(self, machine_identifier: str) -> Player | None:
        """A player by its exact machine identifier (what ``X-Plex-Target-Client-Identifier`` names)."""
        return self._players.get(machine_identifier)

    def require(self, key: str | Player) -> Player:
        """Like ``get`` but raises ``KeyError`` for an unknown player."""
        player = self.get(key)
        if player is None:
            raise KeyError(f"unknown player: {key!r}")
        return player

    def client_nodes(self) -> list[Node]:
        """The ``Server`` elements of ``/clients``, one per player."""
        return [player.client_node() for player in self._players.values()]

    def record(
        self, player: Player, command: str, params: dict[str, str], *, accepted: bool
    ) -> PlayerCommand:
        """Remember one command sent to a player (``accepted``: it took control)."""
        raw_id = params.get("commandID")
        command_id = int(raw_id) if raw_id is not None and raw_id.isdigit() else None
        entry = PlayerCommand(
            player.machine_identifier, command, dict(params), command_id, accepted
        )
        self.commands.append(entry)
        return entry
