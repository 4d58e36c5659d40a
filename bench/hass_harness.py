"""A real Home Assistant with one Plex Bridge entry, in the bench's own process.

``bench.live`` and ``bench.soak`` both need the same thing: Home Assistant as the
tests build it (``async_test_home_assistant`` from
pytest-homeassistant-custom-component, custom integrations enabled as its
``enable_custom_integrations`` fixture does, ``http`` on a free loopback port), a
``plex_bridge`` entry for an emulated server, set up and with push connected.
``hass_with_entry`` is that, as an async context manager that unloads the entry,
stops Home Assistant and removes its scratch config directory on the way out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass
from pathlib import Path
import shutil
import socket
import sys
import tempfile
import time
from typing import Any

from homeassistant import loader
from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (  # type: ignore[import-untyped]
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.plex_bridge.const import DOMAIN

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".venv" / "scratch"
WAIT = 10.0


def progress(message: str) -> None:
    """A line of progress on stderr (stdout carries only the JSON)."""
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port nobody listens on (for Home Assistant's own HTTP server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_coordinator(
    coordinator: Any, predicate: Callable[[], bool], limit_s: float = WAIT
) -> None:
    """Wait until ``predicate()`` holds after an update of the coordinator."""
    woken = asyncio.Event()
    unsubscribe = coordinator.async_add_listener(woken.set)
    try:
        async with asyncio.timeout(limit_s):
            while not predicate():
                await woken.wait()
                woken.clear()
    finally:
        unsubscribe()


@dataclass(frozen=True, slots=True)
class Server:
    """What the entry needs to know of the emulated server."""

    url: str
    token: str
    machine_identifier: str
    name: str


@dataclass(slots=True)
class Running:
    """Home Assistant, the loaded entry, and how long setup took to push."""

    hass: HomeAssistant
    entry: MockConfigEntry
    setup_to_push_ms: float


@contextlib.asynccontextmanager
async def hass_with_entry(
    server: Server, *, options: dict[str, Any], prefix: str
) -> AsyncIterator[Running]:
    """Home Assistant with a loaded entry for ``server`` whose push is connected."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    config_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=SCRATCH))
    try:
        async with async_test_home_assistant(config_dir=str(config_dir)) as hass:
            # As the ``enable_custom_integrations`` fixture does.
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
            assert await async_setup_component(
                hass,
                "http",
                {"http": {"server_host": "127.0.0.1", "server_port": free_port()}},
            )
            entry = MockConfigEntry(
                domain=DOMAIN,
                title=server.name,
                unique_id=server.machine_identifier,
                data={
                    CONF_URL: server.url,
                    CONF_TOKEN: server.token,
                    CONF_VERIFY_SSL: True,
                },
                options=options,
            )
            entry.add_to_hass(hass)
            started = time.perf_counter()
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            coordinator = entry.runtime_data.sessions
            await wait_for_coordinator(coordinator, lambda: coordinator.push_connected)
            setup_ms = round((time.perf_counter() - started) * 1000, 1)
            try:
                yield Running(hass, entry, setup_ms)
            finally:
                assert await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()
                await hass.async_stop(force=True)
    finally:
        shutil.rmtree(config_dir, ignore_errors=True)
