"""How long opening a library in the media browser takes: ``browse_p95_ms``.

Starts the emulator as its own process (``--library large`` by default: 10,000
movies), then opens its Movies library ``--opens`` times through
``media_browser.async_browse``, exactly as a media player's ``browse_media`` does,
each time with a fresh client (so nothing is cached: the figure a user gets when a
library is first opened) and then again with one warm client. Prints one JSON
document.

    scripts/bench browse [--library large] [--opens 20]
    python -m bench.browse --library large
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from types import SimpleNamespace
from typing import Any

import aiohttp

from bench.emulator import start_server
from custom_components.plex_bridge.api import PlexClient
from custom_components.plex_bridge.media_browser import async_browse, media_id


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile (nearest rank) of some values."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))
    return ordered[rank]


def summary(times_ms: list[float]) -> dict[str, float]:
    """Median, p95 and worst of some timings."""
    return {
        "median_ms": round(statistics.median(times_ms), 1),
        "p95_ms": round(percentile(times_ms, 0.95), 1),
        "max_ms": round(max(times_ms), 1),
    }


async def open_library(client: PlexClient, section: str) -> tuple[float, int, int]:
    """Open one library through ``async_browse``: ms taken, children, requests sent."""
    server = await client.server_info(cached=True)
    # The entry's runtime data as the browser reads it; no library mirror, as
    # before a first sync (opening a library never asks the mirror).
    entry: Any = SimpleNamespace(
        runtime_data=SimpleNamespace(client=client, server=server, mirror=None)
    )
    before = client.requests_made
    started = time.perf_counter()
    node = await async_browse(
        None,  # type: ignore[arg-type]
        entry,
        "library",
        media_id(server.machine_identifier, "section", section),
    )
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, len(node.children or []), client.requests_made - before


async def browse_p95_ms(library: str = "large", opens: int = 20) -> dict[str, Any]:
    """Time opening the emulator's Movies library; the figures as a dict."""
    process, info, load_s = await start_server(library)
    try:
        async with aiohttp.ClientSession() as session:
            probe = PlexClient(session, info["url"], info["token"])
            sections = await probe.sections()
            movies = next(s for s in sections if s.type == "movie")
            count = await probe.section_count(movies.key)
            cold: list[float] = []
            children = requests = 0
            for _ in range(opens):
                client = PlexClient(session, info["url"], info["token"])
                await client.server_info(cached=True)
                elapsed, children, requests = await open_library(client, movies.key)
                cold.append(elapsed)
            warm_client = PlexClient(session, info["url"], info["token"])
            await open_library(warm_client, movies.key)
            warm = [
                (await open_library(warm_client, movies.key))[0] for _ in range(opens)
            ]
    finally:
        process.terminate()
        await process.wait()
    return {
        "library": library,
        "load_s": round(load_s, 2),
        "section": movies.title,
        "titles": count,
        "children": children,
        "requests_per_open": requests,
        "opens": opens,
        "browse_p95_ms": summary(cold)["p95_ms"],
        "cold": summary(cold),
        "warm": summary(warm),
    }


def main() -> None:
    """Parse the arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--library", default="large")
    parser.add_argument("--opens", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(browse_p95_ms(args.library, args.opens)), indent=2))


if __name__ == "__main__":
    main()
