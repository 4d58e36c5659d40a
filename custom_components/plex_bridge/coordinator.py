"""The two coordinators of a Plex Bridge entry: live sessions, and the library.

Sessions are driven by push. The server's websocket sends a ``playing`` notification
for every change of a play session; one that only changes the state or the position
of a session we know updates it at once, with no request. A new ``sessionKey`` or a
change of item costs one read of ``/status/sessions``, run at once; notifications
that come while it runs are folded into one more read (``Coalescer``). While the websocket is down the coordinator
polls ``/status/sessions`` and ``/clients`` at the configured interval, and it stops
polling when push is back. ``/clients`` is read once a minute while push is up too
(``CLIENTS_INTERVAL``): Plex sends no notification when a player leaves, and the
players' presence (``presence.py``) and idle/off states depend on it.

The entry's options filter what is shown. Sessions of accounts outside
``monitored_users`` (when it is not empty) are left out entirely: no sensor counts
them, no player learns of them, no ``plex_bridge_playback`` event announces them;
their session keys are remembered so that their notifications cost no reads. With
``ignore_plex_web``, Plex Web players get no device or entity (their sessions still
count on the server's sensors and fire events: they are real streams).

The position of a session is kept as (position, when it was read). Entities give
Home Assistant both (``media_position`` and ``media_position_updated_at``), so the
frontend moves the progress bar itself and no state is written while playback runs
normally. A ``playing`` notification writes a state only when the session changed
state or when its ``viewOffset`` is more than ``SEEK_TOLERANCE_MS`` away from the
extrapolated position (a seek).

What counts as "the server is down" (the players and sensors become unavailable,
Home Assistant logs it once, and after 10 minutes a repair appears): a read that
could not reach the server (refused, reset, timed out, the circuit breaker open) or
that got a 5xx. A server that answers 200 with a body that cannot be read (broken
off, not JSON or XML, a proxy's HTML page: ``PlexMalformedError``) is not down: the
sessions coordinator keeps its last good state and logs the read at debug level,
up to ``MAX_BROKEN_ANSWERS`` such answers in a row; the next broken one makes the
entities unavailable, since what they show is no longer known. Odd entries in an
answer that parses (``null`` or missing attributes, item types nobody knows) never
fail a read: the models read what is there and skip entries that name no session.

The library coordinator keeps sections, per-library counts, recently added, on deck
and the server's release. It refreshes on a 30-minute timer, and soon after
notifications say the library changed (a scan ended, an item was added or removed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    Device,
    MediaItem,
    PlexAuthError,
    PlexClient,
    PlexError,
    PlexSession,
    Section,
)
from .api.client import ITEM_TYPES, PlexMalformedError
from .api.models import UpdateStatus
from .api.notifications import (
    ActivityNotification,
    Notification,
    PlayingNotification,
    StatusNotification,
    TimelineNotification,
)
from .const import (
    DEFAULT_IGNORE_PLEX_WEB,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    EVENT_MEDIA,
    EVENT_PLAYBACK,
    LOGGER,
    OPTION_IGNORE_PLEX_WEB,
    OPTION_MONITORED_USERS,
    OPTION_UPDATE_INTERVAL,
)
from .presence import PLEX_WEB, PlayerPresence
from .repairs import async_server_reachable, async_server_unreachable

if TYPE_CHECKING:
    from . import PlexBridgeConfigEntry

SEEK_TOLERANCE_MS: Final = 2000
MAX_BROKEN_ANSWERS: Final = 3
"""Unreadable answers in a row that keep the last good sessions (see the module doc)."""
CLIENTS_INTERVAL: Final = timedelta(minutes=1)
"""How often ``/clients`` is read while push is connected (players that left)."""
# How long library notifications are folded before the library is read again.
LIBRARY_COOLDOWN: Final = 10.0
LIBRARY_INTERVAL: Final = timedelta(minutes=30)
RECENTLY_ADDED_LIMIT: Final = 10
# Timeline states that add or remove an item (Plex's codes: 0 created, 5 processed,
# 9 deleted).
TIMELINE_CONTENT_STATES: Final = frozenset({0, 5, 9})
STOPPED: Final = "stopped"
TYPE_NAMES: Final = {code: name for name, code in ITEM_TYPES.items()}


def update_error(err: PlexError) -> ConfigEntryAuthFailed | UpdateFailed:
    """What a failed read means to Home Assistant.

    Reauthentication for a refused token; else an update failure, which makes the
    entities unavailable.
    """
    if isinstance(err, PlexAuthError):
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        )
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key="update_failed",
        translation_placeholders={"error": str(err)},
    )


@dataclass(slots=True)
class BrokenAnswers:
    """Unreadable answers in a row from a server that answers (see the module doc)."""

    what: str
    count: int = 0

    def keep_or_raise[T](self, err: PlexMalformedError, shown: T | None) -> T:
        """The last good data to keep, or the update failure raised.

        The data is kept only while the entities show a good read (``shown``, else
        ``None``), and for ``MAX_BROKEN_ANSWERS`` answers in a row.
        """
        self.count += 1
        if shown is None or self.count > MAX_BROKEN_ANSWERS:
            raise update_error(err) from err
        LOGGER.debug(
            "Keeping the last good %s after an unreadable answer (%s of %s): %s",
            self.what,
            self.count,
            MAX_BROKEN_ANSWERS,
            err,
        )
        return shown


class Coalescer:
    """Runs a read at once, and folds requests that come while it runs into one more.

    A burst of notifications (two players starting together, a preroll followed by
    its feature) costs at most two reads, and no request ever waits for a timer:
    unlike a debouncer with a cool-down, a request after a read has finished starts
    the next read immediately.
    """

    def __init__(
        self,
        create_task: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        read: Callable[[], Awaitable[None]],
    ) -> None:
        self._create_task = create_task
        self._read = read
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._closed = False

    @callback
    def request(self) -> None:
        """Read now, or once more after the read that is running."""
        if self._closed:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = self._create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            await self._read()
            if not self._again or self._closed:
                return

    async def async_shutdown(self) -> None:
        """Stop: no new reads, and the running one is cancelled."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass(slots=True)
