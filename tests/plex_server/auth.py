"""X-Plex-Token authentication (owner and shared users).

STUB: owned by helper A, who replaces this file."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def auth_middleware(emu: Any) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        return await handler(request)

    return middleware

