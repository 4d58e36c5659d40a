"""Play queues (``/playQueues``) and remote control (``/player/...``) through the server.

Play queues
    ``POST /playQueues?type=video&uri=...&shuffle=0&repeat=0&continuous=0&own=1`` (or
    ``playlistID=``) makes a queue; ``GET /playQueues/{id}`` reads it (``window``,
    ``center``, ``includeBefore``, ``includeAfter``). Accepted ``uri`` forms: the
    ``server://<machineIdentifier>/com.plexapp.plugins.library/library/metadata/<id>``
    that python-plexapi's ``PlayQueue.create`` sends for one item, its
    ``library:///directory/<quoted /library/metadata/1,2,3>`` for several, and
    ``.../library/sections/<id>/all`` for a whole section. Shows, seasons, artists
    and albums expand to their leaves; ``continuous=1`` on an episode queues the
    rest of its show. Answers look like ``captures/playqueue_created.xml`` /
    ``playqueue_1234.xml``: ``playQueueID``, ``playQueueSelectedItemID``,
    ``playQueueSelectedItemOffset``, ``playQueueSelectedMetadataItemID``,
    ``playQueueVersion``, ``playQueueTotalCount``, and items carrying
    ``playQueueItemID`` (on the item and, as in ``playqueue_created.xml``, on its
    ``Media``). Bad requests get ``400``, unknown queues ``404`` (the spec).

Transient tokens
    ``/security/token?type=delegation&scope=all`` hands out the token that
    python-plexapi's ``playMedia`` passes to the player (``security_token.xml``).

Remote control
    ``/player/<controller>/<command>?...&commandID=N`` with the target player in the
    ``X-Plex-Target-Client-Identifier`` header (or query parameter), exactly as
    python-plexapi's ``PlexClient.sendCommand`` sends it after
    ``proxyThroughServer()``. ``PlaybackControl`` applies the command to the
    simulated player and records it in ``emu.players.commands``:

    - ``playback/playMedia`` (``key``, ``offset``, ``containerKey=/playQueues/<id>``,
      ``paused``): play the queue's item for the player's account;
    - ``playback/play`` / ``pause`` / ``stop`` / ``seekTo`` (``offset``) /
      ``stepForward`` / ``stepBack`` / ``skipNext`` / ``skipPrevious`` / ``skipTo``
      (``key``): change the session;
    - ``playback/setParameters`` (``volume`` 0-100, ``shuffle`` 0/1, ``repeat``
      0/1/2), ``playback/setStreams``, ``playback/refreshPlayQueue``;
    - ``timeline/poll`` answers the player's ``Timeline`` elements;
      ``timeline/subscribe`` / ``unsubscribe`` and ``navigation/*`` are accepted.

    Answers (see ``players`` for the evidence): the player's own reply
    (``<Response code="200" status="OK"/>`` or ``OK``); ``406`` from a player that
    refuses control (Plex Web); ``400`` "Error processing player command" for a
    command the player does not know or cannot carry out; ``500`` with
    ``<Response code="2000" status="FrameworkException: Unable to find player with
    identifier ..."/>`` for an unknown target (the answer PMS gave in
    Hellowlol/bw_plex issue #141); ``400`` when no target is named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import random
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from .auth import user_for_request
from .items import IDENTIFIER, library_container_attrs
from .node import Node, xml_value
from .players import PAUSED, PLAYING, REPLY_OK, STOPPED, Player
from .responses import error, media_container

if TYPE_CHECKING:
    from .items import Item
    from .server import PlexEmulator
    from .sessions import PlaySession

DEFAULT_WINDOW = 50
QUEUE_TYPES = ("video", "audio", "photo")
STEP_FORWARD_MS = 30_000
STEP_BACK_MS = 15_000
TARGET_HEADER = "X-Plex-Target-Client-Identifier"

_METADATA_IDS = re.compile(r"/library/metadata/(\d+(?:,\d+)*)")
_SECTION_ALL = re.compile(r"/library/sections/(\d+)/all")
_QUEUE_KEY = re.compile(r"^/playQueues/(\d+)")
_RESPONSE_OK = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Response code="200" status="OK" />\n'
)


class PlayQueueError(ValueError):
    """A play queue request that Plex would answer with 400."""


@dataclass(eq=False)
class PlayQueue:
    """One play queue: items with their ``playQueueItemID``, a selection, a version."""

    id: int
    entries: list[tuple[int, Item]]
    source_uri: str
    shuffled: bool = False
    selected: int = 0
    version: int = 1

    @property
    def selected_item(self) -> Item | None:
        """The item the queue is at."""
        return self.entries[self.selected][1] if self.entries else None

    @property
    def selected_item_id(self) -> int | None:
        """The ``playQueueItemID`` the queue is at."""
        return self.entries[self.selected][0] if self.entries else None

    def select(self, item: Item) -> int:
        """Make ``item`` the selected one (its first entry from the selection on).

        Returns the selected ``playQueueItemID``; ``ValueError`` if it is not queued.
        """
        order = list(range(self.selected, len(self.entries))) + list(
            range(self.selected)
        )
        for index in order:
            if self.entries[index][1] is item:
                self.selected = index
                return self.entries[index][0]
        raise ValueError(f"{item!r} is not in play queue {self.id}")

    def step(self, delta: int, *, repeat: int = 0) -> Item | None:
        """Move the selection by ``delta``; ``None`` past either end.

        ``repeat`` is the player's mode: 1 repeats the current item, 2 wraps around.
        """
        if not self.entries:
            return None
        if repeat == 1:
            return self.selected_item
        index = self.selected + delta
        if repeat == 2:
            index %= len(self.entries)
        if not 0 <= index < len(self.entries):
            return None
        self.selected = index
        return self.selected_item


class PlayQueueStore:
    """The play queues of one server (``emu.sessions.queues``)."""

    def __init__(self, emu: PlexEmulator) -> None:
        self.emu = emu
        self._queues: dict[int, PlayQueue] = {}
        self._next_queue_id = 1
        self._item_ids = iter(range(1, 1 << 62))
        self._tokens = random.Random(f"transient:{emu.seed}")
        self.transient_tokens: dict[str, int | None] = {}

    def transient_token(self, user_id: int | None) -> str:
        """A new transient (delegation) token for a user, remembered in ``transient_tokens``."""
        token = f"transient-{self._tokens.getrandbits(96):024x}"
        self.transient_tokens[token] = user_id
        return token

    def get(self, queue_id: int | str) -> PlayQueue | None:
        """A queue by id."""
        try:
            return self._queues.get(int(queue_id))
        except ValueError:
            return None

    def create(
        self,
        items: list[Item],
        *,
        selected: Item | None = None,
        shuffle: bool = False,
        source_uri: str | None = None,
    ) -> PlayQueue:
        """A new queue of ``items`` (leaves), ``selected`` first when shuffled."""
        if not items:
            raise PlayQueueError("a play queue needs at least one item")
        queue_id = self._next_queue_id
        self._next_queue_id += 1
        chosen = selected if selected is not None else items[0]
        ordered = list(items)
        if shuffle:
            rest = [item for item in ordered if item is not chosen]
            random.Random(f"playqueue:{self.emu.seed}:{queue_id}").shuffle(rest)
            ordered = [chosen, *rest]
        queue = PlayQueue(
            id=queue_id,
            entries=[(next(self._item_ids), item) for item in ordered],
            source_uri=source_uri or _source_uri(chosen),
            shuffled=shuffle,
        )
        queue.select(chosen)
        self._queues[queue_id] = queue
        return queue

    def detached(self, item: Any) -> PlayQueue:
        """A one-item queue of media no library holds (live TV, a clip).

        Players play those from a queue too (a session names its ``playQueueID``),
        but the server keeps no such queue to list: ``/playQueues/{id}`` does not
        know it.
        """
        queue_id = self._next_queue_id
        self._next_queue_id += 1
        queue = PlayQueue(
            id=queue_id,
            entries=[(next(self._item_ids), item)],
            source_uri=f"server://{self.emu.machine_identifier}{item.key}",
        )
        queue.select(item)
        return queue

    def create_from_request(
        self, query: dict[str, str], *, sections: frozenset[int] | None = None
    ) -> PlayQueue:
        """A queue from ``POST /playQueues`` parameters (``uri`` or ``playlistID``).

        ``sections``: the section ids the requesting user may see (``None``: all).
        """
        if query.get("type") not in QUEUE_TYPES:
            raise PlayQueueError("type must be audio, video or photo")
        if "playlistID" in query:
            items, source = self._playlist_items(query["playlistID"])
        elif "uri" in query:
            items, source = self._resolve_uri(
                query["uri"], continuous=query.get("continuous") == "1"
            )
        else:
            raise PlayQueueError("uri or playlistID is required")
        if sections is not None and any(
            item.section.id not in sections for item in items
        ):
            raise PlayQueueError("not every item is shared with this user")
        return self.create(
            items,
            selected=self._selected(items, query.get("key")),
            shuffle=query.get("shuffle") == "1",
            source_uri=source,
        )

    def _playlist_items(self, playlist_id: str) -> tuple[list[Item], str]:
        try:
            playlist = self.emu.library.playlist(playlist_id)
        except LookupError as err:
            raise PlayQueueError(str(err)) from err
        items = [item for _, item in playlist.entries]
        return items, f"library://{_first_section_uuid(items)}/directory/{playlist.key}"

    def _resolve_uri(self, uri: str, *, continuous: bool) -> tuple[list[Item], str]:
        """The leaves a content URI names, and the ``playQueueSourceURI`` for it."""
        text = _fully_unquoted(uri)
        library = self.emu.library
        if match := _METADATA_IDS.search(text):
            found = [library.find(key) for key in match.group(1).split(",")]
            named = [item for item in found if item is not None]
            if len(named) != len(found):
                raise PlayQueueError(f"unknown item in {uri}")
            items = [leaf for item in named for leaf in library.leaves(item)]
            if continuous and len(named) == 1 and named[0].kind == "episode":
                show = library.leaves(named[0].top)
                items = show[show.index(named[0]) :]
            kind = "item" if len(named) == 1 else "directory"
            source = f"library://{_first_section_uuid(items)}/{kind}/{match.group(0)}"
            return items, source
        if match := _SECTION_ALL.search(text):
            try:
                section = library.section(match.group(1))
            except LookupError as err:
                raise PlayQueueError(str(err)) from err
            source = f"library://{section.uuid}/directory/{match.group(0)}"
            return list(section.leaves()), source
        raise PlayQueueError(f"unsupported uri {uri}")

    def _selected(self, items: list[Item], key: str | None) -> Item | None:
        if not key:
            return None
        match = _METADATA_IDS.search(_fully_unquoted(key))
        wanted = match.group(1) if match else None
        found = next((item for item in items if str(item.rating_key) == wanted), None)
        if found is None:
            raise PlayQueueError(f"key {key} is not in the play queue")
        return found

    # -- rendering ------------------------------------------------------------------------

    def container(
        self,
        queue: PlayQueue,
        *,
        center: int | None = None,
        window: int = DEFAULT_WINDOW,
        include_before: bool = True,
        include_after: bool = True,
    ) -> tuple[dict[str, Any], list[Node]]:
        """The ``MediaContainer`` attributes and item elements of a queue's window."""
        items = [item for _, item in queue.entries]
        center_index = next(
            (
                index
                for index, (item_id, _) in enumerate(queue.entries)
                if item_id == center
            ),
            queue.selected,
        )
        first = max(0, center_index - window) if include_before else center_index + 1
        last = (
            min(len(items), center_index + window + 1)
            if include_after
            else center_index
        )
        nodes = [
            self._item_node(item_id, item)
            for item_id, item in queue.entries[first:last]
        ]
        selected = queue.selected_item
        attrs: dict[str, Any] = {
            "size": len(nodes),
            **library_container_attrs(
                allow_sync=True,
                **_section_attrs(items),
                playQueueID=queue.id,
                playQueueSelectedItemID=queue.selected_item_id,
                playQueueSelectedItemOffset=queue.selected,
                playQueueSelectedMetadataItemID=(
                    selected.rating_key if selected is not None else None
                ),
                playQueueShuffled=queue.shuffled,
                playQueueSourceURI=queue.source_uri,
                playQueueTotalCount=len(queue.entries),
                playQueueVersion=queue.version,
            ),
        }
        return attrs, nodes

    def _item_node(self, item_id: int, item: Item) -> Node:
        """A queued item: ``playQueueItemID`` on the item and on its ``Media``.

        ``playqueue_created.xml`` carries the id on ``Media``; the spec (and
        python-plexapi's ``Playable.playQueueItemID``) read it from the item.
        """
        node = self.emu.library.item_node(item, detail=True, guids=False)
        children = [
            Node(child.tag, {**child.attrs, "playQueueItemID": item_id}, child.children)
            if child.tag == "Media"
            else child
            for child in node.children
        ]
        return Node(
            node.tag,
            {**node.attrs, "playQueueItemID": item_id},
            children,
            json_key="Metadata",
        )