class LiveSession:
    """A session as the integration tracks it between reads."""

    session: PlexSession
    state: str
    position_ms: int
    position_updated_at: datetime
    pushed: int = 0
    """The notification count when a notification last changed it (0: none)."""

    @property
    def item(self) -> MediaItem:
        """What the session plays."""
        return self.session.item

    def extrapolated_ms(self, now: datetime) -> int:
        """Where playback should be now, if nothing happened since the last read."""
        if self.state != "playing":
            return self.position_ms
        elapsed = (now - self.position_updated_at).total_seconds() * 1000
        return self.position_ms + int(elapsed)


@dataclass(slots=True)
class SessionsData:
    """What the sessions coordinator knows: live sessions and the players seen."""

    sessions: dict[str, LiveSession] = field(default_factory=dict)
    players: dict[str, Device] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)
    ignored: dict[str, str] = field(default_factory=dict)
    """Session key -> rating key of sessions the options leave out."""

    def seen(self) -> set[str]:
        """Players listed by ``/clients`` or playing a session that is shown."""
        return self.present | {
            live.session.player.machine_identifier for live in self.sessions.values()
        }

    def for_player(self, machine_identifier: str) -> LiveSession | None:
        """The session on a player, if it plays something."""
        return next(
            (
                live
                for live in self.sessions.values()
                if live.session.player.machine_identifier == machine_identifier
            ),
            None,
        )


