"""Per-endpoint fault injection and request counting.

``FaultInjector`` holds the faults a test (or the control API) asked for and counts
the requests the server received. Two aiohttp middlewares apply them:

- ``counting_middleware`` counts every request, including the ones that then fault;
- ``fault_middleware`` makes a matching request fail the way a sick server or
  network would.

Fault kinds (one ``add()`` may combine ``latency`` with one of the others):

- ``latency``: seconds the server waits before answering (``asyncio.sleep``);
- ``hold``: the server waits until the test calls ``fault.release()``, and
  ``await fault.held()`` returns once a request is waiting: a slow server whose
  slowness ends when the test says so, not after a time that load may outlast.
  A held request then goes on as if unfaulted (or with the other kind given);
- ``status``: 401, 404, 500 or 503 with the HTML error page real Plex sends;
- ``reset``: the TCP connection is aborted without any response;
- ``truncate``: the headers announce the whole body, then the connection is
  aborted half-way through it;
- ``malformed``: status 200 with a body that is not valid XML (or JSON, when the
  client asked for JSON);
- ``ws_drop``: the notification websockets on matching paths are aborted (the TCP
  connection, no close frame): the ones open when the fault is added, then any new
  websocket upgrade on a matching path while the fault lasts;
- ``body``: status 200 with exactly these bytes as ``content_type`` (``text/html``
  unless given), whatever the client asked for: a captive portal, or a proxy's
  page, answering in the server's place;
- ``rewrite``: the server's own JSON answer is decoded and handed to this callable,
  which changes it in place (or returns a replacement) before it is sent: a server
  that leaves attributes out, sends ``null`` or an item type no client knows.
  Answers that are not JSON go out unchanged. Python only (not in the control API).

Matching: a fault's pattern is a shell-style glob (``fnmatch``; a plain path is a
glob that matches only itself) compared with the request's concrete path (for
example ``/library/sections/1/all``) and with the template of the route that
serves it (for example ``/library/sections/{id}/all``, as the route was
registered). ``*`` also crosses ``/``: ``/library/*`` hits everything under
``/library/``, and ``*`` alone every request. The query string is not part of
the pattern; ``query`` (a dict) restricts a fault to requests whose query has those
parameters with those values. ``method`` restricts a fault to one HTTP method. ``times`` is how often the fault fires before it
expires (``None``: until ``clear()`` or ``remove()``).

The control API (``/_emulator/...``) is neither counted nor faulted, unless a
fault's pattern itself starts with ``/_emulator``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
import fnmatch
import itertools
import json
from typing import Any, Protocol

from aiohttp import web

from .responses import error, wants_json

CONTROL_PREFIX = "/_emulator"
FAULT_STATUSES = {
    401: "Unauthorized",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
MALFORMED_XML = b'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer size="1"><Video ratingKey="1" title="'
MALFORMED_JSON = b'{"MediaContainer":{"size":1,"Metadata":[{"ratingKey":"1","title":'

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HasFaults(Protocol):
    """Anything that serves with these middlewares: it owns a ``FaultInjector``."""

    faults: FaultInjector


@dataclass(eq=False)
class Fault:
    """One injected fault and how often it has fired."""

    id: int
    pattern: str
    latency: float | None = None
    status: int | None = None
    reset: bool = False
    truncate: bool = False
    malformed: bool = False
    ws_drop: bool = False
    times: int | None = None
    method: str | None = None
    hold: bool = False
    query: dict[str, str] | None = None
    body: bytes | None = None
    content_type: str | None = None
    rewrite: Callable[[Any], Any] | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        """The events of a ``hold`` fault (every fault has them; only hold uses them)."""
        self._arrived = asyncio.Event()
        self._released = asyncio.Event()

    async def held(self) -> None:
        """Return once a request is waiting on this ``hold`` fault."""
        await self._arrived.wait()

    def release(self) -> None:
        """Let every held request (and any later one) go on."""
        self._released.set()

    async def wait_for_release(self) -> None:
        """Hold the request that fired this fault until ``release()``."""
        self._arrived.set()
        await self._released.wait()

    @property
    def expired(self) -> bool:
        """Whether the fault has fired as often as it was asked to."""
        return self.times is not None and self.fired >= self.times

    def matches(
        self,
        method: str,
        path: str,
        template: str | None,
        query: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether a request with this method, path, route template and query is hit."""
        if self.method is not None and self.method != method:
            return False
        if self.query is not None and any(
            (query or {}).get(name) != value for name, value in self.query.items()
        ):
            return False
        if path.startswith(CONTROL_PREFIX) and not self.pattern.startswith(
            CONTROL_PREFIX
        ):
            return False
        candidates = (path,) if template is None else (path, template)
        return any(
            fnmatch.fnmatchcase(candidate, self.pattern) for candidate in candidates
        )

    def as_dict(self) -> dict[str, Any]:
        """The fault as the control API shows it."""
        return {
            "id": self.id,
            "path": self.pattern,
            "latency": self.latency,
            "status": self.status,
            "reset": self.reset,
            "truncate": self.truncate,
            "malformed": self.malformed,
            "ws_drop": self.ws_drop,
            "times": self.times,
            "method": self.method,
            "hold": self.hold,
            "query": self.query,
            "body": self.body is not None,
            "content_type": self.content_type,
            "rewrite": self.rewrite is not None,
            "fired": self.fired,
        }


