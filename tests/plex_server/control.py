"""The control API (``/_emulator/...``): the Python API over HTTP, for the demo and tools.

Every request and answer is JSON. The control API needs no Plex token, is never
counted and never faulted (see ``faults``); so the emulator binds to loopback
(127.0.0.1) only, which is its default and ``scripts/plex-server``'s. Bad input
gets ``400`` and an unknown session, item or fault ``404``, each with
``{"error": "<message>"}``.

======  =====================================  ====================================================
method  path                                   what it does
======  =====================================  ====================================================
GET     /_emulator/state                       server identity, clock, counts, faults, sessions,
                                               players
POST    /_emulator/sessions                    start a session: ``player``, ``kind`` (see below),
                                               optional ``user``, ``includeUser``,
                                               ``transcode``, ``bandwidth``, ``location``,
                                               ``state``
POST    /_emulator/sessions/{key}/{action}     ``pause``, ``resume``, ``buffer``, ``stop``, ``seek``
                                               (``{"offset": ms}``); ``key``: sessionKey, Session id
                                               or player
POST    /_emulator/clock/advance               ``{"seconds": n}``: move the clock, report progress
POST    /_emulator/items                       add an item: ``section``, ``title``, optional
                                               ``kind``, ``parent`` and fields (``Library.add_item``)
PATCH   /_emulator/items/{ratingKey}           change an item's fields (``Library.update_item``)
DELETE  /_emulator/items/{ratingKey}           delete an item and its children
POST    /_emulator/sections/{id}/scan          scan a section, as ``/library/sections/{id}/refresh``
GET     /_emulator/faults                      the faults in force
POST    /_emulator/faults                      add one: ``path`` and the keywords of
                                               ``FaultInjector.add``
DELETE  /_emulator/faults                      clear every fault
DELETE  /_emulator/faults/{id}                 remove one fault
GET     /_emulator/counts                      requests per route template and per path
DELETE  /_emulator/counts                      reset the counts
GET     /_emulator/notifications               the most recent notifications published
======  =====================================  ====================================================

``POST /_emulator/sessions`` plays one of these ``kind`` s (``SessionManager``):

- ``library`` (the default): ``ratingKey`` of a movie, episode, track or photo;
  optional ``viewOffset`` (``start_session``);
- ``livetv``: optional ``channel``, a number or call sign of the lineup that
  ``GET /_emulator/state`` lists under ``channels`` (``start_live_tv``);
- ``preroll`` / ``trailer``: optional ``before`` (the ratingKey played when the clip
  ends) and, for a trailer, ``trailerOf`` (the movie or show whose trailer it is)
  (``start_clip``);
- ``unknown``: optional ``librarySectionID`` (default ``-3``; ``null`` leaves the
  attribute out) (``start_unknown``).

``includeUser: false`` starts any of them without a ``User`` element. Live TV
always transcodes (copying the streams), so it takes no ``transcode``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .library import LibraryError
from .transient import UNKNOWN_SECTION_ID, Channel

if TYPE_CHECKING:
    from .items import Item
    from .players import Player
    from .server import PlexEmulator
    from .sessions import PlaySession

PREFIX = "/_emulator"
SESSION_KINDS = ("library", "livetv", "preroll", "trailer", "unknown")
NOTIFICATIONS_SHOWN = 100

Handler = Callable[[web.Request], Awaitable[web.Response]]
Body = dict[str, Any]


class ControlError(Exception):
    """A request the control API refuses; ``status`` is 400 or 404."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def bad_input(message: str) -> ControlError:
    """A 400: the request's input is wrong."""
    return ControlError(400, message)


def not_found(message: str) -> ControlError:
    """A 404: the session, item or fault named in the path does not exist."""
    return ControlError(404, message)


def json_errors(handler: Handler) -> Handler:
    """Turn ``ControlError`` (and the emulator's ``ValueError``) into JSON error answers."""

    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ControlError as err:
            return web.json_response({"error": str(err)}, status=err.status)
        except ValueError as err:
            return web.json_response({"error": str(err)}, status=400)

    return wrapped