class PlexSessionsCoordinator(DataUpdateCoordinator[SessionsData]):
    """Live sessions and players: push first, polling while push is down.

    With a shared account's token (``owner`` false) Plex refuses the live sessions
    (401, which would read as a revoked token): ``/status/sessions`` is never read,
    ``playing`` notifications are ignored, and only ``/clients`` gives players.
    """

    config_entry: PlexBridgeConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PlexBridgeConfigEntry,
        client: PlexClient,
        *,
        owner: bool = True,
    ) -> None:
        self.poll_interval = timedelta(
            seconds=entry.options.get(OPTION_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
        )
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} sessions",
            update_interval=self.poll_interval,
        )
        self.client = client
        self.owner = owner
        self.push_connected = False
        self.data = SessionsData()
        self.broken_answers = BrokenAnswers("sessions")
        self._read_once = False
        self._pushed = 0
        """Notifications that changed or ended a session, counted (see ``_apply_sessions``)."""
        self._ended_by_push: dict[str, int] = {}
        self.monitored_users = frozenset(entry.options.get(OPTION_MONITORED_USERS, []))
        self.ignore_plex_web = bool(
            entry.options.get(OPTION_IGNORE_PLEX_WEB, DEFAULT_IGNORE_PLEX_WEB)
        )
        self.presence: PlayerPresence | None = None
        self._refresher = Coalescer(
            lambda coro: entry.async_create_background_task(
                hass, coro, f"{DOMAIN} sessions read"
            ),
            self._async_refresh_sessions,
        )

    # -- reads ---------------------------------------------------------------------------

    async def _async_update_data(self) -> SessionsData:
        """Read sessions and players (the poll, the first read, and a rescan).

        One after the other: after an outage the circuit breaker lets one probe
        through, and the second read follows once the first has closed it.
        """
        since = self._pushed
        try:
            sessions = await self.client.sessions(retry=False) if self.owner else []
            clients = await self.client.clients(retry=False)
        except PlexMalformedError as err:
            return self.broken_answers.keep_or_raise(
                err, self.data if self._read_once and self.last_update_success else None
            )
        except PlexError as err:
            raise update_error(err) from err
        self.broken_answers.count = 0
        self._read_once = True
        data = self.data
        self._apply_clients(clients)
        self._apply_sessions(sessions, since)
        return data

    def _apply_clients(self, clients: list[Device]) -> None:
        """Take a read of ``/clients``: who is present, and what they can do."""
        data = self.data
        clients = [device for device in clients if not self._hidden(device)]
        data.present = {device.machine_identifier for device in clients}
        for device in clients:
            data.players[device.machine_identifier] = _merge_device(
                data.players.get(device.machine_identifier), device
            )

    def _hidden(self, device: Device) -> bool:
        """Whether the options keep a player out of Home Assistant."""
        return self.ignore_plex_web and device.product == PLEX_WEB

    def _monitored(self, session: PlexSession) -> bool:
        """Whether the options show a session (no account: always)."""
        return (
            not self.monitored_users
            or session.user is None
            or session.user.title in self.monitored_users
        )

    @callback
    def _async_minute(self, _now: datetime) -> None:
        """The minute's timer: run the read as the entry's task (tests wait for it)."""
        self.config_entry.async_create_task(
            self.hass, self._async_read_clients(), f"{DOMAIN} clients read"
        )

    async def _async_read_clients(self) -> None:
        """Once a minute: re-read ``/clients`` while push is up, and age players."""
        if self.push_connected and self.last_update_success:
            try:
                clients = await self.client.clients(retry=False)
            except PlexError as err:
                LOGGER.debug("Reading clients failed: %s", err)
                await self.async_request_refresh()
                return
            present = self.data.present
            self._apply_clients(clients)
            if self.data.present != present:
                self.async_set_updated_data(self.data)
        self._async_track_presence()
        # While the server does not answer, nobody can tell who left: none is removed.
        if self.presence is not None and self.last_update_success:
            self.presence.async_remove_stale()

    @callback
    def async_start_presence(self, presence: PlayerPresence) -> None:
        """Track players' presence, and read ``/clients`` every minute for it."""
        self.presence = presence
        self._async_track_presence()
        presence.async_remove_stale()
        self.config_entry.async_on_unload(
            async_track_time_interval(
                self.hass,
                self._async_minute,
                CLIENTS_INTERVAL,
                name=f"{DOMAIN} clients",
                cancel_on_shutdown=True,
            )
        )

    @callback
    def _async_track_presence(self) -> None:
        if self.presence is not None and self.last_update_success:
            self.presence.async_seen(self.data.seen())

    @callback
    def async_forget_player(self, machine_identifier: str) -> None:
        """A player's device is gone: forget it, so that it is new if it comes back."""
        self.data.players.pop(machine_identifier, None)
        self.data.present.discard(machine_identifier)
        # The media player platform forgets it too (it adds players it does not know).
        self.async_update_listeners()

    @callback
    def _async_refresh_finished(self) -> None:
        """After every read: presence, and how long the server has been unreachable."""
        if self.last_update_success:
            async_server_reachable(self.hass, self.config_entry)
            self._async_track_presence()
        elif not isinstance(self.last_exception, ConfigEntryAuthFailed):
            async_server_unreachable(self.hass, self.config_entry)

    async def _async_refresh_sessions(self) -> None:
        """Re-read ``/status/sessions`` only (a new session or a change of item)."""
        since = self._pushed
        try:
            sessions = await self.client.sessions()
        except PlexError as err:
            LOGGER.debug("Reading sessions after a notification failed: %s", err)
            await self.async_request_refresh()
            return
        self._apply_sessions(sessions, since)
        self.async_set_updated_data(self.data)

    async def async_scan_clients(self) -> None:
        """Read ``/clients`` and sessions now (the "scan clients" button).

        A read that fails is the button's error, so that the user who pressed it
        learns why nothing changed (the quality scale's action-exceptions).
        """
        await self.async_refresh()
        if not self.last_update_success:
            err = self.last_exception
            cause = err.__cause__ if err is not None and err.__cause__ else err
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"error": str(cause)},
            )

    def _apply_sessions(self, sessions: list[PlexSession], since: int) -> None:
        """Replace the live sessions with a fresh read, firing playback events.

        ``since`` is the notification count when the read was sent. A notification
        that came while it ran is newer than the read: a session it ended stays
        ended, and the state and position it gave a session are kept.
        """
        now = dt_util.utcnow()
        data = self.data
        previous = data.sessions
        current: dict[str, LiveSession] = {}
        data.ignored = {}
        for session in sessions:
            if not self._monitored(session):
                data.ignored[session.session_key] = session.item.rating_key
                continue
            if self._ended_by_push.get(session.session_key, 0) > since:
                continue
            player_id = session.player.machine_identifier
            if not self._hidden(session.player):
                data.players[player_id] = _merge_device(
                    data.players.get(player_id), session.player
                )
            old = previous.get(session.session_key)
            live = LiveSession(
                session=session,
                state=session.state,
                position_ms=session.item.view_offset or 0,
                position_updated_at=now,
            )
            current[session.session_key] = live
            if (
                old is not None
                and old.pushed > since
                and old.item.rating_key == session.item.rating_key
            ):
                live.state = old.state
                live.pushed = old.pushed
            if old is not None and (
                _same_playback(old, live, now) or live.pushed > since
            ):
                # A poll that only confirms the extrapolated position keeps the old
                # anchor, so that no state is written for it.
                live.position_ms = old.position_ms
                live.position_updated_at = old.position_updated_at
            if old is None or old.item.rating_key != session.item.rating_key:
                if old is not None:
                    self._fire(old, STOPPED)
                self._fire(live, "started")
            elif old.state != live.state:
                self._fire(live, _transition(old.state, live.state))
        for key, old in previous.items():
            if key not in current:
                self._fire(old, STOPPED)
        data.sessions = current
        self._ended_by_push = {
            key: count for key, count in self._ended_by_push.items() if count > since
        }

    # -- push ------------------------------------------------------------------------

    @callback
    def async_set_push_connected(self, connected: bool) -> None:
        """The websocket connected or dropped: stop or start polling."""
        if connected == self.push_connected:
            return
        self.push_connected = connected
        if connected:
            LOGGER.debug("Push notifications connected; polling stops")
            self.update_interval = None
            self._async_unsub_refresh()
            # What changed while push was down is read once.
            self.hass.async_create_task(self.async_request_refresh())
        else:
            LOGGER.debug(
                "Push notifications down; polling every %s", self.poll_interval
            )
            self.update_interval = self.poll_interval
            self.hass.async_create_task(self.async_request_refresh())

    @callback
    def async_handle_playing(self, notes: list[PlayingNotification]) -> None:
        """Apply ``playing`` notifications: no request unless the session is new."""
        if not self.owner:
            return
        now = dt_util.utcnow()
        changed = False
        needs_read = False
        for note in notes:
            if self.data.ignored.get(note.session_key) == note.rating_key:
                if note.state == STOPPED:
                    del self.data.ignored[note.session_key]
                continue
            live = self.data.sessions.get(note.session_key)
            if live is None or live.item.rating_key != note.rating_key:
                needs_read = needs_read or note.state != STOPPED
                if live is not None and note.state == STOPPED:
                    changed |= self._end(note.session_key)
                continue
            if note.state == STOPPED:
                changed |= self._end(note.session_key)
                continue
            changed |= self._update_position(live, note, now)
        if changed:
            self.async_update_listeners()
        if needs_read:
            self._refresher.request()

    def _end(self, session_key: str) -> bool:
        live = self.data.sessions.pop(session_key, None)
        if live is None:
            return False
        self._pushed += 1
        self._ended_by_push[session_key] = self._pushed
        self._fire(live, STOPPED)
        return True

    def _update_position(
        self, live: LiveSession, note: PlayingNotification, now: datetime
    ) -> bool:
        """Apply a known session's new state and offset; whether a state is due."""
        offset = note.view_offset
        state_changed = note.state != live.state
        seeked = (
            offset is not None
            and abs(offset - live.extrapolated_ms(now)) > SEEK_TOLERANCE_MS
        )
        if not state_changed and not seeked:
            return False
        if state_changed:
            self._fire(live, _transition(live.state, note.state), new_state=note.state)
            live.state = note.state
        live.position_ms = offset if offset is not None else live.extrapolated_ms(now)
        live.position_updated_at = now
        self._pushed += 1
        live.pushed = self._pushed
        return True

    def _fire(
        self, live: LiveSession, event_type: str, new_state: str | None = None
    ) -> None:
        session = live.session
        item = session.item
        self.hass.bus.async_fire(
            EVENT_PLAYBACK,
            {
                "type": event_type,
                "server_id": self.config_entry.unique_id,
                "player": session.player.name,
                "player_id": session.player.machine_identifier,
                "user": session.user.title if session.user else None,
                "title": item.title,
                "media_title": item.full_title,
                "rating_key": item.rating_key,
                "media_type": item.type,
                "library": item.library_section_title,
                "session_key": session.session_key,
                "state": new_state or live.state if event_type != STOPPED else STOPPED,
            },
        )

    async def async_shutdown(self) -> None:
        """Stop the session reads as well as the coordinator's own timers."""
        await super().async_shutdown()
        await self._refresher.async_shutdown()