class FaultInjector:
    """The faults in force and the request counts of one server."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.counts: Counter[str] = Counter()
        """Requests per route template (``/library/sections/{id}/all``)."""
        self.path_counts: Counter[str] = Counter()
        """Requests per concrete path (``/library/sections/1/all``)."""
        self._websockets: dict[int, web.Request] = {}
        self._ids = itertools.count(1)

    # -- faults ----------------------------------------------------------------------

    def add(
        self,
        path_pattern: str,
        *,
        latency: float | None = None,
        status: int | None = None,
        reset: bool = False,
        truncate: bool = False,
        malformed: bool = False,
        ws_drop: bool = False,
        times: int | None = None,
        method: str | None = None,
        hold: bool = False,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        rewrite: Callable[[Any], Any] | None = None,
    ) -> Fault:
        """Inject a fault on the paths that ``path_pattern`` matches (see module doc).

        Raises ``ValueError`` for an unknown status, a negative latency or count, no
        fault kind at all, or more than one kind besides ``latency``.
        """
        validate_fault(
            path_pattern,
            latency,
            status,
            (
                reset,
                truncate,
                malformed,
                ws_drop,
                body is not None,
                rewrite is not None,
            ),
            times,
            hold=hold,
        )
        if content_type is not None and body is None:
            raise ValueError("content_type goes with body")
        fault = Fault(
            id=next(self._ids),
            pattern=path_pattern,
            latency=latency,
            status=status,
            reset=reset,
            truncate=truncate,
            malformed=malformed,
            ws_drop=ws_drop,
            times=times,
            method=method.upper() if method else None,
            hold=hold,
            query=dict(query) if query is not None else None,
            body=body,
            content_type=content_type,
            rewrite=rewrite,
        )
        self.faults.append(fault)
        if ws_drop:
            self._drop_open_websockets(fault)
        return fault

    def remove(self, fault: Fault | int) -> bool:
        """Remove one fault (or its id); whether it was still in force."""
        fault_id = fault if isinstance(fault, int) else fault.id
        kept = [f for f in self.faults if f.id != fault_id]
        removed = len(kept) != len(self.faults)
        self.faults = kept
        return removed

    def clear(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def match(self, request: web.Request) -> Fault | None:
        """The first fault in force that hits this request (it is not yet fired)."""
        template = route_template(request)
        for fault in self.faults:
            if fault.matches(request.method, request.path, template, request.query):
                return fault
        return None

    def fire(self, fault: Fault) -> None:
        """Record one firing; an expired fault leaves the list."""
        fault.fired += 1
        if fault.expired:
            self.remove(fault)

    # -- counts ----------------------------------------------------------------------

    def record(self, request: web.Request) -> None:
        """Count one request, by route template and by concrete path."""
        self.counts[route_template(request) or request.path] += 1
        self.path_counts[request.path] += 1

    def count(self, path: str) -> int:
        """Requests to a concrete path, or to a route template (``{...}`` in it)."""
        if path in self.path_counts:
            return self.path_counts[path]
        return self.counts[path]

    def reset_counts(self) -> None:
        """Forget every count."""
        self.counts.clear()
        self.path_counts.clear()

    # -- websockets ------------------------------------------------------------------

    def track_websocket(self, request: web.Request) -> None:
        """Remember an open websocket request so that ``ws_drop`` can abort it."""
        self._websockets[id(request)] = request

    def untrack_websocket(self, request: web.Request) -> None:
        """Forget a websocket request that has ended."""
        self._websockets.pop(id(request), None)

    def _drop_open_websockets(self, fault: Fault) -> None:
        """Abort the open websockets that ``fault`` matches; one firing if any."""
        hit = [
            request
            for request in self._websockets.values()
            if fault.matches(request.method, request.path, route_template(request))
        ]
        for request in hit:
            abort_connection(request)
        if hit:
            self.fire(fault)


def validate_fault(
    pattern: str,
    latency: float | None,
    status: int | None,
    flags: tuple[bool, ...],
    times: int | None,
    *,
    hold: bool = False,
) -> None:
    """Raise ``ValueError`` unless the arguments describe one sensible fault."""
    if not pattern.startswith("/") and not pattern.startswith("*"):
        raise ValueError(f"path pattern must start with '/' or '*': {pattern!r}")
    if status is not None and status not in FAULT_STATUSES:
        raise ValueError(
            f"status must be one of {sorted(FAULT_STATUSES)}, not {status!r}"
        )
    if latency is not None and latency < 0:
        raise ValueError("latency must not be negative")
    if times is not None and times < 1:
        raise ValueError("times must be at least 1 (or None: until cleared)")
    kinds = sum(flags) + (status is not None)
    if kinds > 1:
        raise ValueError(
            "choose one of status, reset, truncate, malformed, ws_drop, body, rewrite"
            " (latency may join it)"
        )
    if kinds == 0 and latency is None and not hold:
        raise ValueError(
            "a fault needs a kind: latency, hold, status, reset, truncate, malformed,"
            " ws_drop, body or rewrite"
        )


def route_template(request: web.Request) -> str | None:
    """The path template of the route serving this request, if a route matched."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def is_control(request: web.Request) -> bool:
    """Whether the request is for the control API."""
    return request.path.startswith(CONTROL_PREFIX)


