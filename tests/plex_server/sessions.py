"""Live play sessions: ``/status/sessions``, history, terminate, ``/transcode/sessions``.

``SessionManager`` (``emu.sessions``) is the Python API that tests, the control API
and the simulated players use to make the world play::

    session = emu.sessions.start_session(player="Living Room TV", rating_key=5,
                                         user="Sam", transcode=True, bandwidth=4000)
    emu.sessions.advance(30)           # the clock moves 30 s; position +30 s
    emu.sessions.pause(session)
    emu.sessions.seek(session, 600_000)
    emu.sessions.resume(session)
    emu.sessions.stop_session(session) # history + watched (>= 90 %) or resume point

Positions need no background task: a session stores its position at the last state
change (``anchor_offset`` at ``anchor_time``) and derives the current position from
``emu.clock`` whenever it is read. Only when the clock runs on its own (the demo,
``scripts/plex-server``) does a task report progress every 10 s, as Plex does; it
is cancelled by ``stop``. A session that plays past its item's end is
settled on the next read (or ``advance``): the item is scrobbled, a history entry
written, and the player moves on to the next item of its play queue, as a real
player would.

Every state change publishes a ``playing`` notification
(``PlaySessionStateNotification``); transcoded sessions also publish
``transcodeSession.start`` / ``.update`` / ``.end``.

Elements follow real Plex (``captures/session_base.xml``,
``captures/livetv_sessions.xml``): each session is the library item's own element
(``Video`` for movies and episodes, ``Track``, ``Photo``) with ``sessionKey`` and
``viewOffset``, then ``Player``, ``User``, ``Session`` (``id``, ``bandwidth``,
``location``), ``Media`` > ``Part`` > ``Stream`` with ``decision`` and
``selected``, and ``TranscodeSession`` when transcoding (a direct child of the item,
where python-plexapi's ``PlexSession.transcodeSession`` looks for it).

Besides library items, sessions play media that no library holds
(``transient.TransientItem``): live TV (``start_live_tv``: ``librarySectionID="-4"``,
``live="1"``, ``key="/livetv/sessions/<uuid>"``, listed also by ``/livetv/sessions``
in ``livetv_sessions.xml``'s shape), prerolls and trailers (``start_clip``:
``type="clip"``, a preroll in section ``-2``), and items of no known library
(``start_unknown``: section ``-3``, another id, or none). ``include_user=False``
leaves a session's ``User`` element out.

Status codes of ``/status/sessions/terminate`` follow the spec: ``403`` without
``sessionId``, ``404`` for an unknown one, ``200`` with an empty body otherwise.
``/status/sessions``, ``/transcode/sessions`` and terminate are the owner's (the
spec's ``admin`` security): a shared user's token gets ``401``, which is what HA
core expects of a token with "limited permissions". In the history a shared user
sees only their own plays.

A simulated player's own ``/:/timeline`` reports (``X-Plex-Client-Identifier`` =
its machine identifier) drive its session too (``on_timeline``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import contextlib
from dataclasses import dataclass
import functools
import random
import string
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .auth import user_for_request
from .node import Node
from .players import BUFFERING, PAUSED, PLAYING, STOPPED, Player
from .playqueues import PlaybackControl, PlayQueue, PlayQueueStore
from .responses import error, media_container, paged_headers, wants_json
from .transient import (
    CLIP_KINDS,
    LINEUP,
    UNKNOWN_SECTION_ID,
    Channel,
    TransientItem,
    find_channel,
    live_item,
    new_session_uuid,
    preroll_item,
    trailer_item,
    unknown_item,
)

if TYPE_CHECKING:
    from .items import Item
    from .server import PlexEmulator

SCROBBLE_FRACTION = 0.9
"""Share of an item that counts as watched when a session ends (Plex: 90 %)."""
REPORT_INTERVAL = 10.0
"""Seconds between the progress notifications of a running (not frozen) clock."""
TRANSCODE_SPEED = 2.5
"""How many seconds of media the simulated transcoder makes per second."""
TRANSCODE_BUFFER_MS = 60_000
"""How far ahead of the player the transcoder runs before it throttles."""
TRANSCODE_WIDTH, TRANSCODE_HEIGHT = 1280, 720
"""The size of the video the simulated transcoder makes (720p)."""
TRANSCODE_AUDIO_BITRATE = 256
"""kbps of the AAC stereo audio the transcoder makes (``session_base.xml``)."""
TRANSCODED_AUDIO_STREAM: dict[str, Any] = {
    "codec": "aac",
    "channels": 2,
    "audioChannelLayout": "stereo",
    "bitrate": TRANSCODE_AUDIO_BITRATE,
    "bitrateMode": "cbr",
}
"""What a transcoded audio ``Stream`` says of the transcoder's output."""
LOCATIONS = ("lan", "wan")
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True, slots=True)
class Account:
    """The user a session plays for (``User`` element)."""

    id: int
    title: str

    @property
    def thumb(self) -> str:
        """The plex.tv avatar URL Plex writes for the user."""
        return f"https://plex.tv/users/{self.id:016x}/avatar?c=1760000000"

    def node(self) -> Node:
        """The ``User`` child of a session."""
        return Node(
            "User", {"id": str(self.id), "thumb": self.thumb, "title": self.title}
        )