def _same_playback(old: LiveSession, new: LiveSession, now: datetime) -> bool:
    """Whether a fresh read confirms what the old one extrapolates to.

    The same item in the same state, within the seek tolerance of its position.
    """
    return (
        old.item.rating_key == new.item.rating_key
        and old.state == new.state
        and abs(new.position_ms - old.extrapolated_ms(now)) <= SEEK_TOLERANCE_MS
    )


def _transition(old: str, new: str) -> str:
    if new == "paused":
        return "paused"
    if new == "playing" and old in {"paused", "buffering"}:
        return "resumed"
    return new


def _merge_device(old: Device | None, new: Device) -> Device:
    """What is known of a player: ``/clients`` knows capabilities, sessions the device."""
    if old is None:
        return new
    return Device(
        machine_identifier=new.machine_identifier,
        name=new.name or old.name,
        product=new.product or old.product,
        platform=new.platform or old.platform,
        device=new.device or old.device,
        device_class=new.device_class or old.device_class,
        model=new.model or old.model,
        vendor=new.vendor or old.vendor,
        version=new.version or old.version,
        address=new.address or old.address,
        protocol_capabilities=new.protocol_capabilities or old.protocol_capabilities,
    )


@dataclass(slots=True)
class LibraryData:
    """Sections, counts, recently added, on deck and the server's release."""

    sections: list[Section] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    recently_added: list[MediaItem] = field(default_factory=list)
    on_deck: list[MediaItem] = field(default_factory=list)
    update: UpdateStatus | None = None

    def section(self, key: str) -> Section | None:
        """A section by its key."""
        return next((section for section in self.sections if section.key == key), None)


