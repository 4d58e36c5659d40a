"""How fast Plex reaches Home Assistant, and what it costs: the live figures.

Runs a real Home Assistant in this process (``async_test_home_assistant`` from
pytest-homeassistant-custom-component, custom integrations enabled as its
``enable_custom_integrations`` fixture does) and the emulator (``small`` library,
running clock) on the same event loop, talking real HTTP and websocket on loopback.
A ``plex_bridge`` entry is set up for the emulator; once push is connected and
the library mirror's first full sync (which setup starts in the background) is
done, so that its requests are not counted against the events (a
``plex_bridge.sync`` call waits for it):

- ``--cycles`` times, on "Living Room TV": start a movie, pause, resume, seek,
  stop. Each is timed from just before the emulator's method is called to the
  ``state_changed`` event of ``media_player.living_room_tv`` that shows it (a seek
  shows as a new ``media_position``). Starts follow each other
  at once by default (``--start-spacing`` seconds apart, 0): session reads are
  folded only while one is in flight, so no start waits for a cool-down.
- requests per event: the emulator's request counts (every path but the websocket)
  between one event and the next, summed by kind of event.
- command round trip: ``media_player.media_pause`` / ``media_play`` service calls
  (blocking) until they return; the emulator's session is checked to be paused /
  playing when they do.
- push down: the websocket answers 503 and open ones are dropped; then
  ``--poll-starts`` starts of a new movie are timed against the poll (interval
  ``--poll-interval`` s, set through the entry's ``update_interval`` option),
  each after a random part of the interval so that the starts fall anywhere in it.
- ``browse_p95_ms`` from ``bench.browse`` (``large`` library in its own process),
  after Home Assistant has stopped; ``--skip-browse`` leaves it out.

Prints one JSON document (progress goes to stderr).

    scripts/bench live [--cycles 200] [--poll-interval 2] [--skip-browse]
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Callable
import json
import logging
import random
import statistics
import sys
import time
from typing import Any

from homeassistant.core import Event, HomeAssistant, State, callback

from bench.browse import browse_p95_ms, percentile
from bench.hass_harness import (
    WAIT,
    Server,
    hass_with_entry,
    progress,
    wait_for_coordinator,
)
from custom_components.plex_bridge.const import DOMAIN, OPTION_UPDATE_INTERVAL
from tests.plex_server import PlexEmulator

PLAYER = "Living Room TV"
ENTITY_ID = "media_player.living_room_tv"
WEBSOCKET = "/:/websockets/notifications"
CHANGES = ("pause", "resume", "seek", "stop")
TARGETS = {
    "push_start_p95_ms": 150.0,
    "push_change_p95_ms": 20.0,
    "requests_per_start": 1.0,
    "requests_per_change": 0.0,
}


def p95(values: list[float]) -> float:
    """The 95th percentile, rounded for the report."""
    return round(percentile(values, 0.95), 1)


class StateWatch:
    """Wakes a waiter on the entity's ``state_changed`` event that satisfies a test."""

    def __init__(self, hass: HomeAssistant, entity_id: str) -> None:
        self.entity_id = entity_id
        self._predicate: Callable[[State], bool] | None = None
        self._seen = asyncio.Event()
        self.at = 0.0
        self.state: State | None = None
        self.writes = 0
        """Every ``state_changed`` of the entity so far."""
        self.unsubscribe = hass.bus.async_listen("state_changed", self._changed)

    @callback
    def _changed(self, event: Event[Any]) -> None:
        new_state = event.data.get("new_state")
        if event.data.get("entity_id") != self.entity_id or new_state is None:
            return
        self.writes += 1
        if self._predicate is not None and self._predicate(new_state):
            self.at = time.perf_counter()
            self.state = new_state
            self._predicate = None
            self._seen.set()

    def expect(self, predicate: Callable[[State], bool]) -> None:
        """Wait for the next state that satisfies ``predicate`` (call before acting)."""
        self._seen.clear()
        self._predicate = predicate

    async def wait(self, started: float, limit_s: float = WAIT) -> float:
        """Milliseconds from ``started`` to the expected state."""
        async with asyncio.timeout(limit_s):
            await self._seen.wait()
        return (self.at - started) * 1000


