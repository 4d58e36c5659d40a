"""Live sessions: /status/sessions, history, terminate, /transcode/sessions.

STUB: owned by helper B, who replaces this file."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class SessionManager:
    def __init__(self, emu: Any) -> None:
        self.emu = emu

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def add_routes(app: web.Application, emu: Any) -> None:
    return None