# What a section's item count counts: the leaves people think of.
COUNT_TYPES: Final = {
    "movie": "movie",
    "show": "episode",
    "artist": "track",
    "photo": "photo",
}


class PlexLibraryCoordinator(DataUpdateCoordinator[LibraryData]):
    """The library's facts, refreshed when the library changes.

    A shared account sees only the sections shared with it, and has no release to
    read (``/updater/status`` is the owner's: ``update`` stays ``None``).
    """

    config_entry: PlexBridgeConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: PlexBridgeConfigEntry,
        client: PlexClient,
        *,
        owner: bool = True,
    ) -> None:
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} library",
            update_interval=LIBRARY_INTERVAL,
            request_refresh_debouncer=Debouncer(
                hass, LOGGER, cooldown=LIBRARY_COOLDOWN, immediate=False
            ),
        )
        self.client = client
        self.owner = owner
        self.broken_answers = BrokenAnswers("library")

    async def _async_update_data(self) -> LibraryData:
        client = self.client
        try:
            sections = await client.sections()
            counts = await asyncio.gather(
                *(
                    client.section_count(section.key, COUNT_TYPES.get(section.type))
                    for section in sections
                )
            )
            recently_added, on_deck, update = await asyncio.gather(
                client.recently_added(limit=RECENTLY_ADDED_LIMIT),
                client.on_deck(limit=RECENTLY_ADDED_LIMIT),
                self._update_status(),
            )
        except PlexMalformedError as err:
            return self.broken_answers.keep_or_raise(
                err, self.data if self.last_update_success else None
            )
        except PlexError as err:
            raise update_error(err) from err
        self.broken_answers.count = 0
        return LibraryData(
            sections=sections,
            counts={
                section.key: count
                for section, count in zip(sections, counts, strict=True)
            },
            recently_added=recently_added,
            on_deck=on_deck,
            update=update,
        )

    async def _update_status(self) -> UpdateStatus | None:
        """The server's release, which only the owner may read."""
        return await self.client.update_status() if self.owner else None

    @callback
    def async_handle_library_change(self, *, scan: bool) -> None:
        """The library changed: forget cached lists and read it again soon."""
        self.client.invalidate_content(scan=scan)
        self.hass.async_create_task(self.async_request_refresh())


