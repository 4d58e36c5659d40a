"""The lively world (``tests/plex_server/lively.py``) that makes the demo move.

It is stepped on the emulator's frozen clock, never waited for: ``run_due`` acts
only when the clock says an action is due, and ``step`` acts at once.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.plex_server import PlexEmulator
from tests.plex_server.__main__ import parse_args
from tests.plex_server.clock import Clock
from tests.plex_server.lively import MAX_GAP, MAX_SESSIONS, MIN_GAP, LivelyWorld
from tests.plex_server.players import PAUSED, PLAYING


def _world(seed: int = 0) -> tuple[PlexEmulator, LivelyWorld]:
    """A small world that is never served: stepping needs no socket."""
    emu = PlexEmulator(library="small", clock=Clock(start=1_760_000_000.0, frozen=True))
    return emu, LivelyWorld(emu, seed=seed)


def _run(world: LivelyWorld, steps: int) -> list[tuple[str, str | None, str]]:
    return [(a.kind, a.player, a.title) for a in (world.step() for _ in range(steps))]


def test_same_seed_same_story() -> None:
    """Two worlds of one seed do the same things; another seed does others."""
    first, second, other = _world(1)[1], _world(1)[1], _world(2)[1]
    story = _run(first, 60)
    assert _run(second, 60) == story
    assert _run(other, 60) != story


def test_every_kind_of_action_happens() -> None:
    """Over a while, sessions start, pause, resume, seek and stop; episodes appear."""
    emu, world = _world()
    episodes_before = emu.library.count("episode")
    kinds = {action.kind for action in (world.step() for _ in range(200))}
    assert kinds == {"start", "pause", "resume", "seek", "stop", "add"}
    added = sum(1 for action in world.actions if action.kind == "add")
    assert emu.library.count("episode") == episodes_before + added


def test_sessions_stay_plausible() -> None:
    """Never more than MAX_SESSIONS at once; music plays only on the speaker."""
    emu, world = _world(3)
    for _ in range(150):
        world.step()
        sessions = emu.sessions.sessions
        assert len(sessions) <= MAX_SESSIONS
        for session in sessions:
            assert session.state in (PLAYING, PAUSED)
            is_track = session.item.kind == "track"
            assert is_track == (session.player.device_class == "speaker")


def test_actions_follow_the_emulator_clock() -> None:
    """Nothing happens before the next action is due; then it does."""
    emu, world = _world()
    due_in = world.next_at - emu.clock.now()
    assert MIN_GAP <= due_in <= MAX_GAP
    emu.clock.advance(due_in - 0.5)
    assert world.run_due() == []
    assert emu.sessions.sessions == []
    emu.clock.advance(0.5)
    [action] = world.run_due()
    assert action.kind == "start"  # nothing played yet: the only thing to do
    assert [s.player.title for s in emu.sessions.sessions] == [action.player]
    # An hour later the world has done many things, each within the gaps.
    emu.sessions.advance(3600)
    done = world.run_due()
    assert 3600 / MAX_GAP <= len(done) + 1 <= 3600 / MIN_GAP + 1
    assert all(
        MIN_GAP <= later.at - earlier.at <= MAX_GAP
        for earlier, later in zip(world.actions, world.actions[1:], strict=False)
    )


async def test_changes_are_announced(plex_server: PlexEmulator) -> None:
    """The world's changes are published like any other (here: a session starts)."""
    world = LivelyWorld(plex_server, seed=0)
    queue = plex_server.notifications.subscribe()
    try:
        action = world.step()
        assert action.kind == "start"
        message = await asyncio.wait_for(queue.get(), 5)
    finally:
        plex_server.notifications.unsubscribe(queue)
    container = message["NotificationContainer"]
    assert container["type"] == "playing"
    assert container["PlaySessionStateNotification"][0]["state"] == "playing"


async def test_start_and_stop_on_the_loop(plex_server: PlexEmulator) -> None:
    """start() runs a task on the caller's loop; stop() ends it and leaves nothing."""
    world = LivelyWorld(plex_server, seed=0)
    await world.start()
    await world.start()  # idempotent
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "plex-emulator-lively"]
    assert len(tasks) == 1
    await world.stop()
    assert tasks[0].done()
    await world.stop()  # idempotent


def test_bad_gaps_are_refused() -> None:
    """A world that would act in a busy loop, or never, is refused."""
    emu = PlexEmulator(library="small", clock=Clock(frozen=True))
    with pytest.raises(ValueError, match="gaps"):
        LivelyWorld(emu, min_gap=0)
    with pytest.raises(ValueError, match="gaps"):
        LivelyWorld(emu, min_gap=10, max_gap=5)


def test_command_line_flag() -> None:
    """``--lively`` is off unless asked for (tests and benchmarks stay still)."""
    assert parse_args([]).lively is False
    assert parse_args(["--lively"]).lively is True
    assert json.dumps(vars(parse_args(["--lively"])))  # plain values only
