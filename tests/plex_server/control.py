"""The control API (/_emulator/...) for tests and the demo.

STUB: owned by helper C, who replaces this file."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def add_routes(app: web.Application, emu: Any) -> None:
    return None

