"""Simulated Plex players.

STUB: owned by helper B, who replaces this file."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class PlayerRegistry:
    def __init__(self, emu: Any) -> None:
        self.emu = emu