def http_requests(emu: PlexEmulator) -> Counter[str]:
    """The emulator's request counts per route, the websocket left out."""
    return Counter(
        {
            path: count
            for path, count in emu.faults.counts.items()
            if not path.startswith("/:/websockets")
        }
    )


class RequestLedger:
    """Requests and state writes between one event and the next, by the earlier's kind."""

    def __init__(self, emu: PlexEmulator, watch: StateWatch) -> None:
        self.emu = emu
        self.watch = watch
        self.by_kind: dict[str, Counter[str]] = {}
        self.writes: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self._kind: str | None = None
        self._last = http_requests(emu)
        self._last_writes = watch.writes

    def event(self, kind: str | None) -> None:
        """An event of ``kind`` is about to happen (``None``: the phase ends)."""
        now = http_requests(self.emu)
        if self._kind is not None:
            self.by_kind.setdefault(self._kind, Counter()).update(now - self._last)
            self.writes[self._kind] += self.watch.writes - self._last_writes
        self._last = now
        self._last_writes = self.watch.writes
        self._kind = kind
        if kind is not None:
            self.events[kind] += 1

    def total(self, *kinds: str) -> int:
        """Requests attributed to these kinds."""
        return sum(sum(self.by_kind.get(kind, Counter()).values()) for kind in kinds)