@dataclass(eq=False)
class PlaySession:
    """One live playback: who plays what where, and how far they are."""

    session_key: str
    id: str
    account: Account
    player: Player
    item: Item | TransientItem
    play_queue: PlayQueue
    play_queue_item_id: int
    location: str
    bandwidth: int
    transcode_id: str | None
    video_decision: str | None
    audio_decision: str | None
    state: str
    anchor_offset: int
    anchor_time: float
    transcode_started_at: float
    transcode_start_offset: int
    show_user: bool = True
    """False: the session has no ``User`` element (``include_user=False``)."""
    then: Item | None = None
    """A clip's feature: the library item the player plays when the clip ends."""

    @property
    def live(self) -> bool:
        """Whether this is live TV (``live="1"``, ``librarySectionID="-4"``)."""
        return isinstance(self.item, TransientItem) and self.item.live

    @property
    def transient(self) -> bool:
        """Whether the item is in no library (live TV, a clip, an unknown item)."""
        return isinstance(self.item, TransientItem)

    @property
    def key(self) -> str:
        """The item's ``key`` (``/livetv/sessions/<uuid>`` for live TV)."""
        return self.item.key

    @property
    def duration(self) -> int:
        """The item's length in milliseconds."""
        return self.item.duration or 0

    @property
    def rating_key(self) -> str:
        """The item's ``ratingKey`` (a string, as Plex writes it)."""
        return str(self.item.rating_key)

    @property
    def transcoding(self) -> bool:
        """Whether the server transcodes this session."""
        return self.transcode_id is not None

    def position(self, now: float) -> int:
        """The play position in milliseconds at clock time ``now``."""
        if self.state != PLAYING:
            return self.anchor_offset
        elapsed = max(0.0, now - self.anchor_time)
        return min(self.duration, self.anchor_offset + int(elapsed * 1000))

    def end_time(self) -> float | None:
        """When a playing session reaches the item's end (``None`` unless playing).

        Items without a duration (photos) never end by themselves.
        """
        if self.state != PLAYING or not self.duration:
            return None
        return self.anchor_time + (self.duration - self.anchor_offset) / 1000

    def reanchor(self, now: float, offset: int | None = None) -> None:
        """Fix the position at ``now`` (or set it to ``offset``) before a change."""
        self.anchor_offset = (
            self.position(now) if offset is None else max(0, min(offset, self.duration))
        )
        self.anchor_time = now


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One view in ``/status/sessions/history/all``."""

    history_id: int
    item: Item
    account_id: int
    device_id: int
    viewed_at: int

    def node(self) -> Node:
        """The entry's element (``Video`` / ``Track`` / ``Photo``), attributes per the spec."""
        item = self.item
        attrs: dict[str, Any] = {
            "historyKey": f"/status/sessions/history/{self.history_id}",
            "key": f"/library/metadata/{item.rating_key}",
            "ratingKey": str(item.rating_key),
            "librarySectionID": str(item.section.id),
        }
        parent = item.parent
        if parent is not None:
            attrs["parentKey"] = f"/library/metadata/{parent.rating_key}"
            attrs["parentRatingKey"] = str(parent.rating_key)
            if parent.parent is not None:
                attrs["grandparentKey"] = (
                    f"/library/metadata/{parent.parent.rating_key}"
                )
                attrs["grandparentRatingKey"] = str(parent.parent.rating_key)
                attrs["grandparentTitle"] = parent.parent.title
            attrs["parentTitle"] = parent.title
            attrs["parentIndex"] = parent.index
        attrs |= {
            "title": item.title,
            "type": item.kind,
            "thumb": item.thumb,
            "index": item.index,
            "originallyAvailableAt": item.originally_available_at,
            "viewedAt": self.viewed_at,
            "accountID": self.account_id,
            "deviceID": self.device_id,
        }
        return Node(item.tag, attrs, json_key="Metadata")