class NotificationRouter:
    """Hands each websocket notification to the coordinator it concerns.

    It also fires ``plex_bridge_media`` (type ``added`` or ``removed``) when the
    timeline says a library item was created or deleted, for automations.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        sessions: PlexSessionsCoordinator,
        library: PlexLibraryCoordinator,
    ) -> None:
        self.hass = hass
        self.sessions = sessions
        self.library = library
        self.received = 0

    @callback
    def async_handle(self, notes: list[Notification]) -> None:
        """Route one frame's notifications."""
        self.received += len(notes)
        playing = [note for note in notes if isinstance(note, PlayingNotification)]
        if playing:
            self.sessions.async_handle_playing(playing)
        timeline: list[TimelineNotification] = []
        scanned = False
        for note in notes:
            if isinstance(note, TimelineNotification):
                self._timeline(note)
                timeline.append(note)
            elif isinstance(note, ActivityNotification):
                if note.event == "ended" and note.activity_type.startswith("library."):
                    self.library.async_handle_library_change(scan=True)
                    scanned = True
            elif (
                isinstance(note, StatusNotification)
                and note.notification_name == "LIBRARY_UPDATE"
            ):
                self.library.async_handle_library_change(scan=True)
                scanned = True
        self._mirror(timeline, scanned=scanned)

    def _mirror(self, timeline: list[TimelineNotification], *, scanned: bool) -> None:
        """Tell the library mirror, once per frame, what changed (it folds bursts)."""
        mirror = self.library.config_entry.runtime_data.mirror
        if mirror is None:
            return
        if timeline:
            mirror.async_handle_timeline_notifications(timeline)
        if scanned:
            mirror.async_request_sync("incremental")

    def _timeline(self, note: TimelineNotification) -> None:
        # Only library items (identifier com.plexapp.plugins.library) that were
        # created, finished processing or deleted change what the library shows.
        if note.state not in TIMELINE_CONTENT_STATES:
            return
        if note.identifier not in (None, "com.plexapp.plugins.library"):
            return
        self.library.async_handle_library_change(scan=False)
        change = {"created": "added", "deleted": "removed"}.get(
            note.metadata_state or ""
        )
        if change is None:
            return
        section = (
            self.library.data.section(note.section_id) if note.section_id else None
        )
        self.hass.bus.async_fire(
            EVENT_MEDIA,
            {
                "type": change,
                "server_id": self.library.config_entry.unique_id,
                "rating_key": note.item_id,
                "title": note.title,
                "media_type": TYPE_NAMES.get(note.type)
                if note.type is not None
                else None,
                "library": section.title if section else None,
                "library_id": note.section_id,
            },
        )

    def as_dict(self) -> dict[str, Any]:
        """For diagnostics."""
        return {"received": self.received}