def _fully_unquoted(text: str) -> str:
    """URL-decode until stable (python-plexapi quotes the inner path twice)."""
    while (decoded := unquote(text)) != text:
        text = decoded
    return text


def _first_section_uuid(items: list[Item]) -> str:
    return items[0].section.uuid if items else ""


def _source_uri(item: Item) -> str:
    return f"library://{item.section.uuid}/item//library/metadata/{item.rating_key}"


def _section_attrs(items: list[Item]) -> dict[str, Any]:
    """``librarySection*`` hoisted onto the container when every item shares one."""
    sections = {item.section.id for item in items}
    if len(sections) != 1:
        return {}
    section = items[0].section
    return {
        "librarySectionID": section.id,
        "librarySectionTitle": section.title,
        "librarySectionUUID": section.uuid,
    }


# -- remote control ---------------------------------------------------------------------------


class PlayerCommandError(ValueError):
    """A command the player cannot carry out (answered 400 like a real player)."""


NAVIGATION_COMMANDS = frozenset(
    {
        "moveUp", "moveDown", "moveLeft", "moveRight", "pageUp", "pageDown", "nextLetter",
        "previousLetter", "select", "back", "contextMenu", "toggleOSD", "home", "music",
    }
)  # fmt: skip
TIMELINE_COMMANDS = frozenset({"poll", "subscribe", "unsubscribe"})
CONTROLLABLE = "playPause,stop,volume,shuffle,repeat,seekTo,skipPrevious,skipNext,stepBack,stepForward"