async def read_body(request: web.Request) -> Body:
    """The request's JSON object (an empty body is ``{}``)."""
    text = await request.text()
    if not text.strip():
        return {}
    try:
        body = json.loads(text)
    except ValueError as err:
        raise bad_input(f"the body is not JSON: {err}") from err
    if not isinstance(body, dict):
        raise bad_input("the body must be a JSON object")
    return body


def typed(
    body: Body, name: str, kinds: type | tuple[type, ...], default: Any = None
) -> Any:
    """``body[name]`` if it has one of ``kinds`` (booleans never pass for numbers).

    A missing or null field is ``default``.
    """
    value = body.get(name)
    if value is None:
        return default
    wanted = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, wanted) or (
        isinstance(value, bool) and bool not in wanted
    ):
        names = " or ".join(kind.__name__ for kind in wanted)
        raise bad_input(f"{name!r} must be {names}, not {value!r}")
    return value


def required(body: Body, name: str, kinds: type | tuple[type, ...]) -> Any:
    """Like ``typed`` for a field that must be there."""
    if body.get(name) is None:
        raise bad_input(f"{name!r} is required")
    return typed(body, name, kinds)


def item_summary(item: Item) -> dict[str, Any]:
    """A library item as the control API shows it."""
    return {
        "ratingKey": str(item.rating_key),
        "key": item.key,
        "type": item.kind,
        "title": item.title,
        "librarySectionID": item.section.id,
        "parentRatingKey": None if item.parent is None else str(item.parent.rating_key),
        "addedAt": item.added_at,
        "updatedAt": item.updated_at,
    }


def player_summary(player: Player) -> dict[str, Any]:
    """A simulated player as the control API shows it."""
    return {
        "machineIdentifier": player.machine_identifier,
        "title": player.title,
        "product": player.product,
        "platform": player.platform,
        "state": player.state,
        "controllable": player.controllable,
        "sessionKey": player.session_key,
    }


def channel_summary(channel: Channel, now: float) -> dict[str, Any]:
    """A live TV channel as the control API shows it, with what it airs now."""
    index, start = channel.airing(now)
    program = channel.programs[index]
    return {
        "channel": channel.number,
        "callSign": channel.call_sign,
        "onAir": {"title": program.title, "type": program.kind, "startedAt": start},
    }


