"""The generated library and the /library, /hubs/search, /playlists endpoints.

STUB: owned by helper A, who replaces this file."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class Library:
    """Sections, metadata, collections, playlists."""


def build(preset: str, *, seed: int, clock: Any) -> Library:
    return Library()


def add_routes(app: web.Application, emu: Any) -> None:
    return None

