"""Building HTTP responses the way Plex Media Server sends them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from .node import Node, container_json, container_xml

XML_CONTENT_TYPE = "text/xml"
JSON_CONTENT_TYPE = "application/json"


def wants_json(request: web.Request) -> bool:
    """Plex answers JSON when the client's Accept header asks for it, else XML."""
    return "application/json" in request.headers.get("Accept", "")


def media_container(
    request: web.Request,
    attrs: Mapping[str, Any],
    children: Iterable[Node] = (),
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A ``MediaContainer`` response in the form the client asked for."""
    all_headers = {
        "X-Plex-Protocol": "1.0",
        "Cache-Control": "no-cache",
        **(headers or {}),
    }
    if wants_json(request):
        body = container_json(attrs, children)
        content_type = JSON_CONTENT_TYPE
    else:
        body = container_xml(attrs, children)
        content_type = XML_CONTENT_TYPE
    return web.Response(
        body=body,
        status=status,
        headers=all_headers,
        content_type=content_type,
        charset="utf-8",
    )


def plex_header(request: web.Request, name: str) -> str | None:
    """An ``X-Plex-*`` value, which Plex takes as a header or as a query parameter."""
    return request.headers.get(name) or request.query.get(name)


def paged_headers(start: int, total: int) -> dict[str, str]:
    """The paging headers Plex adds to a paged container."""
    return {
        "X-Plex-Container-Start": str(start),
        "X-Plex-Container-Total-Size": str(total),
    }


def empty(request: web.Request, status: int = 200) -> web.Response:
    """The empty answer Plex gives to commands (``/:/scrobble``, playback, ...)."""
    return media_container(request, {"size": 0}, status=status)


def error(status: int, message: str) -> web.Response:
    """An HTML error page, as Plex sends for 401/404/500 (clients read the status)."""
    body = f"<html><head><title>{message}</title></head><body><h1>{status} {message}</h1></body></html>"
    return web.Response(status=status, text=body, content_type="text/html")


async def serve(
    app: web.Application, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0 picks a free port) on the running loop.

    Returns the runner (``await runner.cleanup()`` stops it) and the bound port.
    """
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[0][1])