class PlaybackControl:
    """Carries out remote-control commands on simulated players (``/player/...``)."""

    def __init__(self, emu: PlexEmulator) -> None:
        self.emu = emu
        self._playback: dict[str, Callable[[Player, dict[str, str]], None]] = {
            "playMedia": self.play_media,
            "play": self.play,
            "pause": self.pause,
            "stop": self.stop,
            "seekTo": self.seek_to,
            "stepForward": lambda player, _: self._step(player, STEP_FORWARD_MS),
            "stepBack": lambda player, _: self._step(player, -STEP_BACK_MS),
            "skipNext": lambda player, _: self._skip(player, 1),
            "skipPrevious": lambda player, _: self._skip(player, -1),
            "skipTo": self.skip_to,
            "setParameters": self.set_parameters,
            "setStreams": lambda player, params: None,
            "refreshPlayQueue": lambda player, params: None,
        }

    def knows(self, controller: str, command: str) -> bool:
        """Whether a player understands ``controller/command`` at all."""
        if controller == "playback":
            return command in self._playback
        if controller == "timeline":
            return command in TIMELINE_COMMANDS
        if controller == "navigation":
            return command in NAVIGATION_COMMANDS
        return False

    def apply(
        self, player: Player, controller: str, command: str, params: dict[str, str]
    ) -> None:
        """Change the player as the command says (``PlayerCommandError`` if it cannot)."""
        if controller == "playback":
            self._playback[command](player, params)

    # -- playback commands -------------------------------------------------------------

    def play_media(self, player: Player, params: dict[str, str]) -> None:
        """Play ``key`` from ``containerKey``'s queue (or a new one) at ``offset``."""
        sessions = self.emu.sessions
        item = self._item(params.get("key"))
        queue = None
        if container_key := params.get("containerKey"):
            match = _QUEUE_KEY.match(container_key)
            queue = sessions.queues.get(match.group(1)) if match else None
            if queue is None:
                raise PlayerCommandError(f"unknown play queue {container_key}")
        sessions.start_session(
            player=player,
            rating_key=item.rating_key,
            view_offset=_int_param(params, "offset", 0),
            play_queue=queue,
            state=PAUSED if params.get("paused") == "1" else PLAYING,
        )

    def play(self, player: Player, _params: dict[str, str]) -> None:
        """Resume a paused (or buffering) session; nothing to do when stopped."""
        session = self.emu.sessions.for_player(player)
        if session is not None and session.state != PLAYING:
            self.emu.sessions.resume(session)

    def pause(self, player: Player, _params: dict[str, str]) -> None:
        """Pause the session, if one is playing."""
        session = self.emu.sessions.for_player(player)
        if session is not None and session.state == PLAYING:
            self.emu.sessions.pause(session)

    def stop(self, player: Player, _params: dict[str, str]) -> None:
        """Stop the session, if any."""
        session = self.emu.sessions.for_player(player)
        if session is not None:
            self.emu.sessions.stop_session(session)

    def seek_to(self, player: Player, params: dict[str, str]) -> None:
        """Jump to ``offset`` milliseconds."""
        session = self._session(player)
        self.emu.sessions.seek(session, _int_param(params, "offset"))

    def skip_to(self, player: Player, params: dict[str, str]) -> None:
        """Play the queue item with ``key``."""
        session = self._session(player)
        item = self._item(params.get("key"))
        self._play_item(player, session.play_queue, item)

    def set_parameters(self, player: Player, params: dict[str, str]) -> None:
        """``volume`` (0-100), ``shuffle`` (0/1), ``repeat`` (0/1/2)."""
        limits = {"volume": 100, "shuffle": 1, "repeat": 2}
        values = {name: _int_param(params, name) for name in limits if name in params}
        for name, value in values.items():
            if not 0 <= value <= limits[name]:
                raise PlayerCommandError(f"{name} must be between 0 and {limits[name]}")
        for name, value in values.items():
            setattr(player, name, value)

    def _step(self, player: Player, delta: int) -> None:
        sessions = self.emu.sessions
        session = self._session(player)
        sessions.seek(session, sessions.position(session) + delta)

    def _skip(self, player: Player, delta: int) -> None:
        """Next / previous queue item; past the end stops, before the start restarts."""
        sessions = self.emu.sessions
        session = self._session(player)
        queue = session.play_queue
        following = queue.step(delta, repeat=2 if player.repeat == 2 else 0)
        if following is None:
            if delta > 0:
                sessions.stop_session(session)
            else:
                sessions.seek(session, 0)
            return
        self._play_item(player, queue, following)

    def _play_item(self, player: Player, queue: PlayQueue, item: Item) -> None:
        previous = self._session(player)
        self.emu.sessions.start_session(
            player=player,
            rating_key=item.rating_key,
            user=previous.account.id,
            transcode=previous.transcoding,
            bandwidth=previous.bandwidth,
            location=previous.location,
            play_queue=queue,
        )

    def _session(self, player: Player) -> PlaySession:
        session = self.emu.sessions.for_player(player)
        if session is None:
            raise PlayerCommandError("nothing is playing")
        return session

    def _item(self, key: str | None) -> Item:
        match = _METADATA_IDS.search(_fully_unquoted(key or ""))
        item = self.emu.library.find(match.group(1)) if match else None
        if item is None or item.children is not None:
            raise PlayerCommandError(f"cannot play {key!r}")
        return item

    # -- timeline ------------------------------------------------------------------------

    def timelines(
        self, player: Player, command_id: str | None
    ) -> tuple[dict[str, Any], list[Node]]:
        """The player's ``timeline/poll`` answer: one ``Timeline`` per media type."""
        session = self.emu.sessions.for_player(player)
        playing_type = (
            {"track": "music", "photo": "photo"}.get(session.item.kind, "video")
            if session
            else None
        )
        nodes = []
        for media_type in ("music", "photo", "video"):
            if session is None or media_type != playing_type:
                nodes.append(Node("Timeline", {"type": media_type, "state": STOPPED}))
                continue
            nodes.append(self._timeline(player, session, media_type))
        location = "fullScreenVideo" if playing_type == "video" else "navigation"
        return {"commandID": command_id, "location": location}, nodes

    def _timeline(self, player: Player, session: PlaySession, media_type: str) -> Node:
        emu = self.emu
        queue = session.play_queue
        return Node(
            "Timeline",
            {
                "type": media_type,
                "state": session.state,
                "time": emu.sessions.position(session),
                "duration": session.duration,
                "seekRange": f"0-{session.duration}",
                "ratingKey": session.rating_key,
                "key": session.key,
                "containerKey": f"/playQueues/{queue.id}",
                "playQueueID": queue.id,
                "playQueueItemID": session.play_queue_item_id,
                "playQueueVersion": queue.version,
                "machineIdentifier": emu.machine_identifier,
                "providerIdentifier": IDENTIFIER,
                "protocol": "http",
                "address": emu.host,
                "port": emu.port,
                "volume": player.volume,
                "shuffle": player.shuffle,
                "repeat": player.repeat,
                "controllable": CONTROLLABLE,
            },
        )


