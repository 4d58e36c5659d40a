"""Fixtures shared by every test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.plex_server import Clock, PlexEmulator


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/ in every test."""


@pytest.fixture
def emulator_clock() -> Clock:
    """The emulated server's clock, frozen so tests move it explicitly."""
    return Clock(start=1_760_000_000.0, frozen=True)


@pytest.fixture
async def plex_server(
    socket_enabled: None, emulator_clock: Clock
) -> AsyncIterator[PlexEmulator]:
    """A small emulated Plex Media Server on loopback, on the test's event loop."""
    emu = PlexEmulator(library="small", clock=emulator_clock)
    await emu.start()
    yield emu
    await emu.stop()
