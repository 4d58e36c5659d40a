"""Fixtures shared by every test."""

from __future__ import annotations

from collections.abc import AsyncIterator
import sys

import pytest

from tests.plex_server import Clock, PlexEmulator


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/ in every test."""


@pytest.fixture(autouse=True)
def gdm_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep local discovery off the network: every scan goes to loopback's port 9.

    Port 9 is the discard port: nothing answers there, so a test that sets up the
    integration finds no server by GDM. Discovery tests point ``GDM_TARGETS`` at
    the emulator's responder instead.
    """
    # A run of emulator tests alone never imports the integration (and cannot:
    # without an integration test, custom_components is not on the import path),
    # so there is nothing to keep on loopback.
    if (const := sys.modules.get("custom_components.plex_bridge.const")) is not None:
        monkeypatch.setattr(const, "GDM_TARGETS", [("127.0.0.1", 9)])


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A config directory of the test's own: library mirror files never outlive it."""
    return hass_tmp_config_dir


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