async def push_phase(
    emu: PlexEmulator,
    watch: StateWatch,
    movies: list[str],
    *,
    cycles: int,
    spacing: float,
    item_change_every: int,
) -> dict[str, Any]:
    """Start, pause, resume, seek, stop ``cycles`` times with push up.

    Every ``item_change_every``-th cycle, another movie starts on the player after
    the seek (a change of item: the player's session ends and a new one begins),
    and that one is stopped.
    """
    sessions = emu.sessions
    kinds = ("start", "item_change", *CHANGES)
    latencies: dict[str, list[float]] = {kind: [] for kind in kinds}
    ledger = RequestLedger(emu, watch)
    last_start = 0.0

    async def timed(
        kind: str, act: Callable[[], Any], expected: Callable[[State], bool], warm: bool
    ) -> Any:
        watch.expect(expected)
        ledger.event(None if warm else kind)
        started = time.perf_counter()
        value = act()
        elapsed = await watch.wait(started)
        if not warm:
            latencies[kind].append(elapsed)
        return value

    def playing(key: str) -> Callable[[State], bool]:
        return lambda s: (
            s.state == "playing" and s.attributes.get("media_content_id") == key
        )

    async def spaced() -> None:
        nonlocal last_start
        delay = last_start + spacing - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        last_start = time.perf_counter()

    for cycle in range(cycles + 1):
        warm = cycle == 0
        key = movies[cycle % len(movies)]
        await spaced()
        session = await timed(
            "start",
            lambda key=key: sessions.start_session(player=PLAYER, rating_key=key),
            playing(key),
            warm,
        )
        await timed(
            "pause",
            lambda session=session: sessions.pause(session),
            lambda s: s.state == "paused",
            warm,
        )
        await timed(
            "resume",
            lambda session=session: sessions.resume(session),
            lambda s: s.state == "playing",
            warm,
        )
        target_s = 600 + cycle % 50
        await timed(
            "seek",
            lambda session=session, target_s=target_s: sessions.seek(
                session, target_s * 1000
            ),
            lambda s, target_s=target_s: (
                abs((s.attributes.get("media_position") or 0) - target_s) <= 2
            ),
            warm,
        )
        if item_change_every and cycle % item_change_every == item_change_every - 1:
            other = movies[(cycle + len(movies) // 2) % len(movies)]
            await spaced()
            session = await timed(
                "item_change",
                lambda other=other: sessions.start_session(
                    player=PLAYER, rating_key=other
                ),
                playing(other),
                warm,
            )
        await timed(
            "stop",
            lambda session=session: sessions.stop_session(session),
            lambda s: s.state == "idle",
            warm,
        )
        if cycle % 50 == 0:
            progress(f"push: cycle {cycle}/{cycles}")
    # Whatever the last stop caused (nothing, if all is well) is counted as well.
    await asyncio.sleep(0.5)
    ledger.event(None)
    starts = latencies["start"] + latencies["item_change"]
    changes = [value for kind in CHANGES for value in latencies[kind]]
    return {
        "latencies": latencies,
        "push_start_p50_ms": round(statistics.median(starts), 1),
        "push_start_p95_ms": p95(starts),
        "push_start_p95_ms_by_kind": {
            kind: p95(latencies[kind]) for kind in ("start", "item_change")
        },
        "push_start_max_ms": round(max(starts), 1),
        "push_change_p50_ms": round(statistics.median(changes), 1),
        "push_change_p95_ms": p95(changes),
        "push_change_p95_ms_by_kind": {k: p95(latencies[k]) for k in CHANGES},
        "push_change_max_ms": round(max(changes), 1),
        "requests_per_start": round(
            ledger.total("start", "item_change") / len(starts), 3
        ),
        "requests_per_change": round(ledger.total(*CHANGES) / len(changes), 3),
        "requests_by_kind": {
            kind: dict(counts) for kind, counts in sorted(ledger.by_kind.items())
        },
        "state_writes_per_event_by_kind": {
            kind: round(ledger.writes[kind] / ledger.events[kind], 2)
            for kind in kinds
            if ledger.events[kind]
        },
        "start_spacing_s": spacing,
    }


async def command_phase(
    hass: HomeAssistant,
    emu: PlexEmulator,
    watch: StateWatch,
    movie: str,
    pairs: int,
) -> dict[str, Any]:
    """Pause and play through Home Assistant's services; time the blocking calls."""
    watch.expect(lambda s: s.state == "playing")
    session = emu.sessions.start_session(player=PLAYER, rating_key=movie)
    await watch.wait(time.perf_counter())
    calls: list[float] = []
    to_state: list[float] = []
    mismatches = 0
    for pair in range(pairs):
        for service, emulated, shown in (
            ("media_pause", "paused", "paused"),
            ("media_play", "playing", "playing"),
        ):
            watch.expect(lambda s, shown=shown: s.state == shown)
            started = time.perf_counter()
            await hass.services.async_call(
                "media_player", service, {"entity_id": ENTITY_ID}, blocking=True
            )
            calls.append((time.perf_counter() - started) * 1000)
            live = emu.sessions.get(session.session_key)
            if live is None or live.state != emulated:
                mismatches += 1
            to_state.append(await watch.wait(started))
        if pair % 50 == 0:
            progress(f"commands: pair {pair}/{pairs}")
    watch.expect(lambda s: s.state == "idle")
    emu.sessions.stop_session(session)
    await watch.wait(time.perf_counter())
    return {
        "command_p50_ms": round(statistics.median(calls), 1),
        "command_p95_ms": p95(calls),
        "command_to_state_p95_ms": p95(to_state),
        "commands": len(calls),
        "command_state_mismatches": mismatches,
    }


async def poll_phase(
    emu: PlexEmulator,
    *,
    watch: StateWatch,
    coordinator: Any,
    movies: list[str],
    starts: int,
    interval: float,
) -> dict[str, Any]:
    """Push down: how long a start takes to show when the poll has to find it."""
    emu.faults.add(WEBSOCKET, status=503)
    emu.notifications.drop_all()
    await wait_for_coordinator(coordinator, lambda: not coordinator.push_connected)
    progress(f"poll: push is down; {starts} starts, interval {interval} s")
    rng = random.Random(7)  # noqa: S311 - when to start, not a secret
    latencies: list[float] = []
    before = http_requests(emu)
    phase_started = time.perf_counter()
    for index in range(starts):
        # Anywhere in the poll's cycle, not always just after a poll.
        await asyncio.sleep(rng.uniform(0, interval))
        key = movies[index % len(movies)]
        watch.expect(
            lambda s, key=key: (
                s.state == "playing" and s.attributes.get("media_content_id") == key
            )
        )
        started = time.perf_counter()
        emu.sessions.start_session(player=PLAYER, rating_key=key)
        latencies.append(await watch.wait(started, limit_s=interval * 3 + WAIT))
    seconds = time.perf_counter() - phase_started
    requests = http_requests(emu) - before
    emu.faults.clear()
    return {
        "poll_p50_ms": round(statistics.median(latencies), 1),
        "poll_p95_ms": p95(latencies),
        "poll_max_ms": round(max(latencies), 1),
        "poll_starts": starts,
        "poll_requests_per_s": round(sum(requests.values()) / seconds, 2),
        "poll_requests_by_path": dict(requests),
    }


async def run_hass(args: argparse.Namespace) -> dict[str, Any]:
    """Home Assistant and the emulator on this loop: every phase but browse."""
    emu = PlexEmulator(library="small")
    await emu.start()
    movies = [
        str(key) for key, item in emu.library.items.items() if item.kind == "movie"
    ]
    result: dict[str, Any] = {}
    server = Server(emu.url, emu.token, emu.machine_identifier, emu.name)
    try:
        async with hass_with_entry(
            server,
            options={OPTION_UPDATE_INTERVAL: args.poll_interval},
            prefix="bench-live-",
        ) as running:
            hass, entry = running.hass, running.entry
            coordinator = entry.runtime_data.sessions
            result["setup_to_push_ms"] = running.setup_to_push_ms
            assert hass.states.get(ENTITY_ID) is not None, "no entity for the player"
            await hass.services.async_call(
                DOMAIN, "sync", {"mode": "incremental"}, blocking=True
            )
            watch = StateWatch(hass, ENTITY_ID)
            progress(f"push connected; {args.cycles} cycles of 5 events")
            try:
                result.update(
                    await push_phase(
                        emu,
                        watch,
                        movies,
                        cycles=args.cycles,
                        spacing=args.start_spacing,
                        item_change_every=args.item_change_every,
                    )
                )
                result.update(
                    await command_phase(hass, emu, watch, movies[0], args.pairs)
                )
                result.update(
                    await poll_phase(
                        emu,
                        watch=watch,
                        coordinator=coordinator,
                        movies=movies,
                        starts=args.poll_starts,
                        interval=args.poll_interval,
                    )
                )
            finally:
                watch.unsubscribe()
    finally:
        await emu.stop()
    return result


def report(args: argparse.Namespace, figures: dict[str, Any]) -> dict[str, Any]:
    """The JSON document: headline figures, targets and whether they were met."""
    latencies = figures.pop("latencies")
    targets = {
        **TARGETS,
        "poll_p95_ms": (args.poll_interval + 1) * 1000,
    }
    met = {
        name: figures.get(name) is not None and figures[name] <= limit
        for name, limit in targets.items()
    }
    return {
        "push_start_p50_ms": figures["push_start_p50_ms"],
        "push_start_p95_ms": figures["push_start_p95_ms"],
        "push_start_p95_ms_by_kind": figures["push_start_p95_ms_by_kind"],
        "push_change_p95_ms": figures["push_change_p95_ms"],
        "push_change_p95_ms_by_kind": figures["push_change_p95_ms_by_kind"],
        "poll_p95_ms": figures["poll_p95_ms"],
        "poll_interval_s": args.poll_interval,
        "requests_per_start": figures["requests_per_start"],
        "requests_per_change": figures["requests_per_change"],
        "command_p95_ms": figures["command_p95_ms"],
        "browse_p95_ms": figures.get("browse_p95_ms"),
        "events": {kind: len(values) for kind, values in latencies.items()},
        "targets": targets,
        "met": met,
        "details": {
            name: value
            for name, value in figures.items()
            if name
            not in {
                "push_start_p50_ms",
                "push_start_p95_ms",
                "push_change_p95_ms",
                "push_change_p95_ms_by_kind",
                "push_start_p95_ms_by_kind",
                "poll_p95_ms",
                "requests_per_start",
                "requests_per_change",
                "command_p95_ms",
                "browse_p95_ms",
            }
        },
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase; browse last, once Home Assistant and its emulator are gone."""
    figures = await run_hass(args)
    if not args.skip_browse:
        progress("browse: large library in its own process")
        browse = await browse_p95_ms("large", args.opens)
        figures["browse_p95_ms"] = browse["browse_p95_ms"]
        figures["browse"] = browse
    return report(args, figures)


def main(argv: list[str]) -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(prog="bench live")
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--start-spacing", type=float, default=0.0)
    parser.add_argument("--item-change-every", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--poll-starts", type=int, default=20)
    parser.add_argument("--poll-interval", type=int, default=2)
    parser.add_argument("--opens", type=int, default=20)
    parser.add_argument("--skip-browse", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