class SessionManager:
    """The live sessions and the play history of one emulated server.

    Python API (all synchronous; every change publishes its notifications):

    - ``start_session(player=..., rating_key=..., user=None, transcode=False,
      bandwidth=None, location="lan", view_offset=0, play_queue=None,
      include_user=True)``: a library item (movie, episode, track, photo);
    - ``start_live_tv(player=..., channel=None, ...)``: the program on air on a
      channel of ``transient.LINEUP``;
    - ``start_clip(player=..., clip="preroll" | "trailer", before=None,
      trailer_of=None, ...)``: a preroll or trailer, then ``before`` (a ratingKey);
    - ``start_unknown(player=..., library_section_id=-3, ...)``: an item of no
      library the user can see;
    - ``include_user=False`` on any of them: a session without a ``User`` element;
    - ``pause``, ``resume``, ``buffer``, ``seek``, ``stop_session``, ``terminate``;
    - ``advance(seconds)``: move ``emu.clock`` and report progress;
    - ``sessions`` (settled, oldest first), ``get(key_or_id)``, ``for_player``;
    - ``history``: the views recorded so far, oldest first;
    - ``queues``: the play queues (``playqueues.PlayQueueStore``) players play from;
    - ``control``: remote control of the players (``playqueues.PlaybackControl``).

    A ``session`` argument may be the ``PlaySession``, its ``sessionKey``, its
    ``Session`` id or the player (object, machine identifier or title).
    """

    def __init__(self, emu: PlexEmulator) -> None:
        self.emu = emu
        self._sessions: dict[str, PlaySession] = {}
        self.history: list[HistoryEntry] = []
        self._next_session_key = 1
        self._next_history_id = 1
        self._ids = random.Random(f"sessions:{emu.seed}")
        self.queues = PlayQueueStore(emu)
        self.control = PlaybackControl(emu)
        self._reporter: asyncio.Task[None] | None = None
        emu.library.timeline_hooks.append(self.on_timeline)

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """With a running clock (the demo), report progress every 10 s like Plex.

        With a frozen clock (tests) nothing runs in the background: positions follow
        ``emu.clock`` on read and ``advance`` reports progress.
        """
        if not self.emu.clock.frozen:
            self._reporter = asyncio.create_task(
                self._report_periodically(), name="plex-emulator-progress"
            )

    async def stop(self) -> None:
        """Stop reporting and end every session quietly (the server is going away)."""
        if self._reporter is not None:
            self._reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reporter
            self._reporter = None
        for session in list(self._sessions.values()):
            self._release_player(session)
        self._sessions.clear()

    async def _report_periodically(self) -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL)
            self.report_progress()

    # -- reading ------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The emulator's clock time."""
        return self.emu.clock.now()

    @property
    def sessions(self) -> list[PlaySession]:
        """The live sessions, after finishing the ones that reached their end."""
        self.settle()
        return list(self._sessions.values())

    @property
    def transcode_count(self) -> int:
        """How many live sessions the server transcodes (``/``'s ``transcoderActiveVideoSessions``)."""
        return sum(1 for session in self.sessions if session.transcoding)

    def get(self, key: str | int | PlaySession | Player) -> PlaySession | None:
        """A live session by object, ``sessionKey``, ``Session`` id or player."""
        self.settle()
        if isinstance(key, PlaySession):
            return key if key.session_key in self._sessions else None
        text = str(key) if not isinstance(key, Player) else key.machine_identifier
        if text in self._sessions:
            return self._sessions[text]
        for session in self._sessions.values():
            if text == session.id:
                return session
        player = self.emu.players.get(key if isinstance(key, Player) else text)
        return self.for_player(player) if player is not None else None

    def require(self, key: str | int | PlaySession | Player) -> PlaySession:
        """Like ``get`` but raises ``KeyError`` when there is no such live session."""
        session = self.get(key)
        if session is None:
            raise KeyError(f"no live session: {key!r}")
        return session

    def for_player(self, player: Player) -> PlaySession | None:
        """The live session of a player, if it plays something."""
        if player.session_key is None:
            return None
        return self._sessions.get(player.session_key)

    def position(self, session: PlaySession) -> int:
        """A session's position (ms) now."""
        return session.position(self.now)

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The live TV lineup (``transient.LINEUP``)."""
        return LINEUP

    def describe(self, session: PlaySession) -> dict[str, Any]:
        """A JSON-ready summary of a session (for the control API)."""
        return {
            "sessionKey": session.session_key,
            "sessionId": session.id,
            "player": session.player.machine_identifier,
            "user": {"id": session.account.id, "title": session.account.title}
            if session.show_user
            else None,
            "ratingKey": session.rating_key,
            "key": session.key,
            "type": session.item.kind,
            "live": session.live,
            "title": session.item.title,
            "state": session.state,
            "viewOffset": session.position(self.now),
            "duration": session.duration,
            "transcode": session.transcoding,
            "transcodeSession": session.transcode_id,
            "videoDecision": session.video_decision,
            "audioDecision": session.audio_decision,
            "bandwidth": session.bandwidth,
            "location": session.location,
            "playQueueID": session.play_queue.id,
            "playQueueItemID": session.play_queue_item_id,
        }

    # -- starting -----------------------------------------------------------------------

    def start_session(
        self,
        *,
        player: str | Player,
        rating_key: int | str,
        user: int | str | None = None,
        transcode: bool = False,
        bandwidth: int | None = None,
        location: str = "lan",
        view_offset: int = 0,
        play_queue: PlayQueue | None = None,
        video_decision: str | None = None,
        audio_decision: str | None = None,
        state: str = PLAYING,
        include_user: bool = True,
    ) -> PlaySession:
        """Start playing an item on a player; returns the new session.

        ``user``: account id or name (default: the player's account, else the owner).
        ``transcode``: the server transcodes (``video_decision`` / ``audio_decision``
        default to ``transcode``); otherwise the player direct-plays.
        ``bandwidth`` (kbps) defaults to the media's bitrate. ``location`` is ``lan``
        or ``wan``. Without ``play_queue`` a one-item queue is created, as every
        Plex client plays from one. A player plays one thing: its previous session
        stops first. ``include_user=False``: the session has no ``User`` element
        (real servers send some transient sessions so); it still plays for
        ``user``'s account internally (history, ``describe``).
        """
        return self._begin(
            self.emu.players.require(player),
            self._playable(rating_key),
            user=user,
            transcode=transcode,
            bandwidth=bandwidth,
            location=location,
            view_offset=view_offset,
            play_queue=play_queue,
            video_decision=video_decision,
            audio_decision=audio_decision,
            state=state,
            include_user=include_user,
        )

    def start_live_tv(
        self,
        *,
        player: str | Player,
        channel: str | None = None,
        user: int | str | None = None,
        include_user: bool = True,
        bandwidth: int | None = None,
        location: str = "lan",
        state: str = PLAYING,
    ) -> PlaySession:
        """Tune a player to a live TV channel (number or call sign; default the first).

        The session plays the program on air (``transient.live_item``): its
        ``viewOffset`` is how far into the program the broadcast is, and when the
        program ends the session goes on with the next one. Live TV always goes
        through the transcoder, which copies the tuner's streams into HLS
        (``livetv_sessions.xml``: ``videoDecision="copy"``, ``audioDecision="copy"``).
        """
        return self._tune(
            self.emu.players.require(player),
            find_channel(channel),
            self.now,
            user=user,
            include_user=include_user,
            bandwidth=bandwidth,
            location=location,
            state=state,
        )

    def _tune(
        self,
        target: Player,
        channel: Channel,
        at: float,
        *,
        user: int | str | None,
        include_user: bool,
        bandwidth: int | None,
        location: str,
        state: str,
    ) -> PlaySession:
        """Start a live session of what ``channel`` airs at clock time ``at``."""
        item = live_item(
            channel, at, new_session_uuid(self.emu.seed, self._next_session_key)
        )
        return self._begin(
            target,
            item,
            user=user,
            transcode=True,
            bandwidth=bandwidth,
            location=location,
            view_offset=int((at - item.program_start) * 1000),
            video_decision="copy",
            audio_decision="copy",
            state=state,
            include_user=include_user,
            at=at,
        )

    def start_clip(
        self,
        *,
        player: str | Player,
        clip: str = "preroll",
        before: int | str | None = None,
        trailer_of: int | str | None = None,
        user: int | str | None = None,
        include_user: bool = True,
        transcode: bool = False,
        bandwidth: int | None = None,
        location: str = "lan",
        state: str = PLAYING,
    ) -> PlaySession:
        """Play a preroll or a trailer, as Plex does before a feature.

        ``clip="preroll"``: a preroll clip (``librarySectionID="-2"``);
        ``clip="trailer"``: the trailer of ``trailer_of`` (a movie or show; default
        ``before``, else the first movie). ``before``: the library item the player
        plays when the clip ends (with the same user, transcode and location).
        """
        if clip not in CLIP_KINDS:
            raise ValueError(f"clip must be one of {CLIP_KINDS}, not {clip!r}")
        target = self.emu.players.require(player)
        feature = self._playable(before) if before is not None else None
        item: TransientItem
        if clip == "preroll":
            item = preroll_item(self._next_session_key, self.now)
        else:
            item = trailer_item(
                self.emu.library.renderer, self._trailer_owner(trailer_of, feature)
            )
        session = self._begin(
            target,
            item,
            user=user,
            transcode=transcode,
            bandwidth=bandwidth,
            location=location,
            state=state,
            include_user=include_user,
        )
        session.then = feature
        return session

    def start_unknown(
        self,
        *,
        player: str | Player,
        library_section_id: int | None = UNKNOWN_SECTION_ID,
        user: int | str | None = None,
        include_user: bool = True,
        transcode: bool = False,
        bandwidth: int | None = None,
        location: str = "lan",
        state: str = PLAYING,
    ) -> PlaySession:
        """Play an item of no library the user can see (``session_unknown.xml``).

        ``library_section_id``: its ``librarySectionID`` (``-3`` as in the
        capture, or the id of a section that does not exist or is not shared);
        ``None``: no ``librarySectionID`` at all. It never has a
        ``librarySectionTitle``.
        """
        return self._begin(
            self.emu.players.require(player),
            unknown_item(
                self._next_session_key, self.now, section_id=library_section_id
            ),
            user=user,
            transcode=transcode,
            bandwidth=bandwidth,
            location=location,
            state=state,
            include_user=include_user,
        )

    def _trailer_owner(
        self, trailer_of: int | str | None, feature: Item | None
    ) -> Item:
        """The movie or show whose trailer ``start_clip`` plays."""
        library = self.emu.library
        if trailer_of is not None:
            owner = library.find(trailer_of)
            if owner is None:
                raise KeyError(f"no library item with ratingKey {trailer_of!r}")
        elif feature is not None:
            owner = feature
        else:
            owner = next((i for i in library.items.values() if i.kind == "movie"), None)
            if owner is None:
                raise KeyError("the library has no movie to take a trailer from")
        if owner.kind not in ("movie", "show"):
            raise ValueError(
                f"ratingKey {owner.rating_key} is a {owner.kind}; "
                "only movies and shows have trailers"
            )
        return owner

    def _begin(
        self,
        target: Player,
        item: Item | TransientItem,
        *,
        user: int | str | None,
        transcode: bool,
        bandwidth: int | None,
        location: str,
        state: str,
        include_user: bool,
        view_offset: int = 0,
        play_queue: PlayQueue | None = None,
        video_decision: str | None = None,
        audio_decision: str | None = None,
        at: float | None = None,
    ) -> PlaySession:
        """Start a session of ``item`` on ``target`` (see ``start_session``).

        ``at``: the clock time the session began (default now; earlier when a
        live channel moves on to its next program while the clock is advanced).
        """
        if location not in LOCATIONS:
            raise ValueError(f"location must be one of {LOCATIONS}, not {location!r}")
        if state not in (PLAYING, PAUSED, BUFFERING):
            raise ValueError(
                f"a session starts playing, paused or buffering, not {state!r}"
            )
        account = self._account(user if user is not None else target.user_id)
        if play_queue is not None:
            queue = play_queue
        elif isinstance(item, TransientItem):
            queue = self.queues.detached(item)
        else:
            queue = self.queues.create([item])
        queue_item_id = queue.select(item)
        previous = self.for_player(target)
        if previous is not None:
            self.stop_session(previous)
        now = self.now if at is None else at
        media_bitrate = _media_bitrate(self.emu, item)
        session = PlaySession(
            session_key=str(self._next_session_key),
            id=self._random_id(),
            account=account,
            player=target,
            item=item,
            play_queue=queue,
            play_queue_item_id=queue_item_id,
            location=location,
            bandwidth=bandwidth if bandwidth is not None else media_bitrate,
            transcode_id=self._random_id() if transcode else None,
            video_decision=_decision(item, "video", transcode, video_decision),
            audio_decision=_decision(item, "audio", transcode, audio_decision),
            state=state,
            anchor_offset=max(0, min(view_offset, item.duration or 0)),
            anchor_time=now,
            transcode_started_at=now,
            transcode_start_offset=max(0, view_offset),
            show_user=include_user,
        )
        self._next_session_key += 1
        self._sessions[session.session_key] = session
        target.session_key = session.session_key
        target.play_queue_id = queue.id
        target.state = state
        self._announce(session)
        if session.transcoding:
            self._announce_transcode(session, "transcodeSession.start")
        return session

    # -- changing -----------------------------------------------------------------------

    def pause(self, key: str | int | PlaySession | Player) -> PlaySession:
        """Pause a session (its position stops following the clock)."""
        return self._set_state(self.require(key), PAUSED)

    def resume(self, key: str | int | PlaySession | Player) -> PlaySession:
        """Play a paused or buffering session again."""
        return self._set_state(self.require(key), PLAYING)

    def buffer(self, key: str | int | PlaySession | Player) -> PlaySession:
        """The player is buffering: the position holds until ``resume``."""
        return self._set_state(self.require(key), BUFFERING)

    def seek(self, key: str | int | PlaySession | Player, offset: int) -> PlaySession:
        """Jump to ``offset`` milliseconds (clamped to the item)."""
        session = self.require(key)
        session.reanchor(self.now, offset)
        if session.transcoding:
            session.transcode_started_at = self.now
            session.transcode_start_offset = session.anchor_offset
        self._announce(session)
        return session

    def stop_session(self, key: str | int | PlaySession | Player) -> PlaySession:
        """End a session: the player stops, the view is recorded (``_record_view``)."""
        session = self.require(key)
        self._end(session, self.now)
        return session

    def terminate(self, session_id: str, reason: str = "") -> PlaySession:
        """End a session by its ``Session`` id, as ``/status/sessions/terminate`` does.

        ``reason`` is what the player shows its user; it is kept on the player.
        """
        session = next((s for s in self.sessions if s.id == session_id), None)
        if session is None:
            raise KeyError(f"no session with id {session_id!r}")
        session.player.termination_reason = reason
        self._end(session, self.now)
        return session

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock and report progress the way Plex does.

        Sessions that reach their end finish (and move on in their play queue);
        each session still playing publishes a ``playing`` notification with its
        new ``viewOffset``, and transcoded ones a ``transcodeSession.update``.
        """
        self.emu.clock.advance(seconds)
        self.report_progress()

    def report_progress(self) -> None:
        """Finish ended sessions, then announce where each playing one is."""
        self.settle()
        for session in list(self._sessions.values()):
            if session.state == PLAYING:
                self._announce(session)
                if session.transcoding:
                    self._announce_transcode(session, "transcodeSession.update")

    def settle(self) -> None:
        """Finish every playing session whose item has ended by now."""
        now = self.now
        while True:
            ended = [
                s
                for s in self._sessions.values()
                if (end := s.end_time()) is not None and end <= now
            ]
            if not ended:
                return
            for session in sorted(ended, key=lambda s: s.end_time() or 0.0):
                self._play_through(session)

    # -- internals ----------------------------------------------------------------------

    def _set_state(self, session: PlaySession, state: str) -> PlaySession:
        if session.state != state:
            session.reanchor(self.now)
            session.state = state
            session.player.state = state
        self._announce(session)
        return session

    def _play_through(self, session: PlaySession) -> None:
        """A session reached its item's end: finish it and play the queue's next item."""
        end = session.end_time()
        assert end is not None
        player, queue = session.player, session.play_queue
        self._end(session, end)
        if session.live:
            self._next_program(session, end)
            return
        if session.then is not None:
            if self.emu.library.find(session.then.rating_key) is session.then:
                self._continue(session, session.then, end, keep_queue=False)
            return
        following = queue.step(1, repeat=player.repeat)
        if (
            following is None
            or self.emu.library.find(following.rating_key) is not following
        ):
            return  # the end of the queue (or its next item was deleted): the player stops
        self._continue(session, following, end)

    def _continue(
        self,
        previous: PlaySession,
        item: Item,
        at: float,
        *,
        keep_queue: bool = True,
    ) -> None:
        """Start the next item on the same player from clock time ``at``.

        ``keep_queue=False`` makes a new queue (a feature after its clip).
        """
        session = self.start_session(
            player=previous.player,
            rating_key=item.rating_key,
            user=previous.account.id,
            transcode=previous.transcoding,
            bandwidth=previous.bandwidth,
            location=previous.location,
            play_queue=previous.play_queue if keep_queue else None,
            include_user=previous.show_user,
        )
        session.anchor_time = session.transcode_started_at = at

    def _next_program(self, previous: PlaySession, at: float) -> None:
        """A live program ended at ``at``: the player stays tuned to the next one."""
        item = previous.item
        assert isinstance(item, TransientItem)
        assert item.channel is not None
        self._tune(
            previous.player,
            item.channel,
            at,
            user=previous.account.id,
            include_user=previous.show_user,
            bandwidth=previous.bandwidth,
            location=previous.location,
            state=PLAYING,
        )

    def _end(
        self, session: PlaySession, at: float, *, update_library: bool = True
    ) -> None:
        """Remove a session at clock time ``at``, record the view, tell everyone.

        ``update_library=False`` when the client already reported the position
        itself (``/:/timeline``), so the library is not told twice.
        """
        offset = session.position(at)
        session.anchor_offset, session.anchor_time = offset, at
        self._sessions.pop(session.session_key, None)
        self._release_player(session)
        self._record_view(session, offset, at, update_library=update_library)
        session.state = STOPPED
        self._announce(session)
        if session.transcoding:
            self._announce_transcode(session, "transcodeSession.end")

    def _release_player(self, session: PlaySession) -> None:
        player = session.player
        if player.session_key == session.session_key:
            player.session_key = None
            player.state = STOPPED

    def _record_view(
        self, session: PlaySession, offset: int, at: float, *, update_library: bool
    ) -> None:
        """Scrobble (history + watched) past 90 %, else keep the resume point.

        Nothing is recorded for an item that was deleted while it played.
        """
        library = self.emu.library
        item = session.item
        if library.find(item.rating_key) is not item:
            return
        duration = session.duration
        if duration and offset >= duration * SCROBBLE_FRACTION:
            if update_library:
                library.mark_watched(item.rating_key)
            self.history.append(
                HistoryEntry(
                    history_id=self._next_history_id,
                    item=item,
                    account_id=session.account.id,
                    device_id=session.player.device_id,
                    viewed_at=int(at),
                )
            )
            self._next_history_id += 1
        elif offset > 0 and update_library:
            library.set_progress(item.rating_key, offset)

    def on_timeline(
        self, item: Item, state: str, position: int, client: str | None
    ) -> None:
        """A client's own ``/:/timeline`` report (``Library.timeline_hooks``).

        When the reporting client (``X-Plex-Client-Identifier``) is one of the
        simulated players, its session follows the report, as Plex builds sessions
        from timelines: it starts, moves, pauses or stops. The library has already
        stored the position.
        """
        player = self.emu.players.by_identifier(client) if client else None
        if player is None:
            return
        now = self.now
        session = self.for_player(player)
        if session is not None and (state == STOPPED or session.item is not item):
            if session.item is item:
                session.reanchor(now, position)
            self._end(session, now, update_library=False)
            session = None
        if state == STOPPED:
            return
        if session is None:
            self.start_session(
                player=player,
                rating_key=item.rating_key,
                view_offset=position,
                state=state,
            )
            return
        session.reanchor(now, position)
        self._set_state(session, state)

    def _announce(self, session: PlaySession) -> None:
        """Publish the session's ``PlaySessionStateNotification``."""
        entry: dict[str, Any] = {
            "sessionKey": session.session_key,
            "clientIdentifier": session.player.machine_identifier,
            "guid": "",
            "ratingKey": session.rating_key,
            "url": "",
            "key": session.key,
            "viewOffset": session.position(self.now),
            "playQueueItemID": session.play_queue_item_id,
            "playQueueID": session.play_queue.id,
            "state": session.state,
        }
        if session.transcode_id is not None:
            entry["transcodeSession"] = session.transcode_id
        self.emu.notifications.publish(
            "playing", "PlaySessionStateNotification", [entry]
        )

    def _announce_transcode(self, session: PlaySession, notification_type: str) -> None:
        node = self.transcode_node(session, key_prefix="")
        self.emu.notifications.publish(
            notification_type, "TranscodeSession", [node.json_obj()]
        )

    def _account(self, user: int | str | None) -> Account:
        """The account for a user id or name (``None``: the server owner)."""
        emu = self.emu
        if user is None or user in (emu.owner_id, str(emu.owner_id), emu.owner_name):
            return Account(emu.owner_id, emu.owner_name)
        for shared in emu.library.shared_users:
            if user in (shared.id, str(shared.id), shared.name):
                return Account(shared.id, shared.name)
        raise KeyError(f"unknown user: {user!r}")

    def _playable(self, rating_key: int | str) -> Item:
        item = self.emu.library.find(rating_key)
        if item is None:
            raise KeyError(f"no library item with ratingKey {rating_key!r}")
        if item.children is not None:
            raise ValueError(
                f"ratingKey {rating_key!r} is a {item.kind}; sessions play leaves"
            )
        return item

    def _random_id(self) -> str:
        return "".join(self._ids.choice(_ID_ALPHABET) for _ in range(24))

    # -- elements -----------------------------------------------------------------------

    def session_node(self, session: PlaySession) -> Node:
        """The session's element in ``/status/sessions``."""
        now = self.now
        base = self._item_node(session)
        attrs = dict(base.attrs)
        attrs["sessionKey"] = session.session_key
        attrs["viewOffset"] = session.position(now)
        tags = [child for child in base.children if child.tag != "Media"]
        media = [child for child in base.children if child.tag == "Media"][:1]
        children = [
            *tags,
            session.player.session_node(
                state=session.state,
                user_id=session.account.id if session.show_user else None,
                local=session.location == "lan",
            ),
            *([session.account.node()] if session.show_user else []),
            Node(
                "Session",
                {
                    "id": session.id,
                    "bandwidth": session.bandwidth,
                    "location": session.location,
                },
            ),
            *(self._media_node(session, node) for node in media),
        ]
        if session.transcoding:
            children.append(self.transcode_node(session))
        return Node(base.tag, attrs, children, json_key="Metadata")

    def _item_node(self, session: PlaySession) -> Node:
        """The element of what the session plays, with its source ``Media``."""
        if isinstance(session.item, TransientItem):
            return session.item.node()
        return self.emu.library.item_node(session.item, detail=True, guids=True)

    def live_node(self, session: PlaySession) -> Node:
        """A live session as ``/livetv/sessions`` lists it (``livetv_sessions.xml``).

        The program's element and its tuner ``Media`` with every stream, the
        ``TranscodeSession`` inside the ``Media``; no ``Player``, ``User`` or
        ``Session`` (the DVR's view of the stream, not a player's).
        """
        base = self._item_node(session)
        children: list[Node] = []
        for media in base.children:
            if media.tag != "Media":
                continue
            children.append(
                Node(
                    "Media",
                    media.attrs,
                    [*media.children, self.transcode_node(session)],
                )
            )
        return Node(base.tag, base.attrs, children, json_key="Metadata")

    def _media_node(self, session: PlaySession, media: Node) -> Node:
        """The item's ``Media`` as this session plays it: decisions and selections."""
        attrs = dict(media.attrs)
        if session.transcoding:
            attrs |= _transcoded_media_attrs(session)
        attrs["selected"] = True
        parts = [
            self._part_node(session, part, attrs)
            for part in media.children
            if part.tag == "Part"
        ]
        return Node("Media", attrs, parts)

    def _part_node(
        self, session: PlaySession, part: Node, media_attrs: dict[str, Any]
    ) -> Node:
        """A ``Part`` with its decision and the streams in use.

        A direct-played part is the library's file (its ``key`` included); a
        transcoded one describes what the transcoder sends, like
        ``session_base.xml``: no ``key`` or ``size`` of the file, but the output's
        ``container``, ``protocol``, ``bitrate``, ``width`` and ``height``.
        """
        attrs = dict(part.attrs)
        if session.transcoding:
            for source_only in ("key", "size"):
                attrs.pop(source_only, None)
            attrs |= {
                name: media_attrs.get(name)
                for name in ("container", "protocol", "bitrate", "width", "height")
            }
        attrs |= {
            "decision": "transcode" if session.transcoding else "directplay",
            "selected": True,
        }
        in_use = list(part.children) if session.live else _streams_in_use(part)
        streams = [self._stream_node(session, stream) for stream in in_use]
        return Node("Part", attrs, streams)

    @staticmethod
    def _stream_node(session: PlaySession, stream: Node) -> Node:
        """A ``Stream`` with the decision for its kind (video 1, audio 2).

        A transcoded stream carries what the transcoder makes of it (H.264 720p,
        AAC stereo at a constant bitrate, as ``session_base.xml``'s audio stream);
        its titles still name the source, as Plex's do.
        """
        attrs = dict(stream.attrs)
        video = attrs.get("streamType") == 1
        requested = session.video_decision if video else session.audio_decision
        decision = requested or "directplay"
        attrs["decision"] = decision
        if session.transcoding:
            attrs["location"] = "segments-video" if video else "segments-audio"
        if decision == "transcode":
            attrs |= (
                _transcoded_video_stream_attrs(session)
                if video
                else TRANSCODED_AUDIO_STREAM
            )
        return Node("Stream", attrs)

    def transcode_node(
        self, session: PlaySession, *, key_prefix: str = "/transcode/sessions/"
    ) -> Node:
        """The session's ``TranscodeSession`` (``key`` is bare in ``/transcode/sessions``)."""
        assert session.transcode_id is not None
        now = self.now
        duration = session.duration
        elapsed = max(0.0, now - session.transcode_started_at)
        produced = session.transcode_start_offset + int(
            elapsed * TRANSCODE_SPEED * 1000
        )
        ceiling = min(duration, session.position(now) + TRANSCODE_BUFFER_MS)
        made = min(produced, ceiling)
        complete = made >= duration
        throttled = not complete and produced >= ceiling
        media_attrs = _transcoded_media_attrs(session)
        source_media = _source_media(self.emu, session.item)
        if session.live:
            # The tuner's streams copied into HLS: the output has the source's codecs.
            for name in ("videoCodec", "audioCodec"):
                media_attrs.setdefault(name, source_media.get(name))
        return Node(
            "TranscodeSession",
            {
                "key": f"{key_prefix}{session.transcode_id}",
                "throttled": throttled,
                "complete": complete,
                "progress": round(made / duration * 100, 1) if duration else 0.0,
                "size": int(
                    session.bandwidth
                    * 125
                    * max(0, made - session.transcode_start_offset)
                    / 1000
                ),
                "speed": 0.0 if throttled or complete else TRANSCODE_SPEED,
                "error": False,
                "duration": duration,
                "remaining": 0
                if complete
                else int((duration - made) / 1000 / TRANSCODE_SPEED),
                "context": "static" if session.live else "streaming",
                "sourceVideoCodec": source_media.get("videoCodec"),
                "sourceAudioCodec": source_media.get("audioCodec"),
                "videoDecision": session.video_decision,
                "audioDecision": session.audio_decision,
                "protocol": media_attrs["protocol"],
                "container": media_attrs["container"],
                "videoCodec": media_attrs.get("videoCodec"),
                "audioCodec": media_attrs.get("audioCodec"),
                "audioChannels": 2,
                "width": media_attrs.get("width"),
                "height": media_attrs.get("height"),
                "transcodeHwRequested": True,
                "transcodeHwFullPipeline": False,
                "timeStamp": round(session.transcode_started_at, 3),
                "maxOffsetAvailable": round(made / 1000, 3),
                "minOffsetAvailable": round(session.transcode_start_offset / 1000, 3),
            },
        )

    # -- history ------------------------------------------------------------------------

    def history_entries(
        self,
        *,
        account_id: int | None = None,
        section_id: int | None = None,
        metadata_item_id: int | None = None,
        viewed_after: tuple[str, int] | None = None,
        sort: Iterable[tuple[str, bool]] = (),
    ) -> list[HistoryEntry]:
        """History filtered like ``/status/sessions/history/all`` (see ``history_route``)."""
        entries = list(self.history)
        if account_id is not None:
            entries = [e for e in entries if e.account_id == account_id]
        if section_id is not None:
            entries = [e for e in entries if e.item.section.id == section_id]
        if metadata_item_id is not None:
            entries = [e for e in entries if _in_family(e.item, metadata_item_id)]
        if viewed_after is not None:
            operator, stamp = viewed_after
            entries = [e for e in entries if _compare(e.viewed_at, operator, stamp)]
        for field_name, descending in reversed(list(sort)):
            entries.sort(
                key=functools.partial(_history_sort_key, field_name=field_name),
                reverse=descending,
            )
        return entries


# -- helpers --------------------------------------------------------------------------------


def _source_media(emu: PlexEmulator, item: Item | TransientItem) -> dict[str, Any]:
    """The attributes of the item's (first) ``Media`` as the library renders it."""
    if isinstance(item, TransientItem):
        return dict(item.media.attrs)
    media = emu.library.item_node(item, detail=False, guids=False).find("Media")
    return dict(media.attrs) if media is not None else {}


def _media_bitrate(emu: PlexEmulator, item: Item | TransientItem) -> int:
    """The kbps a session of the item uses by default (its media's bitrate)."""
    if isinstance(item, TransientItem):
        return item.bitrate
    return int(_source_media(emu, item).get("bitrate", 0))


def _streams_in_use(part: Node) -> list[Node]:
    """The streams a session lists: the video and the selected audio (no subtitles).

    ``/status/sessions`` shows only the streams being played (session_base.xml).
    """
    return [
        stream
        for stream in part.children
        if stream.tag == "Stream"
        and (
            stream.attrs.get("streamType") == 1
            or (stream.attrs.get("streamType") == 2 and stream.attrs.get("selected"))
        )
    ]


def _decision(
    item: Item | TransientItem, kind: str, transcode: bool, requested: str | None
) -> str | None:
    """The decision for the item's video or audio (``None`` when it has none)."""
    if kind == "video" and item.kind not in ("movie", "episode", "clip"):
        return None
    if item.kind == "photo":
        return None
    if requested is not None:
        return requested
    return "transcode" if transcode else "directplay"


def _transcoded_media_attrs(session: PlaySession) -> dict[str, Any]:
    """What the transcoder sends the player: HLS in MPEG-TS, H.264 720p / AAC stereo."""
    attrs: dict[str, Any] = {
        "protocol": "hls",
        "container": "mpegts",
        "bitrate": session.bandwidth,
    }
    if session.video_decision == "transcode":
        attrs |= {
            "videoCodec": "h264",
            "width": TRANSCODE_WIDTH,
            "height": TRANSCODE_HEIGHT,
            "videoResolution": "720",
        }
    if session.audio_decision == "transcode":
        attrs |= {"audioCodec": "aac", "audioChannels": 2}
    return attrs


def _transcoded_video_stream_attrs(session: PlaySession) -> dict[str, Any]:
    """The H.264 720p video the transcoder makes: the bandwidth left after the audio."""
    return {
        "codec": "h264",
        "profile": "high",
        "bitDepth": 8,
        "width": TRANSCODE_WIDTH,
        "height": TRANSCODE_HEIGHT,
        "bitrate": max(0, session.bandwidth - TRANSCODE_AUDIO_BITRATE),
    }


def _in_family(item: Item, rating_key: int) -> bool:
    """Whether the item is ``rating_key`` or lies under it (show, season, album ...)."""
    node: Item | None = item
    while node is not None:
        if node.rating_key == rating_key:
            return True
        node = node.parent
    return False


def _compare(value: int, operator: str, reference: int) -> bool:
    """Plex's filter operators: ``>`` is >=, ``>>`` is >, ``<`` is <=, ``<<`` is <."""
    match operator:
        case ">>":
            return value > reference
        case ">":
            return value >= reference
        case "<<":
            return value < reference
        case "<":
            return value <= reference
    return value == reference


def _history_sort_key(entry: HistoryEntry, field_name: str) -> Any:
    match field_name:
        case "viewedAt":
            return entry.viewed_at
        case "accountID":
            return entry.account_id
        case "deviceID":
            return entry.device_id
        case "ratingKey":
            return entry.item.rating_key
        case "title":
            return entry.item.title.casefold()
    return entry.history_id


def _paging(request: web.Request) -> tuple[int, int | None]:
    """``X-Plex-Container-Start`` / ``-Size`` from the headers or the query."""

    def read(name: str) -> int | None:
        raw = request.headers.get(name, request.query.get(name))
        return (
            int(raw) if raw is not None and raw.strip().lstrip("-").isdigit() else None
        )

    start = max(0, read("X-Plex-Container-Start") or 0)
    size = read("X-Plex-Container-Size")
    return start, (max(0, size) if size is not None else None)


def _int_query(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    return int(raw) if raw is not None and raw.isdigit() else None


def _parse_sort(text: str) -> list[tuple[str, bool]]:
    """``viewedAt:desc,accountID`` -> [("viewedAt", True), ("accountID", False)]."""
    order = []
    for part in text.split(","):
        name, _, direction = part.strip().partition(":")
        if name:
            order.append((name, direction.lower() == "desc"))
    return order


def _viewed_filter(request: web.Request) -> tuple[str, int] | None:
    """A ``viewedAt>=``/``viewedAt>>=``/``viewedAt<=``/``viewedAt<<=`` filter, if any."""
    for operator in (">>", "<<", ">", "<"):
        raw = request.query.get(f"viewedAt{operator}")
        if raw is not None and raw.isdigit():
            return operator, int(raw)
    raw = request.query.get("viewedAt")
    return ("=", int(raw)) if raw is not None and raw.isdigit() else None


# -- routes ----------------------------------------------------------------------------------


def _is_shared_user(request: web.Request) -> bool:
    """Whether a shared user (not the owner) sent the request."""
    user = user_for_request(request)
    return user is not None and not user.is_owner


async def sessions_route(request: web.Request) -> web.Response:
    """``GET /status/sessions`` (the owner's only: shared users get 401)."""
    if _is_shared_user(request):
        return error(401, "Unauthorized")
    manager: SessionManager = request.app["emulator"].sessions
    nodes = [manager.session_node(session) for session in manager.sessions]
    return media_container(request, {"size": len(nodes)}, nodes)


async def livetv_sessions_route(request: web.Request) -> web.Response:
    """``GET /livetv/sessions``: the live TV sessions (``livetv_sessions.xml``)."""
    manager: SessionManager = request.app["emulator"].sessions
    nodes = [manager.live_node(s) for s in manager.sessions if s.live]
    return media_container(request, {"size": len(nodes)}, nodes)


async def livetv_session_route(request: web.Request) -> web.Response:
    """``GET /livetv/sessions/{uuid}``: one live session (its items' ``key``)."""
    manager: SessionManager = request.app["emulator"].sessions
    wanted = f"/livetv/sessions/{request.match_info['uuid']}"
    nodes = [
        manager.live_node(s) for s in manager.sessions if s.live and s.key == wanted
    ]
    if not nodes:
        return error(404, "Not Found")
    return media_container(request, {"size": len(nodes)}, nodes)


async def history_route(request: web.Request) -> web.Response:
    """``GET /status/sessions/history/all`` with the spec's filters, sort and paging.

    A shared user sees only their own plays (the spec: "others can only see their own").
    """
    manager: SessionManager = request.app["emulator"].sessions
    user = user_for_request(request)
    account_id = (
        user.id
        if user is not None and not user.is_owner
        else _int_query(request, "accountID")
    )
    entries = manager.history_entries(
        account_id=account_id,
        section_id=_int_query(request, "librarySectionID"),
        metadata_item_id=_int_query(request, "metadataItemID"),
        viewed_after=_viewed_filter(request),
        sort=_parse_sort(request.query.get("sort", "")),
    )
    start, size = _paging(request)
    page = entries[start:] if size is None else entries[start : start + size]
    attrs = {"size": len(page), "totalSize": len(entries), "offset": start}
    return media_container(
        request,
        attrs,
        [entry.node() for entry in page],
        headers=paged_headers(start, len(entries)),
    )


async def terminate_route(request: web.Request) -> web.Response:
    """``GET``/``POST /status/sessions/terminate?sessionId=..&reason=..`` (owner only)."""
    if _is_shared_user(request):
        return error(401, "Unauthorized")
    manager: SessionManager = request.app["emulator"].sessions
    session_id = request.query.get("sessionId", "")
    if not session_id:
        return error(403, "Forbidden")
    try:
        manager.terminate(session_id, request.query.get("reason", ""))
    except KeyError:
        return error(404, "Not Found")
    return web.Response(status=200, content_type="text/html")


async def transcode_sessions_route(request: web.Request) -> web.Response:
    """``GET /transcode/sessions``: one ``TranscodeSession`` per transcoded play.

    In JSON the sessions are always an array (``node`` would write a lone
    ``TranscodeSession`` as an object, which is right only inside a session item).
    """
    if _is_shared_user(request):
        return error(401, "Unauthorized")
    manager: SessionManager = request.app["emulator"].sessions
    nodes = [
        manager.transcode_node(session, key_prefix="")
        for session in manager.sessions
        if session.transcoding
    ]
    if wants_json(request):
        container: dict[str, Any] = {"size": len(nodes)}
        if nodes:
            container["TranscodeSession"] = [node.json_obj() for node in nodes]
        body = {"MediaContainer": container}
        return web.json_response(
            body, headers={"X-Plex-Protocol": "1.0", "Cache-Control": "no-cache"}
        )
    return media_container(request, {"size": len(nodes)}, nodes)


def add_routes(app: web.Application, emu: PlexEmulator) -> None:
    """Register the session endpoints."""
    app.router.add_get("/status/sessions", sessions_route)
    app.router.add_get("/status/sessions/history/all", history_route)
    app.router.add_get("/status/sessions/terminate", terminate_route)
    app.router.add_post("/status/sessions/terminate", terminate_route)
    app.router.add_get("/transcode/sessions", transcode_sessions_route)
    app.router.add_get("/livetv/sessions", livetv_sessions_route)
    app.router.add_get("/livetv/sessions/{uuid}", livetv_session_route)
