"""Load and soak: 50 sessions, 100 notifications a second, a library sync meanwhile.

One run, bounded in time, that stops by itself (issue 12, "Load and soak"):

- The emulator runs in a process of its own (``python -m bench.soak --emulator``),
  so that its CPU is not counted as Home Assistant's loop lag: the ``demo`` library
  (about 2,000 items) and ``--players`` simulated players (clones of the default
  Android TV and HTPC players, every one controllable) that each play a movie or an
  episode from a random offset, a fifth of them transcoded. Its clock runs in real
  time, but the emulator's own 10-second progress reporter is not started; the
  churn reports progress itself every 10 s, as Plex does, so that everything
  published between two phases is known.
- Home Assistant runs in this process with a ``plex_bridge`` entry
  (``bench.hass_harness``, the harness ``bench.live`` uses); push connected, every
  player's state equal to the server's and the first full mirror sync done (a
  ``plex_bridge.sync`` call waits for it) before anything is measured.
- Warm-up: ``--warmup`` seconds of the same churn, settled and checked like the
  main phase (its drops count), then ``rss_start_mb``.
- Main phase, ``--seconds`` long: the emulator's churn publishes ``--rate``
  notifications a second (``PlaySessionStateNotification``: pause, resume, seek
  and, for ``--change-share`` of the actions, another item on the player, which
  stops its session and starts a new one; ``TranscodeSession`` for the transcoded
  ones; progress every 10 s), paced on the number of notification entries our
  listener subscribes to. Meanwhile, through the control API, ``--mutate-items``
  tracks are renamed every ``--mutate-every`` seconds (``timeline`` notifications:
  the mirror refetches them) and the music library is scanned once (``activity``
  and ``status``: the mirror runs an incremental sync), and the
  ``plex_bridge.sync`` action (mode ``incremental``) is called every
  ``--sync-every`` seconds.

The JSON object's keys:

- ``loop_lag_p99_ms``: a timer on Home Assistant's loop asks to run every 50 ms
  (each time 50 ms after it last ran); its lateness (when it ran minus when it
  asked to, never below 0) over the main phase, 99th percentile (nearest rank).
- ``state_correct``: after the churn stopped and every notification sent has been
  received, every player's ``media_player`` state equals the emulator's session:
  the state (``playing`` / ``paused``, ``idle`` without a session), the rating key
  (``media_content_id``), ``media_title``, the ``session_key`` attribute and the
  position (``media_position`` moved on from ``media_position_updated_at`` while
  playing) within the integration's seek tolerance plus 1 s (positions are shown
  in whole seconds). Nothing is refreshed for the check: the states are what push
  made of the notifications. They have ``SETTLE_LIMIT_S`` to get there (the
  check runs again on every ``state_changed``); ``mismatches`` lists what differed.
- ``rss_start_mb`` / ``rss_end_mb``: ``VmRSS`` of this process (Home Assistant,
  the integration, the harness; the emulator is elsewhere), each read right after
  ``gc.collect()``: after the warm-up, and after the main phase has settled.
- ``requests_total``: the requests the emulator counted during the main phase,
  all from our integration (the control API is not counted): sessions reads,
  mirror syncs and refetches, library refreshes. The websocket is left out (it
  would show a reconnect; ``reconnects`` counts those).
- ``events_dropped``: the notification entries the emulator published to our
  listener (counted in the emulator on a subscription with the listener's own
  ``filters``, from a moment when nothing was in flight) minus the ones that
  reached the integration's ``NotificationRouter`` (its ``received`` counter: every
  entry of every frame the listener parsed and handed over), over the warm-up and
  the main phase. It waits ``SETTLE_LIMIT_S`` for the last ones to arrive.

Targets: loop lag p99 ≤ 50 ms, states correct, RSS growth ≤ 20 MB, no event
dropped. Figures, not a test.

``details`` says where the lag came from: each lag sample also records the loop
thread's CPU time and its wait in the kernel's run queue since the sample before
(``/proc/thread-self/schedstat``), so that ``p99_less_run_queue_wait_ms`` and
``worst_1pct`` tell a busy loop from a busy machine; ``loop_cpu_ms_per_notification``
is the loop's CPU over the main phase divided by the notifications received. It
also has ``mirror_correct`` (every renamed track has its new title in the mirror,
waited for over the syncs that follow, up to ``SETTLE_LIMIT_S``), the requests by
endpoint, the state writes by domain, the mirror's syncs by kind and the
``sync`` calls' durations, and the load average. ``--profile FILE`` writes a
cProfile of the main phase (which slows it: the figures of such a run are not
comparable).

    scripts/bench soak [--seconds 120] [--players 50] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Callable
import contextlib
import cProfile
from dataclasses import replace
from datetime import datetime
import gc
import json
import logging
import os
from pathlib import Path
import random
import signal
import statistics
import sys
import time
import tracemalloc
from typing import Any

import aiohttp
from aiohttp import web
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from bench.browse import percentile
from bench.hass_harness import ROOT, Server, hass_with_entry, progress
from custom_components.plex_bridge.api.notifications import DEFAULT_FILTERS
from custom_components.plex_bridge.const import DOMAIN, EVENT_SYNC_FINISHED
from custom_components.plex_bridge.coordinator import SEEK_TOLERANCE_MS
from tests.plex_server import PlexEmulator
from tests.plex_server.clock import Clock
from tests.plex_server.players import PAUSED, Player, default_players

LAG_INTERVAL_S = 0.05
SETTLE_LIMIT_S = 30.0
POSITION_TOLERANCE_S = SEEK_TOLERANCE_MS / 1000 + 1
REPORT_INTERVAL_S = 10.0
CHURN_TICK_S = 0.01
MIN_DURATION_MS = 20 * 60_000
"""Items shorter than this are not played, so that none ends during a run."""
TRANSCODE_SHARE = 0.2
TARGETS = {"loop_lag_p99_ms": 50.0, "rss_growth_mb": 20.0, "events_dropped": 0}
SOAK = "/soak"


def vm_mb(field: str = "VmRSS") -> float:
    """A ``/proc/self/status`` figure in MB (MiB)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


