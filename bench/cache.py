"""What the TTL cache saves: a dashboard's hour replayed against the emulator.

The emulator (``demo`` library by default, frozen clock) runs on this loop and our
``PlexClient`` talks to it over a plain aiohttp session. Simulated time moves in
steps of ``--tick`` seconds (10 by default) through the cache's injectable clock
(``TTLCache(clock=...)``) and the emulator's clock, so the hour takes seconds.

At each tick a dashboard asks for what Plex Bridge shows: the sections, each
section's count (of the leaves the library coordinator counts), recently added
and on deck (10 each), and one of five searches in turn. Every ``--change-every``
seconds (300) an item changes, alternately an edit (``library.update_item``) and
an addition (``library.add_item``), and the client's ``invalidate_content()`` is
called, as the notification router does for the timeline entry that follows.

The hour is played twice on a fresh emulator each time: with the cache, and with
``cache.enabled = False``. Each run checks that every added item is in the next
tick's recently added (the cache must not hide a change). Prints one JSON document.

    scripts/bench cache [--library demo] [--hours 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from custom_components.plex_bridge.api import PlexClient
from custom_components.plex_bridge.api.cache import TTLCache
from custom_components.plex_bridge.coordinator import COUNT_TYPES
from tests.plex_server import Clock, PlexEmulator

QUERIES = ("matrix", "star", "love", "night", "the")
RECENT_LIMIT = 10


def progress(message: str) -> None:
    """A line of progress on stderr."""
    print(message, file=sys.stderr, flush=True)


class SimClock:
    """Simulated seconds, read by the cache on every lookup."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        """The simulated time."""
        return self.now


async def dashboard(client: PlexClient, tick: int) -> list[str]:
    """One refresh of the dashboard; the ratingKeys recently added shows."""
    sections = await client.sections()
    await asyncio.gather(
        *(
            client.section_count(section.key, COUNT_TYPES.get(section.type))
            for section in sections
        )
    )
    recent = await client.recently_added(limit=RECENT_LIMIT)
    await client.on_deck(limit=RECENT_LIMIT)
    await client.search(QUERIES[tick % len(QUERIES)])
    return [item.rating_key for item in recent]


def change(emu: PlexEmulator, number: int) -> str | None:
    """Change the library; the ratingKey of an added item (``None`` for an edit)."""
    library = emu.library
    movies = next(s for s in library.sections.values() if s.type == "movie")
    if number % 2 == 0:
        first = movies.by_kind["movie"][number % len(movies.by_kind["movie"])]
        library.update_item(first.rating_key, title=f"{first.title} (edited {number})")
        return None
    added = library.add_item(movies.id, f"Bench addition {number}", year=2025)
    return str(added.rating_key)


async def replay(
    library: str, hours: float, tick_s: float, change_every_s: float, *, cached: bool
) -> dict[str, Any]:
    """One simulated stretch of dashboard use; its figures."""
    emu = PlexEmulator(library=library, clock=Clock(start=1_760_000_000.0, frozen=True))
    await emu.start()
    sim = SimClock()
    try:
        async with aiohttp.ClientSession() as session:
            client = PlexClient(session, emu.url, emu.token, cache=TTLCache(clock=sim))
            client.cache.enabled = cached
            ticks = round(hours * 3600 / tick_s)
            every = max(1, round(change_every_s / tick_s))
            changes = missed = 0
            expected: str | None = None
            started = time.perf_counter()
            for tick in range(ticks):
                if tick:
                    sim.now += tick_s
                    emu.clock.advance(tick_s)
                # Halfway through each interval, so that the change falls mid-TTL.
                if tick % every == every // 2:
                    expected = change(emu, changes)
                    changes += 1
                    client.invalidate_content()
                shown = await dashboard(client, tick)
                if expected is not None:
                    missed += expected not in shown
                    expected = None
            wall_ms = (time.perf_counter() - started) * 1000
    finally:
        await emu.stop()
    stats = client.cache.stats()
    return {
        "requests": client.requests_made,
        "requests_per_tick": round(client.requests_made / ticks, 2),
        "wall_ms": round(wall_ms, 1),
        "hit_ratio": round(float(stats["hit_ratio"]), 3),
        "cache": stats,
        "requests_by_path": dict(sorted(client.request_counts.items())),
        "ticks": ticks,
        "changes": changes,
        "additions_missed": missed,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both runs and the saving."""
    runs: dict[str, Any] = {}
    for name, cached in (("cache_on", True), ("cache_off", False)):
        progress(f"{name}: {args.hours} h of dashboard against {args.library}")
        runs[name] = await replay(
            args.library, args.hours, args.tick, args.change_every, cached=cached
        )
    on, off = runs["cache_on"], runs["cache_off"]
    return {
        "library": args.library,
        "simulated_s": args.hours * 3600,
        "tick_s": args.tick,
        "change_every_s": args.change_every,
        "workload": (
            "per tick: sections, a count per section, recently added, on deck, "
            f"one search of {len(QUERIES)} in turn"
        ),
        **runs,
        "requests_saved": off["requests"] - on["requests"],
        "requests_saved_pct": round(100 * (1 - on["requests"] / off["requests"]), 1),
        "wall_saved_pct": round(100 * (1 - on["wall_ms"] / off["wall_ms"]), 1),
    }


def main(argv: list[str]) -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(prog="bench cache")
    parser.add_argument("--library", default="demo")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--tick", type=float, default=10.0)
    parser.add_argument("--change-every", type=float, default=300.0)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