class ControlAPI:
    """The handlers, bound to one emulator."""

    def __init__(self, emu: PlexEmulator) -> None:
        self.emu = emu

    def routes(self) -> list[web.RouteDef]:
        """Every control route."""
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/state", self.state),
            ("POST", "/sessions", self.start_session),
            ("POST", "/sessions/{key}/{action}", self.session_action),
            ("POST", "/clock/advance", self.advance_clock),
            ("POST", "/items", self.add_item),
            ("PATCH", "/items/{rating_key}", self.update_item),
            ("DELETE", "/items/{rating_key}", self.delete_item),
            ("POST", "/sections/{section_id}/scan", self.scan_section),
            ("GET", "/faults", self.list_faults),
            ("POST", "/faults", self.add_fault),
            ("DELETE", "/faults", self.clear_faults),
            ("DELETE", "/faults/{fault_id}", self.remove_fault),
            ("GET", "/counts", self.get_counts),
            ("DELETE", "/counts", self.reset_counts),
            ("GET", "/notifications", self.notifications),
        ]
        return [
            web.route(method, PREFIX + path, json_errors(handler))
            for method, path, handler in table
        ]

    # -- state ---------------------------------------------------------------------------

    async def state(self, _request: web.Request) -> web.Response:
        """``GET /state``."""
        emu = self.emu
        return web.json_response(
            {
                **emu.describe(),
                "version": emu.version,
                "now": emu.clock.now(),
                "counts": self.counts_summary(),
                "faults": [fault.as_dict() for fault in emu.faults.faults],
                "sessions": [emu.sessions.describe(s) for s in emu.sessions.sessions],
                "players": [player_summary(p) for p in emu.players],
                "channels": [
                    channel_summary(c, emu.clock.now()) for c in emu.sessions.channels
                ],
            }
        )

    # -- sessions ------------------------------------------------------------------------

    async def start_session(self, request: web.Request) -> web.Response:
        """``POST /sessions`` (the ``kind`` s are in the module docstring)."""
        body = await read_body(request)
        player = required(body, "player", str)
        kind = typed(body, "kind", str, "library")
        if kind not in SESSION_KINDS:
            raise bad_input(f"'kind' must be one of {', '.join(SESSION_KINDS)}")
        options: dict[str, Any] = {
            "player": player,
            "user": typed(body, "user", (int, str)),
            "include_user": typed(body, "includeUser", bool, True),
            "bandwidth": typed(body, "bandwidth", int),
            "location": typed(body, "location", str, "lan"),
            "state": typed(body, "state", str, "playing"),
        }
        if kind != "livetv":
            options["transcode"] = typed(body, "transcode", bool, False)
        elif "transcode" in body:
            raise bad_input("live TV always transcodes: 'transcode' does not apply")
        sessions = self.emu.sessions
        try:
            match kind:
                case "library":
                    session = sessions.start_session(
                        rating_key=required(body, "ratingKey", (int, str)),
                        view_offset=typed(body, "viewOffset", int, 0),
                        **options,
                    )
                case "livetv":
                    session = sessions.start_live_tv(
                        channel=typed(body, "channel", str), **options
                    )
                case "unknown":
                    section = (
                        typed(body, "librarySectionID", int)
                        if "librarySectionID" in body
                        else UNKNOWN_SECTION_ID
                    )
                    session = sessions.start_unknown(
                        library_section_id=section, **options
                    )
                case _:
                    session = sessions.start_clip(
                        clip=kind,
                        before=typed(body, "before", (int, str)),
                        trailer_of=typed(body, "trailerOf", (int, str)),
                        **options,
                    )
        except LookupError as err:  # an unknown player, user, ratingKey or channel
            raise bad_input(str(err.args[0])) from err
        return web.json_response(sessions.describe(session), status=201)

    async def session_action(self, request: web.Request) -> web.Response:
        """``POST /sessions/{key}/{pause|resume|buffer|stop|seek}``."""
        sessions = self.emu.sessions
        key = request.match_info["key"]
        action = request.match_info["action"]
        actions: dict[str, Callable[[str], PlaySession]] = {
            "pause": sessions.pause,
            "resume": sessions.resume,
            "buffer": sessions.buffer,
            "stop": sessions.stop_session,
        }
        if action != "seek" and action not in actions:
            raise not_found(f"unknown session action {action!r}")
        body = await read_body(request)
        if sessions.get(key) is None:
            raise not_found(f"no live session {key!r}")
        if action == "seek":
            session = sessions.seek(key, required(body, "offset", int))
        else:
            session = actions[action](key)
        return web.json_response(sessions.describe(session))

    async def advance_clock(self, request: web.Request) -> web.Response:
        """``POST /clock/advance``: ``{"seconds": n}``."""
        seconds = required(await read_body(request), "seconds", (int, float))
        if seconds < 0:
            raise bad_input("the clock only moves forward")
        self.emu.sessions.advance(seconds)
        return web.json_response({"now": self.emu.clock.now()})

    # -- items ---------------------------------------------------------------------------

    async def add_item(self, request: web.Request) -> web.Response:
        """``POST /items``: add an item and announce it.

        ``section`` and ``title``, optional ``kind``, ``parent`` (a ratingKey) and
        Plex-named fields (``year``, ``duration``, ``genres`` ...).
        """
        body = await read_body(request)
        section = required(body, "section", (int, str))
        title = required(body, "title", str)
        fields = {k: v for k, v in body.items() if k not in ("section", "title")}
        try:
            item = self.emu.library.add_item(section, title, **fields)
        except (LibraryError, TypeError) as err:
            raise bad_input(str(err)) from err
        return web.json_response(item_summary(item), status=201)

    async def update_item(self, request: web.Request) -> web.Response:
        """``PATCH /items/{ratingKey}``: the body names the fields to change."""
        item = self.existing_item(request)
        body = await read_body(request)
        try:
            self.emu.library.update_item(item.rating_key, **body)
        except TypeError as err:
            raise bad_input(str(err)) from err
        return web.json_response(item_summary(item))

    async def delete_item(self, request: web.Request) -> web.Response:
        """``DELETE /items/{ratingKey}``: the item and everything under it."""
        removed = self.emu.library.delete_item(self.existing_item(request).rating_key)
        return web.json_response(
            {"deleted": [str(item.rating_key) for item in removed]}
        )

    def existing_item(self, request: web.Request) -> Item:
        """The item whose ratingKey the path names."""
        text = request.match_info["rating_key"]
        item = self.emu.library.find(text)
        if item is None:
            raise not_found(f"no library item with ratingKey {text!r}")
        return item

    async def scan_section(self, request: web.Request) -> web.Response:
        """``POST /sections/{id}/scan``: what ``/library/sections/{id}/refresh`` does."""
        try:
            section = self.emu.library.refresh_section(request.match_info["section_id"])
        except LibraryError as err:
            raise not_found(str(err)) from err
        return web.json_response(
            {"scanned": section.id, "scannedAt": section.scanned_at}
        )

    # -- faults and counts ---------------------------------------------------------------

    async def list_faults(self, _request: web.Request) -> web.Response:
        """``GET /faults``."""
        return web.json_response([fault.as_dict() for fault in self.emu.faults.faults])

    async def add_fault(self, request: web.Request) -> web.Response:
        """``POST /faults``: ``{"path": ..., "status": 503, "times": 1, ...}``."""
        body = await read_body(request)
        path = required(body, "path", str)
        fault = self.emu.faults.add(
            path,
            latency=typed(body, "latency", (int, float)),
            status=typed(body, "status", int),
            reset=typed(body, "reset", bool, False),
            truncate=typed(body, "truncate", bool, False),
            malformed=typed(body, "malformed", bool, False),
            ws_drop=typed(body, "ws_drop", bool, False),
            times=typed(body, "times", int),
            method=typed(body, "method", str),
        )
        return web.json_response(fault.as_dict(), status=201)

    async def clear_faults(self, _request: web.Request) -> web.Response:
        """``DELETE /faults``."""
        self.emu.faults.clear()
        return web.json_response([])

    async def remove_fault(self, request: web.Request) -> web.Response:
        """``DELETE /faults/{id}``."""
        text = request.match_info["fault_id"]
        if not text.isdigit() or not self.emu.faults.remove(int(text)):
            raise not_found(f"no fault {text!r}")
        return web.json_response([fault.as_dict() for fault in self.emu.faults.faults])

    def counts_summary(self) -> dict[str, dict[str, int]]:
        """The request counts, by route template and by concrete path."""
        faults = self.emu.faults
        return {"endpoints": dict(faults.counts), "paths": dict(faults.path_counts)}

    async def get_counts(self, _request: web.Request) -> web.Response:
        """``GET /counts``."""
        return web.json_response(self.counts_summary())

    async def reset_counts(self, _request: web.Request) -> web.Response:
        """``DELETE /counts``."""
        self.emu.faults.reset_counts()
        return web.json_response(self.counts_summary())

    async def notifications(self, _request: web.Request) -> web.Response:
        """``GET /notifications``: the latest published notifications, oldest first."""
        published = list(self.emu.notifications.published)[-NOTIFICATIONS_SHOWN:]
        return web.json_response(published)


def add_routes(app: web.Application, emu: PlexEmulator) -> None:
    """Register the control API."""
    app.router.add_routes(ControlAPI(emu).routes())