def cpu_s(pid: int | str = "self") -> float:
    """CPU seconds (user + system, every thread) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1]
    utime, stime = fields.split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def load_average() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


# -- the emulator's process -------------------------------------------------------------


def soak_players(count: int) -> list[Player]:
    """``count`` players cloned from the controllable video players of the emulator."""
    templates = [
        player
        for player in default_players()
        if player.controllable and player.device_class != "speaker"
    ]
    return [
        replace(
            templates[index % len(templates)],
            machine_identifier=f"soak-player-{index + 1:02d}",
            title=f"Soak {index + 1:02d} {templates[index % len(templates)].title}",
        )
        for index in range(count)
    ]


class SoakWorld:
    """The churn, run inside the emulator's process, and what it published.

    Its routes sit under the control API's prefix (``/_emulator/soak/...``), so
    that, like the control API, they are neither counted nor faulted.
    """

    def __init__(self, emu: PlexEmulator, seed: int) -> None:
        self.emu = emu
        self.rng = random.Random(seed)  # noqa: S311 - what to play, not a secret
        items = emu.library.items
        self.playable = [
            items[key]
            for key in sorted(items)
            if items[key].kind in ("movie", "episode")
            and (items[key].duration or 0) >= MIN_DURATION_MS
        ]
        self.queue: asyncio.Queue[dict[str, Any]] | None = None
        self.sent: Counter[str] = Counter()

    def routes(self) -> list[web.RouteDef]:
        """The soak's own control routes."""
        prefix = f"/_emulator{SOAK}"
        return [
            web.post(f"{prefix}/start", self.start_route),
            web.post(f"{prefix}/count", self.count_start_route),
            web.get(f"{prefix}/count", self.count_route),
            web.post(f"{prefix}/churn", self.churn_route),
        ]

    # -- acting ---------------------------------------------------------------------

    def start(self, player: Player) -> None:
        """Play a random item on ``player`` from a random offset (its old session ends)."""
        item = self.rng.choice(self.playable)
        self.emu.sessions.start_session(
            player=player,
            rating_key=item.rating_key,
            transcode=self.rng.random() < TRANSCODE_SHARE,
            view_offset=int((item.duration or 0) * self.rng.uniform(0, 0.5)),
        )

    def act(self, change_share: float) -> str:
        """One change on a random session: pause, resume, seek or another item."""
        sessions = self.emu.sessions
        live = sessions.sessions
        if not live:
            self.start(self.rng.choice(list(self.emu.players)))
            return "start"
        session = self.rng.choice(live)
        roll = self.rng.random()
        if roll < change_share:
            self.start(session.player)
            return "change"
        if session.state == PAUSED and roll < 0.7:
            sessions.resume(session)
            return "resume"
        if session.state != PAUSED and roll < 0.45:
            sessions.pause(session)
            return "pause"
        sessions.seek(session, int(session.duration * self.rng.uniform(0.05, 0.8)))
        return "seek"

    # -- counting -------------------------------------------------------------------

    def drain(self) -> int:
        """Count the entries published since the last drain; returns how many."""
        entries = 0
        if self.queue is None:
            return 0
        while not self.queue.empty():
            container = self.queue.get_nowait()["NotificationContainer"]
            self.sent[container["type"]] += container["size"]
            entries += container["size"]
        return entries

    # -- routes ---------------------------------------------------------------------

    async def start_route(self, _request: web.Request) -> web.Response:
        """Every player plays something; the tracks and music section to mutate."""
        for player in self.emu.players:
            self.start(player)
        library = self.emu.library
        music = next(s for s in library.sections.values() if s.type == "artist")
        tracks = [
            str(key)
            for key in sorted(library.items)
            if library.items[key].kind == "track"
        ]
        return web.json_response(
            {
                "players": [
                    {"machineIdentifier": p.machine_identifier, "title": p.title}
                    for p in self.emu.players
                ],
                "tracks": tracks,
                "music_section": str(music.id),
            }
        )

    async def count_start_route(self, _request: web.Request) -> web.Response:
        """Count from now on what our listener's subscription would be sent."""
        if self.queue is not None:
            self.emu.notifications.unsubscribe(self.queue)
        self.sent.clear()
        self.queue = self.emu.notifications.subscribe(DEFAULT_FILTERS)
        return web.json_response({})

    async def count_route(self, _request: web.Request) -> web.Response:
        """What was published since counting started."""
        self.drain()
        return web.json_response(
            {
                "sent": sum(self.sent.values()),
                "by_type": dict(self.sent),
                "websockets": self.emu.notifications.connection_count,
            }
        )

    async def churn_route(self, request: web.Request) -> web.Response:
        """Churn for ``seconds`` at ``rate`` notification entries a second."""
        body = await request.json()
        seconds = float(body["seconds"])
        rate = float(body["rate"])
        change_share = float(body["change_share"])
        loop = asyncio.get_running_loop()
        actions: Counter[str] = Counter()
        published = 0
        started = loop.time()
        next_report = started + REPORT_INTERVAL_S
        self.drain()
        while (now := loop.time()) < started + seconds:
            published += self.drain()
            if now >= next_report:
                self.emu.sessions.report_progress()
                actions["progress"] += 1
                next_report += REPORT_INTERVAL_S
                published += self.drain()
            while published < rate * (now - started):
                actions[self.act(change_share)] += 1
                published += self.drain()
            await asyncio.sleep(CHURN_TICK_S)
        published += self.drain()
        elapsed = loop.time() - started
        return web.json_response(
            {
                "actions": dict(actions),
                "published": published,
                "seconds": round(elapsed, 3),
                "rate": round(published / elapsed, 1),
            }
        )


