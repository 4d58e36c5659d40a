"""/playQueues and /player/playback/* proxied to simulated players.

STUB: owned by helper B, who replaces this file."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def add_routes(app: web.Application, emu: Any) -> None:
    return None

