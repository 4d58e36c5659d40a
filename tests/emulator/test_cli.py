"""``python -m tests.plex_server``: the standalone server that scripts/plex-server runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import json
from pathlib import Path
import signal
import sys
from typing import Any

import aiohttp
from defusedxml.ElementTree import fromstring
import pytest

from tests.plex_server.__main__ import parse_args, server_name, server_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60  # a safety net: the small library starts in well under a second


class Running:
    """A started ``python -m tests.plex_server`` and the line it printed."""

    def __init__(
        self, process: asyncio.subprocess.Process, info: dict[str, Any]
    ) -> None:
        self.process = process
        self.info = info

    async def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Signal the server; its exit status and what it wrote to stderr."""
        self.process.send_signal(signum)
        _, stderr = await asyncio.wait_for(self.process.communicate(), STARTUP_TIMEOUT)
        return self.process.returncode or 0, stderr.decode()


@contextlib.asynccontextmanager
async def plex_server_process(*args: str) -> AsyncIterator[Running]:
    """Start the CLI with ``args``, wait for its JSON line, kill it if the test did not stop it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.plex_server",
        *args,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT)
        assert line, (await process.communicate())[1].decode()
        yield Running(process, json.loads(line))
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()


async def test_cli_serves_until_terminated(socket_enabled: None) -> None:
    async with plex_server_process(
        "--library", "small", "--port", "0", "--token", "cli-token"
    ) as server:
        info = server.info
        assert info["token"] == "cli-token"
        assert info["control"] == f"{info['url']}/_emulator"
        async with aiohttp.ClientSession() as session:
            async with session.get(
                f"{info['url']}/identity", headers={"X-Plex-Token": info["token"]}
            ) as response:
                assert response.status == 200
                identity = fromstring(await response.text())
            async with session.get(f"{info['control']}/state") as response:
                state = await response.json()
            async with session.get(
                f"{info['plextv']}/api/v2/resources",
                headers={"X-Plex-Token": "cli-token", "Accept": "application/json"},
            ) as response:
                resources = await response.json()

        assert identity.get("machineIdentifier") == info["machineIdentifier"]
        assert state["machineIdentifier"] == info["machineIdentifier"]
        assert [r["clientIdentifier"] for r in resources] == [info["machineIdentifier"]]

        status, stderr = await server.stop()
        assert status == 0
        assert "stopped" in stderr


async def test_cli_runs_several_servers(socket_enabled: None) -> None:
    async with plex_server_process(
        "--library", "small", "--port", "0", "--servers", "2", "--seed", "5"
    ) as server:
        servers = server.info["servers"]
        assert len(servers) == 2
        assert servers[0]["machineIdentifier"] == server.info["machineIdentifier"]
        assert servers[0]["machineIdentifier"] != servers[1]["machineIdentifier"]
        assert servers[0]["url"] != servers[1]["url"]
        async with aiohttp.ClientSession() as session:
            for described in servers:
                async with session.get(
                    f"{described['url']}/identity",
                    headers={"X-Plex-Token": described["token"]},
                ) as response:
                    identity = fromstring(await response.text())
                assert (
                    identity.get("machineIdentifier") == described["machineIdentifier"]
                )

        status, _ = await server.stop(signal.SIGINT)
        assert status == 0


def test_arguments() -> None:
    args = parse_args(["--library", "small", "--servers", "3", "--port", "32400"])
    assert (args.library, args.servers, args.port, args.host) == (
        "small",
        3,
        32400,
        "127.0.0.1",
    )
    assert [server_port(args.port, i) for i in range(3)] == [32400, 32401, 32402]
    assert server_port(0, 2) == 0
    assert server_name("Emu", 1, 3) == "Emu 2"
    assert server_name("Emu", 0, 1) == "Emu"


@pytest.mark.parametrize("argv", [["--servers", "0"], ["--library", "huge"]])
def test_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