async def serve_emulator(args: argparse.Namespace) -> None:
    """The emulator's process: serve, print one JSON line, stop on SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Frozen while it starts, so that the session manager starts no progress
    # reporter of its own (the churn reports); then it follows real time.
    emu = PlexEmulator(library=args.library, clock=Clock(frozen=True))
    for player in list(emu.players):
        emu.players.remove(player.machine_identifier)
    for player in soak_players(args.players):
        emu.players.add(player)
    world = SoakWorld(emu, args.seed)
    emu.app.router.add_routes(world.routes())
    await emu.start()
    emu.clock.resume()
    try:
        print(json.dumps(emu.describe()), flush=True)
        await stop.wait()
    finally:
        await emu.stop()


# -- Home Assistant's side --------------------------------------------------------------


class Control:
    """The emulator's control API (and the soak's routes under it)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """One call; the JSON answer."""
        async with self.session.request(
            method, f"{self.base}{path}", json=body
        ) as resp:
            resp.raise_for_status()
            return await resp.json()


SCHEDSTAT = Path("/proc/thread-self/schedstat")


def schedstat_s() -> tuple[float, float]:
    """The calling thread's time on a CPU and waiting in a run queue, in seconds.

    ``/proc/thread-self/schedstat``: nanoseconds run, nanoseconds waited to run,
    timeslices. A read of an in-memory file, every 50 ms, for the lag's cause.
    """
    fields = SCHEDSTAT.read_text(encoding="ascii").split()
    return int(fields[0]) / 1e9, int(fields[1]) / 1e9