def _int_param(params: dict[str, str], name: str, default: int | None = None) -> int:
    raw = params.get(name)
    if raw is None:
        if default is None:
            raise PlayerCommandError(f"{name} is required")
        return default
    try:
        return int(raw)
    except ValueError as err:
        raise PlayerCommandError(f"{name} must be a number") from err


# -- routes ----------------------------------------------------------------------------------


def _window_args(query: dict[str, str]) -> dict[str, Any]:
    def flag(name: str) -> bool:
        return query.get(name, "1") != "0"

    window = query.get("window", "")
    center = query.get("center", "")
    return {
        "window": int(window) if window.isdigit() else DEFAULT_WINDOW,
        "center": int(center) if center.isdigit() else None,
        "include_before": flag("includeBefore"),
        "include_after": flag("includeAfter"),
    }


async def create_play_queue_route(request: web.Request) -> web.Response:
    """``POST /playQueues``."""
    store: PlayQueueStore = request.app["emulator"].sessions.queues
    query = dict(request.query)
    user = user_for_request(request)
    try:
        queue = store.create_from_request(
            query, sections=user.section_ids if user else None
        )
    except PlayQueueError:
        return error(400, "Bad Request")
    attrs, nodes = store.container(queue, **_window_args(query))
    return media_container(request, attrs, nodes)


