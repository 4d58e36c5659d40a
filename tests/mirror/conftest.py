"""Fixtures of the sync tests: our client on the emulator, a real mirror file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from custom_components.plex_bridge.api.client import PlexClient
from custom_components.plex_bridge.mirror.db import MirrorDB
from tests.plex_server import PlexEmulator


@pytest.fixture
async def client(plex_server: PlexEmulator) -> AsyncIterator[PlexClient]:
    """Our client on its own session (no retry delays: jitter 0)."""
    async with aiohttp.ClientSession() as session:
        yield PlexClient(
            session, plex_server.url, plex_server.token, jitter=lambda: 0.0
        )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[MirrorDB]:
    """A real mirror file in tmp_path."""
    mirror, recovered = await MirrorDB.open(tmp_path / "mirror.db")
    assert not recovered
    yield mirror
    await mirror.close()