class LagTimer:
    """How late a timer on the loop runs: asks for every ``interval`` s after the last.

    Each sample also records, for the time since the previous one, the loop
    thread's CPU time and its wait in the kernel's run queue (``schedstat_s``):
    lateness with a matching run-queue wait was the machine's (other processes
    held both cores), lateness with CPU time was work on the loop.
    """

    def __init__(self, interval: float = LAG_INTERVAL_S) -> None:
        self.interval = interval
        self.samples_ms: list[float] = []
        self.cpu_ms: list[float] = []
        self.wait_ms: list[float] = []
        self._loop = asyncio.get_running_loop()
        self._target = 0.0
        self._sched = (0.0, 0.0)
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start sampling."""
        self._target = self._loop.time() + self.interval
        self._sched = schedstat_s()
        self._handle = self._loop.call_at(self._target, self._tick)

    def _tick(self) -> None:
        now, sched = self._loop.time(), schedstat_s()
        self.samples_ms.append(max(0.0, now - self._target) * 1000)
        self.cpu_ms.append((sched[0] - self._sched[0]) * 1000)
        self.wait_ms.append((sched[1] - self._sched[1]) * 1000)
        self._target, self._sched = now + self.interval, sched
        self._handle = self._loop.call_at(self._target, self._tick)

    def stop(self) -> None:
        """Stop sampling."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def figures(self) -> dict[str, Any]:
        """Lateness percentiles, and what the worst samples spent their time on."""
        samples = self.samples_ms
        rows = list(zip(samples, self.cpu_ms, self.wait_ms, strict=True))
        worst = sorted(rows, key=lambda row: -row[0])[: max(1, len(rows) // 100)]
        # Lateness not explained by waiting for a CPU: what the loop itself cost.
        own = [max(0.0, lag - wait) for lag, _, wait in rows]
        wall_ms = sum(samples) + len(samples) * self.interval * 1000
        return {
            "p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(percentile(samples, 0.99), 2),
            "max_ms": round(max(samples), 2),
            "samples": len(samples),
            "over_50_ms": sum(1 for value in samples if value > 50),
            "p99_less_run_queue_wait_ms": round(percentile(own, 0.99), 2),
            "worst_1pct": [
                {
                    "lag_ms": round(lag, 1),
                    "loop_cpu_ms": round(cpu, 1),
                    "run_queue_wait_ms": round(wait, 1),
                }
                for lag, cpu, wait in worst
            ],
            "loop_cpu_share": round(sum(self.cpu_ms) / wall_ms, 3),
            "run_queue_wait_share": round(sum(self.wait_ms) / wall_ms, 3),
        }


def _position_s(attributes: dict[str, Any], playing: bool, at: float) -> float | None:
    """Where the entity says playback is at ``at`` (a POSIX time)."""
    position = attributes.get("media_position")
    updated = attributes.get("media_position_updated_at")
    if position is None or not isinstance(updated, datetime):
        return None
    return float(position) + (at - updated.timestamp() if playing else 0.0)


def compare_states(
    hass: HomeAssistant, entity_ids: dict[str, str], server: dict[str, Any]
) -> list[str]:
    """What differs between the players' states and the emulator's sessions."""
    at = time.time()
    moved_s = at - float(server["now"])
    sessions = {session["player"]: session for session in server["sessions"]}
    mismatches: list[str] = []
    for player, entity_id in entity_ids.items():
        state = hass.states.get(entity_id)
        session = sessions.get(player)
        if state is None:
            mismatches.append(f"{entity_id}: no state")
            continue
        if session is None:
            if state.state != "idle":
                mismatches.append(f"{entity_id}: {state.state}, the server: idle")
            continue
        attrs = state.attributes
        shown = {
            "state": state.state,
            "media_content_id": attrs.get("media_content_id"),
            "media_title": attrs.get("media_title"),
            "session_key": attrs.get("session_key"),
        }
        expected = {
            "state": session["state"],
            "media_content_id": session["ratingKey"],
            "media_title": session["title"],
            "session_key": session["sessionKey"],
        }
        for name, value in expected.items():
            if shown[name] != value:
                mismatches.append(f"{entity_id}: {name} {shown[name]!r} != {value!r}")
        playing = session["state"] == "playing"
        position = _position_s(dict(attrs), state.state == "playing", at)
        server_s = session["viewOffset"] / 1000 + (moved_s if playing else 0.0)
        if position is None or abs(position - server_s) > POSITION_TOLERANCE_S:
            mismatches.append(
                f"{entity_id}: position {position} s, the server {server_s:.1f} s"
            )
    return mismatches


async def settle_states(
    hass: HomeAssistant, control: Control, entity_ids: dict[str, str]
) -> tuple[list[str], float]:
    """Wait until the states equal the server's (or the limit); what still differs."""
    server = await control.call("GET", "/state")
    changed = asyncio.Event()

    @callback
    def _changed(_event: Event[Any]) -> None:
        changed.set()

    started = time.perf_counter()
    unsubscribe = hass.bus.async_listen("state_changed", _changed)
    try:
        while mismatches := compare_states(hass, entity_ids, server):
            remaining = SETTLE_LIMIT_S - (time.perf_counter() - started)
            if remaining <= 0:
                break
            changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await changed.wait()
    finally:
        unsubscribe()
    return mismatches, (time.perf_counter() - started) * 1000


async def settle_mirror(
    hass: HomeAssistant, mirror: Any, titles: dict[str, str]
) -> list[str]:
    """Wait until the mirror holds every renamed track's new title; what differs.

    Checked again after every ``plex_bridge_sync_finished`` (the timeline's
    refetches and the incremental syncs), for up to ``SETTLE_LIMIT_S``.
    """
    synced = asyncio.Event()

    @callback
    def _synced(_event: Event[Any]) -> None:
        synced.set()

    async def stale() -> list[str]:
        wrong = []
        for key, title in titles.items():
            item = await mirror.async_item(key)
            if item is None or item.title != title:
                wrong.append(f"mirror {key}: {None if item is None else item.title!r}")
        return wrong

    started = time.perf_counter()
    unsubscribe = hass.bus.async_listen(EVENT_SYNC_FINISHED, _synced)
    try:
        while wrong := await stale():
            remaining = SETTLE_LIMIT_S - (time.perf_counter() - started)
            if remaining <= 0:
                break
            synced.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await synced.wait()
    finally:
        unsubscribe()
    return wrong


async def until(predicate: Callable[[], bool], limit_s: float) -> bool:
    """Whether ``predicate`` came true within ``limit_s`` (checked every 50 ms)."""
    deadline = time.perf_counter() + limit_s
    while not predicate():
        if time.perf_counter() >= deadline:
            return False
        await asyncio.sleep(LAG_INTERVAL_S)
    return True


class Phase:
    """One churn phase, counted: sent by the emulator, received by the router."""

    def __init__(self, control: Control, router: Any) -> None:
        self.control = control
        self.router = router
        self.received_before = 0
        self.sent: dict[str, Any] = {}
        self.received = 0

    async def begin(self) -> None:
        """Count from now on (nothing is in flight: the states are settled)."""
        await self.control.call("POST", f"{SOAK}/count")
        self.received_before = self.router.received

    async def end(self) -> int:
        """Wait for what was sent to arrive; how many entries never did."""
        self.sent = await self.control.call("GET", f"{SOAK}/count")
        total = int(self.sent["sent"])
        await until(
            lambda: self.router.received - self.received_before >= total,
            SETTLE_LIMIT_S,
        )
        self.received = self.router.received - self.received_before
        return total - self.received


async def side_work(
    hass: HomeAssistant,
    control: Control,
    args: argparse.Namespace,
    world: dict[str, Any],
    done: asyncio.Event,
) -> dict[str, Any]:
    """Renames, one scan and ``sync`` calls until the churn is ``done``."""
    rng = random.Random(args.seed + 1)  # noqa: S311 - which tracks, not a secret
    loop = asyncio.get_running_loop()
    started = loop.time()
    calls: list[asyncio.Task[None]] = []
    sync_ms: list[float] = []
    sync_results: list[dict[str, Any]] = []
    renamed = 0
    scanned = False
    titles: dict[str, str] = world.setdefault("renamed", {})

    async def sync() -> None:
        begun = time.perf_counter()
        result = await hass.services.async_call(
            DOMAIN,
            "sync",
            {"mode": "incremental"},
            blocking=True,
            return_response=True,
        )
        sync_ms.append(round((time.perf_counter() - begun) * 1000, 1))
        sync_results.append(
            {
                key: value
                for key, value in (result or {}).items()
                if key in ("kind", "added", "updated", "removed", "requests")
            }
        )

    next_rename, next_sync = 2.0, 5.0
    scan_at = min(15.0, args.seconds / 2)
    while not done.is_set():
        elapsed = loop.time() - started
        if elapsed >= next_rename:
            for key in rng.sample(world["tracks"], args.mutate_items):
                titles[key] = f"Soak {renamed} {key}"
                await control.call("PATCH", f"/items/{key}", {"title": titles[key]})
                renamed += 1
            next_rename += args.mutate_every
        if not scanned and elapsed >= scan_at:
            await control.call("POST", f"/sections/{world['music_section']}/scan")
            scanned = True
        if elapsed >= next_sync:
            calls.append(asyncio.create_task(sync()))
            next_sync += args.sync_every
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await done.wait()
    await asyncio.gather(*calls)
    return {
        "tracks_renamed": renamed,
        "scans": int(scanned),
        "sync_calls": len(sync_ms),
        "sync_call_ms": sync_ms,
        "sync_call_results": sync_results,
    }


async def start_emulator(
    args: argparse.Namespace,
) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    """The emulator's process and its JSON line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.soak",
        "--emulator",
        "--library",
        args.library,
        "--players",
        str(args.players),
        "--seed",
        str(args.seed),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        raise RuntimeError("the emulator exited before it served")
    return process, json.loads(line)


def entity_ids_of(
    hass: HomeAssistant, server_id: str, players: list[dict[str, Any]]
) -> dict[str, str]:
    """The media player entity of every soak player, by machine identifier."""
    registry = er.async_get(hass)
    found: dict[str, str] = {}
    for player in players:
        machine = player["machineIdentifier"]
        entity_id = registry.async_get_entity_id(
            "media_player", DOMAIN, f"{server_id}-{machine}"
        )
        if entity_id is None:
            raise RuntimeError(f"no media player for {player['title']}")
        found[machine] = entity_id
    return found


async def churn(control: Control, seconds: float, args: argparse.Namespace) -> Any:
    """One churn phase in the emulator; its account of what it did."""
    return await control.call(
        "POST",
        f"{SOAK}/churn",
        {"seconds": seconds, "rate": args.rate, "change_share": args.change_share},
    )


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    """The whole run; the figures."""
    process, info = await start_emulator(args)
    figures: dict[str, Any] = {"load_average_start": load_average()}
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=args.seconds + args.warmup + 120)
        ) as session:
            control = Control(session, info["control"])
            world = await control.call("POST", f"{SOAK}/start")
            server = Server(
                info["url"], info["token"], info["machineIdentifier"], info["name"]
            )
            async with hass_with_entry(server, options={}, prefix="bench-soak-") as run:
                figures |= await soak_in_hass(
                    run.hass, run.entry, control, args, world, emulator_pid=process.pid
                )
                figures["setup_to_push_ms"] = run.setup_to_push_ms
    finally:
        process.terminate()
        await process.wait()
    figures["load_average_end"] = load_average()
    return report(args, figures)


async def soak_in_hass(
    hass: HomeAssistant,
    entry: Any,
    control: Control,
    args: argparse.Namespace,
    world: dict[str, Any],
    *,
    emulator_pid: int,
) -> dict[str, Any]:
    """Warm-up, main phase, settle: everything measured inside Home Assistant."""
    data = entry.runtime_data
    router, listener = data.router, data.listener
    entity_ids = entity_ids_of(hass, data.server.machine_identifier, world["players"])
    mismatches, _ = await settle_states(hass, control, entity_ids)
    if mismatches:
        raise RuntimeError(f"the players never matched the server: {mismatches[:3]}")
    progress("players shown; waiting for the first mirror sync")
    # The action waits for the full sync that setup started, then syncs once more.
    first = await hass.services.async_call(
        DOMAIN, "sync", {"mode": "incremental"}, blocking=True, return_response=True
    )
    counts = await data.mirror.async_counts()
    syncs: Counter[str] = Counter()

    @callback
    def _sync_finished(event: Event[Any]) -> None:
        syncs[str(event.data.get("kind"))] += 1

    writes = Counter[str]()

    @callback
    def _state_changed(event: Event[Any]) -> None:
        writes[event.data["entity_id"].partition(".")[0]] += 1

    unsubscribe = [
        hass.bus.async_listen(EVENT_SYNC_FINISHED, _sync_finished),
        hass.bus.async_listen("state_changed", _state_changed),
    ]
    figures: dict[str, Any] = {}
    try:
        progress(f"warm-up: {args.warmup} s of churn")
        warm = Phase(control, router)
        await warm.begin()
        warm_churn = await churn(control, args.warmup, args)
        warm_dropped = await warm.end()
        warm_mismatches, _ = await settle_states(hass, control, entity_ids)
        gc.collect()
        figures["rss_start_mb"] = round(vm_mb(), 1)
        reconnects = listener.reconnects
        syncs.clear()
        writes.clear()

        progress(
            f"main phase: {args.seconds} s at {args.rate}/s, load {load_average()}"
        )
        main = Phase(control, router)
        await main.begin()
        await control.call("DELETE", "/counts")
        if args.trace_memory:
            tracemalloc.start(10)
            memory_before = tracemalloc.take_snapshot()
        cpu_before = cpu_s(), cpu_s(emulator_pid)
        lag = LagTimer()
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        lag.start()
        done = asyncio.Event()
        side = asyncio.create_task(side_work(hass, control, args, world, done))
        try:
            main_churn = await churn(control, args.seconds, args)
        finally:
            done.set()
            side_figures = await side
            lag.stop()
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
        figures["load_average_main_end"] = load_average()
        # Of one core, over the main phase: this process (all its threads) and the
        # emulator's.
        figures["cpu_share"] = {
            "home_assistant": round((cpu_s() - cpu_before[0]) / args.seconds, 3),
            "emulator": round((cpu_s(emulator_pid) - cpu_before[1]) / args.seconds, 3),
        }
        progress("churn over; settling")
        main_dropped = await main.end()
        settle_started = time.perf_counter()
        mismatches, settle_ms = await settle_states(hass, control, entity_ids)
        requests = {
            path: count
            for path, count in (await control.call("GET", "/counts"))[
                "endpoints"
            ].items()
            if not path.startswith("/:/websocket")
        }
        mirror_wrong = await settle_mirror(hass, data.mirror, world["renamed"])
        gc.collect()
        figures["rss_end_mb"] = round(vm_mb(), 1)
        if args.trace_memory:
            growth = tracemalloc.take_snapshot().compare_to(memory_before, "traceback")
            tracemalloc.stop()
            figures["memory_growth_top"] = [
                {
                    "kib": round(stat.size_diff / 1024, 1),
                    "blocks": stat.count_diff,
                    "where": [f"{f.filename}:{f.lineno}" for f in stat.traceback][-6:],
                }
                for stat in growth[:8]
            ]
        figures |= {
            "loop_lag": lag.figures(),
            "state_correct": not mismatches and not warm_mismatches,
            "mismatches": (warm_mismatches + mismatches)[:10],
            "settle_ms": round(settle_ms, 1),
            "settle_total_ms": round((time.perf_counter() - settle_started) * 1000, 1),
            "requests_total": sum(requests.values()),
            "requests_by_endpoint": dict(
                sorted(requests.items(), key=lambda kv: -kv[1])
            ),
            "events_dropped": warm_dropped + main_dropped,
            "sent": {"warmup": warm.sent, "main": main.sent},
            "received": {"warmup": warm.received, "main": main.received},
            "loop_cpu_ms_per_notification": round(
                sum(lag.cpu_ms) / max(1, main.received), 3
            ),
            "churn": {"warmup": warm_churn, "main": main_churn},
            "reconnects": listener.reconnects - reconnects,
            "state_writes": dict(writes),
            "mirror_syncs": dict(syncs),
            "mirror_items": sum(sum(types.values()) for types in counts.values()),
            "mirror_first_sync": first,
            "mirror_correct": not mirror_wrong,
            "mirror_mismatches": mirror_wrong[:10],
            "peak_rss_mb": round(vm_mb("VmHWM"), 1),
            **side_figures,
        }
    finally:
        for undo in unsubscribe:
            undo()
    return figures


def report(args: argparse.Namespace, figures: dict[str, Any]) -> dict[str, Any]:
    """The JSON object: the keys of the issue first, then targets and details."""
    lag = figures.pop("loop_lag")
    headline = {
        "loop_lag_p99_ms": lag["p99_ms"],
        "state_correct": figures.pop("state_correct"),
        "rss_start_mb": figures.pop("rss_start_mb"),
        "rss_end_mb": figures.pop("rss_end_mb"),
        "requests_total": figures.pop("requests_total"),
        "events_dropped": figures.pop("events_dropped"),
    }
    met = {
        "loop_lag_p99_ms": headline["loop_lag_p99_ms"] <= TARGETS["loop_lag_p99_ms"],
        "state_correct": headline["state_correct"],
        "rss_growth_mb": headline["rss_end_mb"] - headline["rss_start_mb"]
        <= TARGETS["rss_growth_mb"],
        "events_dropped": headline["events_dropped"] <= TARGETS["events_dropped"],
    }
    return {
        **headline,
        "targets": {**TARGETS, "state_correct": True},
        "met": met,
        "run": {
            "seconds": args.seconds,
            "warmup_s": args.warmup,
            "players": args.players,
            "rate": args.rate,
            "library": args.library,
        },
        "details": {"loop_lag": lag, **figures},
    }


def main(argv: list[str]) -> None:
    """Parse arguments; run the emulator's process or the soak; print JSON."""
    parser = argparse.ArgumentParser(prog="bench soak")
    parser.add_argument("--emulator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--players", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--change-share", type=float, default=0.05)
    parser.add_argument("--library", default="demo")
    parser.add_argument("--mutate-every", type=float, default=10.0)
    parser.add_argument("--mutate-items", type=int, default=10)
    parser.add_argument("--sync-every", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--profile", help="write a cProfile of the main phase (this process) here"
    )
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="tracemalloc over the main phase: where the memory grew (slow)",
    )
    args = parser.parse_args(argv)
    if args.emulator:
        asyncio.run(serve_emulator(args))
        return
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(asyncio.run(soak(args)), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
