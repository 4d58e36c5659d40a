"""A lively world: the emulated server plays things on its own, for the demo.

``scripts/develop --demo`` (``python -m tests.plex_server --lively``) starts one per
server so that the dashboard moves without anyone touching it: every few seconds to
tens of seconds a simulated player starts something, pauses, resumes, seeks or
stops, and now and then a new episode of a show is added to the library. Each change
goes through the emulator's own Python API (``emu.sessions``, ``emu.library``), so it
is announced exactly as a change made through the control API would be, and the
control API keeps working beside it.

It is deterministic: the choices come from ``random.Random(f"lively:{seed}")`` and
the times from ``emu.clock``. Nothing runs in a thread. ``run_due()`` performs every
action whose time has come on the emulator's clock (tests freeze the clock, move it
and call it); ``step()`` performs the next action at once. ``start()`` runs
``run_due`` from a task on the caller's event loop, sleeping until the next action
is due, for a clock that runs on its own; ``stop()`` cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import random
from typing import TYPE_CHECKING

from .players import PAUSED, PLAYING

if TYPE_CHECKING:
    from .items import Item
    from .players import Player
    from .server import PlexEmulator

MIN_GAP = 4.0
"""Fewest seconds between two actions."""
MAX_GAP = 25.0
"""Most seconds between two actions."""
MAX_SESSIONS = 3
"""How many players play at once, at most (a real household's evening)."""
NEW_EPISODE_EVERY = 12
"""About one action in this many adds an episode."""
AUDIO_DEVICE_CLASSES = frozenset({"speaker"})
"""Players that play music (Plexamp on a speaker); the others play video."""


@dataclass(frozen=True)
class Action:
    """What the world did: ``kind`` (start, pause, resume, seek, stop, add), on what."""

    at: float
    """The clock time it was due (``run_due`` catches up on a clock that jumped)."""
    kind: str
    player: str | None
    title: str


class LivelyWorld:
    """Makes one emulated server's players and library change by themselves."""

    def __init__(
        self,
        emu: PlexEmulator,
        *,
        seed: int = 0,
        min_gap: float = MIN_GAP,
        max_gap: float = MAX_GAP,
    ) -> None:
        if not 0 < min_gap <= max_gap:
            raise ValueError("gaps must satisfy 0 < min_gap <= max_gap")
        self.emu = emu
        self.min_gap, self.max_gap = min_gap, max_gap
        self._rng = random.Random(f"lively:{seed}")
        self.actions: list[Action] = []
        """Everything done so far, oldest first."""
        self.next_at = emu.clock.now() + self._gap()
        """The emulator clock time of the next action."""
        self._task: asyncio.Task[None] | None = None

    # -- scheduling -----------------------------------------------------------------

    def _gap(self) -> float:
        return self._rng.uniform(self.min_gap, self.max_gap)

    def run_due(self) -> list[Action]:
        """Perform every action due by the emulator's clock; returns them."""
        done = []
        while self.emu.clock.now() >= self.next_at:
            done.append(self.step(at=self.next_at))
            self.next_at += self._gap()
        return done

    async def start(self) -> None:
        """Run on the caller's loop, following the emulator's (running) clock."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="plex-emulator-lively")

    async def stop(self) -> None:
        """Stop acting (what plays keeps playing until the server stops)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self.next_at - self.emu.clock.now()))
            self.run_due()

    # -- acting ---------------------------------------------------------------------

    def step(self, at: float | None = None) -> Action:
        """Do the next thing now: chosen from what is possible, by the seeded dice.

        ``at``: when it was due (default: now), recorded in the ``Action``.
        """
        sessions = self.emu.sessions.sessions
        playing = [s for s in sessions if s.state == PLAYING and not s.live]
        paused = [s for s in sessions if s.state == PAUSED]
        free = [p for p in self.emu.players if p.session_key is None]
        choices: list[tuple[str, float]] = []
        if free and len(sessions) < MAX_SESSIONS:
            choices.append(("start", 4.0 if not sessions else 2.0))
        if playing:
            choices += [("pause", 1.5), ("seek", 1.5), ("stop", 1.0)]
        if paused:
            choices += [("resume", 2.5), ("stop", 0.5)]
        if self._shows():
            choices.append(("add", sum(w for _, w in choices) / NEW_EPISODE_EVERY or 1))
        kinds = [kind for kind, _ in choices]
        kind = self._rng.choices(kinds, weights=[w for _, w in choices])[0]
        now = self.emu.clock.now() if at is None else at
        sessions_api = self.emu.sessions
        if kind == "start":
            player = self._rng.choice(free)
            item = self._pick_item(player)
            duration = item.duration or 0
            session = sessions_api.start_session(
                player=player,
                rating_key=item.rating_key,
                transcode=self._rng.random() < 0.3,
                view_offset=int(duration * self._rng.uniform(0, 0.6))
                if self._rng.random() < 0.5
                else 0,
            )
            action = Action(now, kind, player.title, session.item.title)
        elif kind == "add":
            item = self._add_episode()
            action = Action(now, kind, None, item.title)
        else:
            pool = {"resume": paused, "stop": playing + paused}.get(kind, playing)
            session = self._rng.choice(pool)
            if kind == "pause":
                sessions_api.pause(session)
            elif kind == "resume":
                sessions_api.resume(session)
            elif kind == "seek":
                sessions_api.seek(
                    session, int(session.duration * self._rng.uniform(0.05, 0.85))
                )
            else:
                sessions_api.stop_session(session)
            action = Action(now, kind, session.player.title, session.item.title)
        self.actions.append(action)
        return action

    def _pick_item(self, player: Player) -> Item:
        """Something this player would play: music on a speaker, else a movie or episode."""
        kinds = (
            ("track",)
            if player.device_class in AUDIO_DEVICE_CLASSES
            else ("movie", "episode")
        )
        items = self.emu.library.items
        candidates = [
            items[key]
            for key in sorted(items)
            if items[key].kind in kinds and items[key].duration
        ]
        return self._rng.choice(candidates)

    def _shows(self) -> list[Item]:
        items = self.emu.library.items
        return [
            items[key]
            for key in sorted(items)
            if items[key].kind == "show" and items[key].children
        ]

    def _add_episode(self) -> Item:
        """A new episode at the end of a show's last season, as a scan would add it."""
        show = self._rng.choice(self._shows())
        assert show.children is not None
        season = max(show.children, key=lambda s: s.index or 0)
        episodes = season.children or []
        number = max((e.index or 0 for e in episodes), default=0) + 1
        return self.emu.library.add_item(
            show.section.id,
            f"Episode {number}",
            parent=season.rating_key,
            index=number,
            duration=self._rng.choice((22, 44, 58)) * 60_000,
        )