async def get_play_queue_route(request: web.Request) -> web.Response:
    """``GET /playQueues/{id}``."""
    store: PlayQueueStore = request.app["emulator"].sessions.queues
    queue = store.get(request.match_info["queue_id"])
    if queue is None:
        return error(404, "Not Found")
    attrs, nodes = store.container(queue, **_window_args(dict(request.query)))
    return media_container(request, attrs, nodes)


def _unknown_player(identifier: str) -> web.Response:
    status = xml_value(
        f"FrameworkException: Unable to find player with identifier {identifier}"
    )
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Response code="2000" status="{status}" />\n'
    return web.Response(status=500, text=body, content_type="text/xml")


def _player_error(message: str) -> web.Response:
    """What a real player answers to a command it cannot process."""
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>HTTP Error 400</title></head>'
        f"<body><h1>HTTP Error 400: Error processing player command</h1><h3>{xml_value(message)}</h3></body></html>"
    )
    return web.Response(status=400, text=body, content_type="text/html")


def _reply(player: Player) -> web.Response:
    if player.reply == REPLY_OK:
        return web.Response(text="OK", content_type="text/plain")
    return web.Response(body=_RESPONSE_OK, content_type="text/xml", charset="utf-8")


async def player_command_route(request: web.Request) -> web.Response:
    """``/player/{controller}/{command}`` proxied to the target player."""
    emu: PlexEmulator = request.app["emulator"]
    controller, command = (
        request.match_info["controller"],
        request.match_info["command"],
    )
    target = request.headers.get(TARGET_HEADER) or request.query.get(TARGET_HEADER)
    if not target:
        return error(400, "Bad Request")
    player = emu.players.by_identifier(target)
    if player is None:
        return _unknown_player(target)
    params = {
        name: value
        for name, value in request.query.items()
        if not name.startswith("X-Plex-")
    }
    emu.players.record(
        player, f"{controller}/{command}", params, accepted=player.controllable
    )
    if not player.controllable:
        return error(406, "Not Acceptable")
    control = emu.sessions.control
    if controller not in player.capabilities or not control.knows(controller, command):
        return _player_error(
            f"Unknown command '{command}' for controller '{controller}'"
        )
    if controller == "timeline" and command == "poll":
        attrs, nodes = control.timelines(player, params.get("commandID"))
        return media_container(request, attrs, nodes)
    try:
        control.apply(player, controller, command, params)
    except (
        LookupError,
        ValueError,
    ) as err:  # PlayerCommandError, or an item not queued
        return _player_error(str(err))
    return _reply(player)


async def transient_token_route(request: web.Request) -> web.Response:
    """``/security/token?type=delegation&scope=all`` (any verb, as the spec says).

    python-plexapi's ``playMedia`` asks for one to hand to the player; the answer
    is shaped like ``captures/security_token.xml``. The token is kept in
    ``PlayQueueStore.transient_tokens`` with the user it stands for.
    """
    if request.query.get("type") != "delegation" or request.query.get("scope") != "all":
        return error(400, "Bad Request")
    user = user_for_request(request)
    store: PlayQueueStore = request.app["emulator"].sessions.queues
    token = store.transient_token(user.id if user is not None else None)
    return media_container(request, {"size": 0, "token": token})


def add_routes(app: web.Application, emu: PlexEmulator) -> None:
    """Register ``/playQueues``, ``/player/...`` and ``/security/token``."""
    app.router.add_route("*", "/security/token", transient_token_route)
    app.router.add_post("/playQueues", create_play_queue_route)
    app.router.add_get("/playQueues/{queue_id}", get_play_queue_route)
    app.router.add_get("/player/{controller}/{command}", player_command_route)
    app.router.add_post("/player/{controller}/{command}", player_command_route)