def is_websocket(request: web.Request) -> bool:
    """Whether the request asks to upgrade to a websocket."""
    return request.headers.get("Upgrade", "").lower() == "websocket"


def abort_connection(request: web.Request) -> None:
    """Close the request's TCP connection at once, without a response."""
    transport = request.transport
    if transport is not None:
        transport.abort()


# -- middlewares -------------------------------------------------------------------------


def counting_middleware(owner: HasFaults) -> Any:
    """Count every request but the control API's, before any fault fires."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_control(request):
            owner.faults.record(request)
        return await handler(request)

    return middleware


def fault_middleware(owner: HasFaults) -> Any:
    """Apply the first matching fault, if any, to each request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        injector = owner.faults
        fault = injector.match(request)
        if fault is not None:
            injector.fire(fault)
            return await apply_fault(fault, request, handler)
        if is_websocket(request):
            return await serve_websocket(injector, request, handler)
        return await handler(request)

    return middleware


async def serve_websocket(
    injector: FaultInjector, request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Run a websocket handler while ``ws_drop`` faults can reach it."""
    injector.track_websocket(request)
    try:
        return await handler(request)
    finally:
        injector.untrack_websocket(request)


async def apply_fault(
    fault: Fault, request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Answer ``request`` the way ``fault`` says."""
    if fault.latency:
        await asyncio.sleep(fault.latency)
    if fault.hold:
        await fault.wait_for_release()
    if fault.status is not None:
        return error(fault.status, FAULT_STATUSES[fault.status])
    if fault.reset or fault.ws_drop:
        return aborted(request)
    if fault.malformed:
        return malformed_response(request)
    if fault.body is not None:
        return web.Response(
            body=fault.body, content_type=fault.content_type or "text/html"
        )
    if fault.rewrite is not None:
        return rewritten_response(await handler(request), fault.rewrite)
    if fault.truncate:
        return await truncated_response(request, await handler(request))
    return await handler(request)


def malformed_response(request: web.Request) -> web.Response:
    """A 200 whose body breaks off in the middle of an element."""
    if wants_json(request):
        return web.Response(
            body=MALFORMED_JSON, content_type="application/json", charset="utf-8"
        )
    return web.Response(body=MALFORMED_XML, content_type="text/xml", charset="utf-8")


def rewritten_response(
    response: web.StreamResponse, rewrite: Callable[[Any], Any]
) -> web.StreamResponse:
    """The JSON answer, decoded, changed by ``rewrite`` and encoded again."""
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    if response.content_type != "application/json":
        return response
    data = json.loads(response.body)
    changed = rewrite(data)
    response.body = json.dumps(data if changed is None else changed).encode()
    return response


async def truncated_response(
    request: web.Request, response: web.StreamResponse
) -> web.StreamResponse:
    """Send the headers of ``response`` with its full length, half its body, then abort."""
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes) or len(body) < 2:
        return aborted(request)
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    abort_connection(request)
    return stream


def aborted(request: web.Request) -> web.Response:
    """Abort the connection; the response returned to aiohttp is never sent.

    aiohttp's attempt to write it meets the closed transport and ends quietly,
    where raising from the handler would log an error and try a 500.
    """
    abort_connection(request)
    return web.Response(status=500)
