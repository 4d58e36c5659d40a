"""Run the emulator on its own: ``python -m tests.plex_server --library demo``.

``scripts/plex-server`` runs this inside the project's environment. It builds the
library, starts one or more emulated servers and an emulated plex.tv that lists
them, prints ONE line of JSON to stdout and serves until SIGINT or SIGTERM, then
exits 0::

    {"url": "http://127.0.0.1:32400", "token": "...", "control": ".../_emulator",
     "machineIdentifier": "...", "name": "...", "plextv": "http://127.0.0.1:...",
     "servers": [{"url": ..., "token": ..., "control": ..., ...}, ...]}

The top-level fields describe the first server; ``servers`` lists every one.
With ``--servers N`` server ``i`` (from 0) uses seed ``seed + i`` (so its own
machine identifier) and port ``port + i`` (or a free port when ``--port 0``). All
servers share the owner token (``--token``, random by default), which is also the
plex.tv account's token. Progress goes to stderr; stdout carries only the JSON.

``--lively`` makes each server play things by itself (``lively.LivelyWorld``: sessions
start, pause, seek and stop every few seconds, and an episode is added now and
then), as ``scripts/develop --demo`` does unless ``--still``.

The control API needs no token: bind to loopback only (the default host).

``--gdm-port P`` also answers GDM searches (UDP, ``gdm.py``) for every server on
``host:P`` (0: a free port; real servers use 32414) and adds ``"gdm": "host:port"``
to the JSON line. Off by default.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import secrets
import signal
import sys
import time
from typing import Any

from .gdm import GDMResponder
from .generator import PRESETS
from .lively import LivelyWorld
from .plextv import PlexTV
from .server import PlexEmulator

DEFAULT_NAME = "Plex Bridge Emulator"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="plex-server",
        description="Serve an emulated Plex Media Server (and plex.tv).",
    )
    parser.add_argument(
        "--library", default="demo", choices=sorted(PRESETS), help="library preset"
    )
    parser.add_argument(
        "--port", type=int, default=32400, help="first server's port (0: any free port)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (keep it loopback)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first server's library"
    )
    parser.add_argument(
        "--token", default=None, help="the owner's X-Plex-Token (random by default)"
    )
    parser.add_argument(
        "--servers", type=int, default=1, help="how many servers to run"
    )
    parser.add_argument(
        "--plextv-port",
        type=int,
        default=0,
        help="emulated plex.tv's port (0: any free port)",
    )
    parser.add_argument(
        "--lively",
        action="store_true",
        help="play things on the players by itself, and add an episode now and then",
    )
    parser.add_argument(
        "--name",
        default=DEFAULT_NAME,
        help="server name (numbered when there are several)",
    )
    parser.add_argument(
        "--gdm-port",
        type=int,
        default=None,
        help="also answer GDM searches on this UDP port (0: any free port; off by default)",
    )
    args = parser.parse_args(argv)
    if args.servers < 1:
        parser.error("--servers must be at least 1")
    return args


def server_name(base: str, index: int, count: int) -> str:
    """The name of server ``index`` of ``count``."""
    return base if count == 1 else f"{base} {index + 1}"


def server_port(first: int, index: int) -> int:
    """The port of server ``index``: consecutive from ``first``, or any free one."""
    return 0 if first == 0 else first + index


def build_servers(args: argparse.Namespace) -> list[PlexEmulator]:
    """Build every server's library (the slow part) and report the time to stderr."""
    token = args.token or secrets.token_urlsafe(15)
    servers = []
    for index in range(args.servers):
        started = time.perf_counter()
        emu = PlexEmulator(
            library=args.library,
            seed=args.seed + index,
            name=server_name(args.name, index, args.servers),
            token=token,
        )
        log(
            f"built library {args.library!r} (seed {args.seed + index}) in {time.perf_counter() - started:.2f} s"
        )
        servers.append(emu)
    return servers


def settle_heap() -> None:
    """Keep the built libraries out of Python's garbage collections.

    A large library is millions of long-lived objects. Left in the collector's
    oldest generation, each full collection walks all of them: about 140 ms for
    the large preset, during which this single-threaded server answers nothing.
    Real Plex has no such pause, and the mirror's bench would time it wherever
    it fell. Frozen (``gc.freeze``) after one collection, they are never
    scanned again; what they keep alive is freed by reference counting as
    before, and only a cycle among them that becomes garbage later would stay.
    """
    gc.collect()
    gc.freeze()


def startup_line(
    servers: list[PlexEmulator], plextv: PlexTV, gdm: GDMResponder | None = None
) -> str:
    """The one line of JSON that tells a caller how to reach everything."""
    described = [emu.describe() for emu in servers]
    info: dict[str, Any] = {**described[0], "plextv": plextv.url, "servers": described}
    if gdm is not None:
        info["gdm"] = "{}:{}".format(*gdm.address)
    return json.dumps(info)


def log(message: str) -> None:
    """Progress for a person, on stderr."""
    print(f"plex-server: {message}", file=sys.stderr, flush=True)


async def serve(args: argparse.Namespace) -> None:
    """Start everything, announce it, and serve until a signal asks to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    servers = build_servers(args)
    settle_heap()
    plextv = PlexTV(
        token=servers[0].token,
        username=servers[0].owner_name,
        account_id=servers[0].owner_id,
    )
    gdm = GDMResponder(servers) if args.gdm_port is not None else None
    worlds = [LivelyWorld(emu, seed=emu.seed) for emu in servers] if args.lively else []
    try:
        for index, emu in enumerate(servers):
            await emu.start(args.host, server_port(args.port, index))
            plextv.register(emu)
        await plextv.start(args.host, args.plextv_port)
        if gdm is not None:
            await gdm.start(args.host, args.gdm_port)
        for world in worlds:
            await world.start()
        print(startup_line(servers, plextv, gdm), flush=True)
        lively = " (lively)" if worlds else ""
        log(f"serving {len(servers)} server(s){lively}; stop with Ctrl-C")
        await stop.wait()
    finally:
        for world in worlds:
            await world.stop()
        if gdm is not None:
            await gdm.stop()
        await plextv.stop()
        for emu in servers:
            await emu.stop()
    log("stopped")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
