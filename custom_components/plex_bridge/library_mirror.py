"""The library mirror of one server, as Home Assistant runs it (``PlexMirror``).

The modules beside this one (``store``, ``db``, ``sync``, ``guids``, ``paths``) know
nothing of Home Assistant. ``PlexMirror`` is the part that does: it opens the
server's file (``<config>/plex_bridge/<machine identifier>.db``), decides when to
sync, keeps the progress the sync sensor shows, fires the events and raises the
repairs issues.

When it syncs
-------------
- A full sync in the background right after setup (setup never waits for it). A
  full sync resumes where an interrupted one stopped, so a restart in the middle of
  the first sync of a large library does not start it over.
- An incremental sync every ``mirror_interval`` minutes (an option), and one after
  each library scan the server announces.
- Items that timeline notifications name: refetched when created or updated,
  removed when deleted, within a moment.
- On demand: the ``plex_bridge.sync`` action (``async_sync``).

One sync runs at a time (a lock). Background requests that arrive while a sync runs
are folded into one more run after it (``_pending``): a burst of notifications, a
scan and the timer together cost one more sync, not one each. Until the first full
sync has finished, every background request is a full sync (it resumes).

Events
------
``plex_bridge_sync_finished`` after every sync that succeeded, with its result
(``kind``: ``full``, ``incremental``, or ``refetch`` / ``remove`` for the items a
timeline named; ``added``, ``updated``, ``removed``, ``duration``, ``requests``,
``libraries``) and the server (``server``, ``server_id``, ``config_entry_id``).
The sensor shows full and incremental syncs only: a timeline's refetch changes
neither its state nor its last result.

``plex_bridge_media_added`` once per item a sync added to a library that had been
mirrored before: not for the first sync of a library (which adds everything), so
that an automation "a new episode of X arrived" fires for new episodes only. At most
``MAX_MEDIA_ADDED_EVENTS`` per sync (a whole new season is fine; the result of
adding a library of thousands of items to an existing one is not a flood).

Failures
--------
A sync that fails three times in a row (``FAILURES_FOR_ISSUE``) raises the repairs
issue ``mirror_sync_failed`` with the reason (never the token); the next good sync
removes it. A file that was corrupt at setup was moved aside by the store; the
repairs issue ``mirror_rebuilt`` says so, and the full sync rebuilds it.

A sync that SQLite failed (a full disk, an I/O error, a damaged file) closes the
file and opens it again (``_async_reopen``): nothing the store kept in memory
about writes SQLite rolled back survives, and the check on opening finds a file
damaged while it was in use, which is then rebuilt like one damaged at setup.

A write that finds the disk full (SQLite's ``SQLITE_FULL``, or ``ENOSPC``) raises
``mirror_disk_full`` at once, with the file's path: waiting for three failures
would not help, only the user can make room. It replaces ``mirror_sync_failed``
(one cause, one issue) and goes with the next sync that succeeds.

A background sync that fails is not retried at once: the next one waits
``RETRY_FIRST`` (one minute), then twice as long after each failure in a row, at
most ``RETRY_MAX`` (an hour). Whatever is asked for meanwhile (the timer, scans,
timeline news) waits for that retry and is folded into it, so a full disk or a
server that is gone costs one attempt per back-off, not one per notification. The
``sync`` action still runs at once (the user asked), and its success ends the
back-off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
import errno
from pathlib import Path
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Concatenate, Final, Literal

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later, async_track_time_interval

from .const import (
    DEFAULT_MIRROR_INTERVAL,
    DOMAIN,
    EVENT_MEDIA_ADDED,
    EVENT_SYNC_FINISHED,
    LOGGER,
    OPTION_MIRROR_INTERVAL,
    OPTION_MIRROR_LIBRARIES,
    OPTION_PATH_MAPPINGS,
    URI_SCHEME,
)
from .repairs import (
    ISSUE_MIRROR_DISK_FULL,
    ISSUE_MIRROR_REBUILT,
    ISSUE_MIRROR_SYNC_FAILED,
)

if TYPE_CHECKING:
    from . import PlexBridgeConfigEntry
    from .api import PlexClient, ServerInfo
    from .api.notifications import TimelineNotification
    from .mirror.db import MirrorDB
    from .mirror.search import SearchHit
    from .mirror.store import Library, MirrorItem, MirrorStore
    from .mirror.sync import MirrorSync, SyncProgress, SyncResult

type SyncKind = Literal["full", "incremental"]
type MirrorState = Literal["idle", "syncing", "error"]

STATE_IDLE: Final = "idle"
STATE_SYNCING: Final = "syncing"
STATE_ERROR: Final = "error"
STATES: Final = (STATE_IDLE, STATE_SYNCING, STATE_ERROR)

MIRROR_DIR: Final = "plex_bridge"
FAILURES_FOR_ISSUE: Final = 3
"""Failed syncs in a row that raise the ``mirror_sync_failed`` issue."""
MAX_MEDIA_ADDED_EVENTS: Final = 200
"""The most ``plex_bridge_media_added`` events one sync fires."""
RETRY_FIRST: Final = timedelta(minutes=1)
"""How long a background sync waits after one failure (doubled per failure)."""
RETRY_MAX: Final = timedelta(hours=1)
"""The longest wait between background syncs that keep failing."""
MAX_REASON_LENGTH: Final = 300

# Timeline states (Plex's codes) that change what the mirror holds.
TIMELINE_REFETCH_STATES: Final = frozenset({0, 5})
TIMELINE_DELETED_STATE: Final = 9
# Plex type numbers the mirror holds (collections, playlists and clips it does not).
MIRRORED_TYPES: Final = frozenset({1, 2, 3, 4, 8, 9, 10, 13, 14})


def mirror_path(hass: HomeAssistant, machine_identifier: str) -> Path:
    """The file of one server's mirror, under Home Assistant's config directory."""
    return Path(hass.config.path(MIRROR_DIR, f"{machine_identifier}.db"))


def disk_full_error(err: BaseException) -> BaseException | None:
    """The full disk behind a failure (itself, or one it came from), if any.

    SQLite says ``SQLITE_FULL`` ("database or disk is full"): the disk, or the
    file's size limit; the OS says ``ENOSPC``. Either may hide behind another
    error: SQLite rolls a whole transaction back on ``SQLITE_FULL``, and the
    store's own ``ROLLBACK`` then fails with "no transaction is active", with the
    full disk as its context.
    """
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.Error):
            if getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                return current
        elif isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return current
        current = current.__cause__ or current.__context__
    return None


def _sqlite_error(err: BaseException) -> bool:
    """Whether SQLite had a part in a failure (the store's file, not the server)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, sqlite3.Error):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def item_media_id(server_id: str, rating_key: str) -> str:
    """The ``plex_bridge://`` id that browse, search and ``play_media`` share."""
    return f"{URI_SCHEME}://{server_id}/item/{rating_key}"


def item_context(item: MirrorItem) -> dict[str, Any]:
    """Where an item sits: show / season / episode, or artist / album / track."""
    match item.type:
        case "episode":
            return {
                "show": item.grandparent_title,
                "season": item.parent_index,
                "episode": item.index,
            }
        case "season":
            return {"show": item.parent_title, "season": item.index}
        case "track":
            return {
                "artist": item.grandparent_title,
                "album": item.parent_title,
                "track": item.index,
            }
        case "album":
            return {"artist": item.parent_title}
        case "photo":
            return {"album": item.parent_title} if item.parent_title else {}
    return {}


def item_full_title(item: MirrorItem) -> str:
    """``Show - S01E02 - Title``, ``Artist - Title``, ``Show - Season 1``, or the title."""
    match item.type:
        case "episode" if item.grandparent_title:
            if item.parent_index is not None and item.index is not None:
                number = f"S{item.parent_index:02d}E{item.index:02d}"
                return f"{item.grandparent_title} - {number} - {item.title}"
            return f"{item.grandparent_title} - {item.title}"
        case "track" if item.grandparent_title:
            return f"{item.grandparent_title} - {item.title}"
        case "season" | "album" if item.parent_title:
            return f"{item.parent_title} - {item.title}"
    return item.title


@dataclass(slots=True)
class _Pending:
    """What background requests asked for while a sync ran."""

    kind: SyncKind | None = None
    refetch: set[str] = field(default_factory=set)
    remove: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return self.kind is not None or bool(self.refetch) or bool(self.remove)


class PlexMirror:
    """One server's mirror at run time: scheduling, progress, events and repairs."""

    def __init__(  # noqa: PLR0917 - built by async_open only
        self,
        hass: HomeAssistant,
        entry: PlexBridgeConfigEntry,
        client: PlexClient,
        server: ServerInfo,
        db: MirrorDB,
        sync: MirrorSync,
        *,
        libraries: Collection[str] = (),
        path: Path | None = None,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.client = client
        self.server = server
        self.db = db
        self.path = path
        """The mirror's file (repairs text says where it is)."""
        self._sync = sync
        self._new_sync: Callable[[MirrorDB], MirrorSync] | None = None
        """Builds the sync on another file handle (``_async_reopen``)."""
        self._libraries = tuple(libraries)
        """Section keys mirrored (the option); empty: every library."""
        self.state: MirrorState = STATE_IDLE
        self.progress: SyncProgress | None = None
        self.last_result: SyncResult | None = None
        self.last_error: str | None = None
        self.failures = 0
        self.synced = False
        """Whether a full sync has finished (search may trust the mirror)."""
        self._lock = asyncio.Lock()
        self._pending = _Pending()
        self._worker: asyncio.Task[None] | None = None
        self._working = False
        self._listeners: list[CALLBACK_TYPE] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self._stop_listener: CALLBACK_TYPE | None = None
        self._actions: set[asyncio.Task[SyncResult]] = set()
        """Syncs actions asked for, while they run or wait (close cancels them)."""
        self._closed = False
        self._closed_event = asyncio.Event()
        self._db_ready = asyncio.Event()
        """Clear while the file is being reopened (reads wait for it)."""
        self._db_ready.set()
        self._backoff = 0
        """Background runs that failed in a row (the retry waits longer each time)."""
        self._retry: CALLBACK_TYPE | None = None
        """The back-off timer; while it runs, background requests wait for it."""
        self.disk_full = False
        """Whether the last failure was a full disk (its issue is up)."""

    # -- opening and closing -------------------------------------------------------

    @classmethod
    async def async_open(
        cls, hass: HomeAssistant, entry: PlexBridgeConfigEntry
    ) -> PlexMirror:
        """Open (or create) the server's file; a corrupt one is rebuilt, with an issue.

        Reads nothing from the server: the first sync starts with ``async_start``.
        """
        from .mirror.db import MirrorDB
        from .mirror.paths import PathMapper
        from .mirror.sync import MirrorSync

        data = entry.runtime_data
        path = mirror_path(hass, data.server.machine_identifier)
        await hass.async_add_executor_job(
            lambda: path.parent.mkdir(parents=True, exist_ok=True)
        )
        db, recovered = await MirrorDB.open(path)
        options = entry.options
        mappings = options.get(OPTION_PATH_MAPPINGS) or []
        libraries = [str(key) for key in options.get(OPTION_MIRROR_LIBRARIES) or []]
        paths = PathMapper(mappings) if mappings else None
        mirror: PlexMirror

        def on_progress(progress: SyncProgress) -> None:
            mirror.async_set_progress(progress)

        def new_sync(db: MirrorDB) -> MirrorSync:
            return MirrorSync(
                data.client,
                db,
                libraries=libraries or None,
                paths=paths,
                on_progress=on_progress,
            )

        mirror = cls(
            hass,
            entry,
            data.client,
            data.server,
            db,
            new_sync(db),
            libraries=libraries,
            path=path,
        )
        mirror._new_sync = new_sync
        if recovered:
            mirror._async_rebuilt()
        else:
            mirror._async_clear_issue(ISSUE_MIRROR_REBUILT)
        mirror.synced = await mirror._async_has_synced()
        return mirror

    @callback
    def _async_rebuilt(self) -> None:
        """The file was damaged, moved aside and replaced by an empty one: say so."""
        LOGGER.warning(
            "The library mirror of %s was corrupt; it was moved aside and a "
            "full sync rebuilds it",
            self.server.friendly_name,
        )
        self.synced = False
        self._async_raise_issue(
            ISSUE_MIRROR_REBUILT, ir.IssueSeverity.WARNING, path=str(self.path)
        )

    @callback
    def _async_raise_issue(
        self, key: str, severity: ir.IssueSeverity, **placeholders: str
    ) -> None:
        """Raise the mirror's repairs issue ``key`` (one per entry), server named."""
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{key}_{self.entry.entry_id}",
            is_fixable=False,
            is_persistent=False,
            severity=severity,
            translation_key=key,
            translation_placeholders={
                "server": self.server.friendly_name,
                **placeholders,
            },
        )

    @callback
    def _async_clear_issue(self, key: str) -> None:
        """Remove the mirror's repairs issue ``key``, if it is up."""
        ir.async_delete_issue(self.hass, DOMAIN, f"{key}_{self.entry.entry_id}")

    async def _async_reopen(self) -> None:
        """Close the file and open it again, after SQLite failed a write.

        Whatever the store keeps in memory about what it wrote goes with the old
        connection (a transaction SQLite rolled back on its own, as it does on a
        full disk, may leave the store's caches naming rows that are gone), and
        the file is checked again on opening: one damaged meanwhile is moved
        aside and rebuilt, with the ``mirror_rebuilt`` issue.

        The old connection closes first: moving a damaged file aside while it is
        still open would let its close delete the new file's WAL (SQLite removes
        ``<name>-wal`` by name). Reads wait meanwhile (``_db_ready``). A file that
        cannot be opened leaves the mirror closed; the next sync tries again.
        """
        from .mirror.db import MirrorDB

        if self._new_sync is None or self.path is None:
            return
        self._db_ready.clear()
        try:
            await self.db.close()
            try:
                db, recovered = await MirrorDB.open(self.path)
            except (OSError, sqlite3.Error) as err:
                LOGGER.warning(
                    "The library mirror of %s cannot open its file again: %s",
                    self.server.friendly_name,
                    err,
                )
                return
            self.db = db
            self._sync = self._new_sync(db)
        finally:
            self._db_ready.set()
        if recovered:
            self._async_rebuilt()

    async def _async_call[**P, T](
        self,
        fn: Callable[Concatenate[MirrorStore, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``MirrorDB.call`` on the file open now (waiting while it is reopened)."""
        from .mirror.db import MirrorDBClosedError

        await self._db_ready.wait()
        try:
            return await self.db.call(fn, *args, **kwargs)
        except MirrorDBClosedError:
            raise _sync_error("mirror_closed", self.server.friendly_name) from None

    @callback
    def async_start(self) -> None:
        """Start syncing: a full sync now (in the background), then on a timer."""
        minutes = self.entry.options.get(
            OPTION_MIRROR_INTERVAL, DEFAULT_MIRROR_INTERVAL
        )
        self._unsubscribe.append(
            async_track_time_interval(
                self.hass,
                self._async_interval,
                timedelta(minutes=minutes),
                name=f"{DOMAIN} mirror of {self.server.friendly_name}",
                cancel_on_shutdown=True,
            )
        )
        # Home Assistant stopping without unloading the entry still closes the file.
        self._stop_listener = self.hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._async_on_stop
        )
        self.async_request_sync("full")

    async def _async_on_stop(self, _event: Event) -> None:
        self._stop_listener = None  # a listener that fired is gone already
        await self.async_close()

    async def async_close(self) -> None:
        """Stop: cancel the running sync (it leaves the last commit) and close the file.

        Idempotent; a second caller waits until the first one has closed it.
        """
        if self._closed:
            await self._closed_event.wait()
            return
        self._closed = True
        try:
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self._unsubscribe.clear()
            if self._stop_listener is not None:
                self._stop_listener()
                self._stop_listener = None
            self._async_cancel_retry()
            for task in (self._worker, *self._actions):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            async with self._lock:
                await self.db.close()
            self._listeners.clear()
        finally:
            self._closed_event.set()

    # -- listeners (the sensor) ----------------------------------------------------

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call ``update`` whenever the state, the progress or the last result change."""
        self._listeners.append(update)

        @callback
        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(update)

        return remove

    @callback
    def _async_notify(self) -> None:
        for update in list(self._listeners):
            update()

    @callback
    def async_set_progress(self, progress: SyncProgress) -> None:
        """The sync's progress; listeners hear of a new library or a new percent."""
        old = self.progress
        self.progress = progress
        if (
            old is None
            or old.library_key != progress.library_key
            or int(old.percent) != int(progress.percent)
            or progress.done == progress.total
        ):
            self._async_notify()

    # -- requests ------------------------------------------------------------------

    @callback
    def async_request_sync(self, kind: SyncKind = "incremental") -> None:
        """Sync in the background, now or right after the sync that runs."""
        if self._closed:
            return
        if kind == "full" or self._pending.kind is None:
            self._pending.kind = kind
        self._async_wake()

    @callback
    def async_handle_timeline_notifications(
        self, notes: Sequence[TimelineNotification]
    ) -> None:
        """Timeline entries of one websocket frame: the library items they name.

        Created (0) and processed (5) items are refetched; deleted (9) ones removed.
        Items of other kinds (collections, playlists) and of libraries that are not
        mirrored are ignored.
        """
        libraries = {str(key) for key in self._libraries}
        refetch: list[str] = []
        remove: list[str] = []
        for note in notes:
            if note.identifier not in (None, "com.plexapp.plugins.library"):
                continue
            if note.type is not None and note.type not in MIRRORED_TYPES:
                continue
            if libraries and note.section_id not in libraries:
                continue
            if note.state == TIMELINE_DELETED_STATE or note.metadata_state == "deleted":
                remove.append(note.item_id)
            elif note.state in TIMELINE_REFETCH_STATES:
                refetch.append(note.item_id)
        self.async_handle_timeline(refetch, remove)

    @callback
    def async_handle_timeline(
        self, refetch: Collection[str], remove: Collection[str]
    ) -> None:
        """Items a timeline named: refetched (created, updated) or removed (deleted)."""
        if self._closed or not (refetch or remove):
            return
        self._pending.refetch.update(refetch)
        self._pending.refetch.difference_update(remove)
        self._pending.remove.update(remove)
        self._pending.remove.difference_update(refetch)
        self._async_wake()

    @callback
    def _async_wake(self) -> None:
        if self._retry is not None:
            return  # backing off: the retry runs what is pending
        if self._worker is None or self._worker.done():
            self._working = True
            self._worker = self.entry.async_create_background_task(
                self.hass,
                self._async_work(),
                f"{DOMAIN} mirror sync of {self.server.friendly_name}",
            )

    @callback
    def _async_interval(self, _now: Any) -> None:
        self.async_request_sync("incremental")

    @callback
    def _async_back_off(self, kind: str) -> None:
        """A background run failed: run it again after the back-off, not before.

        A failed refetch or removal of the items a timeline named is caught up by
        an incremental sync (what they would have changed, it finds).
        """
        self._backoff += 1
        retry_kind: SyncKind = "full" if kind == "full" else "incremental"
        if retry_kind == "full" or self._pending.kind is None:
            self._pending.kind = retry_kind
        delay = min(RETRY_FIRST * 2 ** (self._backoff - 1), RETRY_MAX)
        LOGGER.debug(
            "The library mirror of %s syncs again in %s",
            self.server.friendly_name,
            delay,
        )
        self._async_cancel_retry()
        self._retry = async_call_later(self.hass, delay, self._async_retry_now)

    @callback
    def _async_retry_now(self, _now: Any) -> None:
        self._retry = None
        if not self._closed:
            self._async_wake()

    @callback
    def _async_cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry()
            self._retry = None

    async def _async_work(self) -> None:
        """Run what was asked for until nothing more is (background syncs only)."""
        try:
            while self._pending and not self._closed:
                async with self._lock:
                    pending, self._pending = self._pending, _Pending()
                    kind = pending.kind
                    if kind is not None and not self.synced:
                        kind = "full"
                    running: str | None = kind
                    try:
                        if kind is not None:
                            await self._async_run(kind, None)
                        if pending.remove:
                            running = "remove"
                            await self._async_run("remove", pending.remove)
                        if pending.refetch:
                            running = "refetch"
                            await self._async_run("refetch", pending.refetch)
                    except HomeAssistantError:
                        # Counted and logged by _async_run; what was asked for
                        # meanwhile waits for the retry.
                        self._async_back_off(running or "incremental")
                        break
                    self._backoff = 0
        finally:
            self._working = False
            if not self._closed:
                self._async_notify()

    async def async_sync(
        self, kind: SyncKind, library_keys: Collection[str] | None = None
    ) -> SyncResult:
        """Sync now and return the result (the ``sync`` action); waits for a running one."""
        if self._closed:
            raise _sync_error("mirror_closed", self.server.friendly_name)

        async def run() -> SyncResult:
            async with self._lock:
                return await self._async_run(kind, library_keys)

        # A task of its own, so that unloading the entry can cancel it.
        task = self.entry.async_create_background_task(
            self.hass, run(), f"{DOMAIN} mirror sync action"
        )
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)
        self._async_notify()
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled() and self._closed:
                raise _sync_error("mirror_closed", self.server.friendly_name) from None
            raise

    async def _async_run(self, kind: str, keys: Collection[str] | None) -> SyncResult:
        """One sync under the lock: progress, result, events, failures and repairs.

        Refetches and removals of the items a timeline named are small and come
        often: they leave the sensor's state and last result alone, and neither
        count as failed syncs nor clear the repair (only a sync of libraries
        does); their ``plex_bridge_sync_finished`` and ``..._media_added`` events
        fire all the same.
        """
        targeted = kind in ("refetch", "remove")
        if not targeted:
            self.state = STATE_SYNCING
            self.progress = None
            self._async_notify()
        started = time.monotonic()
        try:
            if self.db.closed and not self._closed:
                await self._async_reopen()  # a reopen that failed: try again
            known = await self._async_synced_libraries()
            sync = self._sync  # after a reopen, the new file's
            match kind:
                case "full":
                    result = await sync.full(keys)
                case "incremental":
                    result = await sync.incremental(keys)
                case "refetch":
                    result = await sync.refetch(keys or ())
                case _:
                    result = await sync.remove(keys or ())
        except asyncio.CancelledError:
            if not targeted:
                self.state = STATE_IDLE if self.failures == 0 else STATE_ERROR
                self.progress = None
            raise
        except Exception as err:  # every failure counts the same
            full = disk_full_error(err)
            reason = self._reason(full or err)
            if full is not None:
                self._async_disk_full(reason)
            if _sqlite_error(err) and not self._closed:
                await self._async_reopen()
            if targeted:
                LOGGER.warning(
                    "The library mirror of %s could not %s %d items (the next "
                    "sync catches up): %s",
                    self.server.friendly_name,
                    kind,
                    len(keys or ()),
                    reason,
                )
            else:
                self._async_failed(kind, reason, time.monotonic() - started)
            raise _sync_error(
                "mirror_sync_failed", self.server.friendly_name, reason
            ) from err
        if self.disk_full:
            self.disk_full = False
            self._async_clear_issue(ISSUE_MIRROR_DISK_FULL)
        if not targeted:
            await self._async_succeeded(result)
            if self._retry is not None:
                # The cause went away (an action's sync succeeded): what waited
                # for the retry runs now.
                self._backoff = 0
                self._async_cancel_retry()
                if self._pending:
                    self._async_wake()
        self.hass.bus.async_fire(
            EVENT_SYNC_FINISHED, {**result_data(result), **self._server()}
        )
        if result.added_keys and known:
            await self._async_fire_added(result.added_keys, known)
        return result

    @callback
    def _async_failed(self, kind: str, reason: str, duration: float) -> None:
        self.failures += 1
        self.last_error = reason
        self.state = STATE_ERROR
        self.progress = None
        LOGGER.warning(
            "The %s sync of the library mirror of %s failed after %.1f s (%d in a "
            "row): %s",
            kind,
            self.server.friendly_name,
            duration,
            self.failures,
            self.last_error,
        )
        if self.failures >= FAILURES_FOR_ISSUE and not self.disk_full:
            self._async_raise_issue(
                ISSUE_MIRROR_SYNC_FAILED,
                ir.IssueSeverity.ERROR,
                failures=str(self.failures),
                error=self.last_error,
            )
        self._async_notify()

    @callback
    def _async_disk_full(self, reason: str) -> None:
        """A write found the disk full: say so now, with where the file is."""
        if not self.disk_full:
            LOGGER.error(
                "The disk of the library mirror of %s is full (%s); syncing waits "
                "until there is room again: %s",
                self.server.friendly_name,
                self.path,
                reason,
            )
        self.disk_full = True
        # One cause, one issue: the full disk says more than "failed 3 times".
        self._async_clear_issue(ISSUE_MIRROR_SYNC_FAILED)
        self._async_raise_issue(
            ISSUE_MIRROR_DISK_FULL,
            ir.IssueSeverity.ERROR,
            path=str(self.path) if self.path is not None else "",
            error=reason,
        )

    async def _async_succeeded(self, result: SyncResult) -> None:
        if self.failures:
            self._async_clear_issue(ISSUE_MIRROR_SYNC_FAILED)
        if not self.synced:
            # An incremental sync of a library never synced is a full one.
            self.synced = await self._async_has_synced()
        # Nothing awaited from here on: whoever sees the result sees all of it.
        self.failures = 0
        self.last_error = None
        self.last_result = result
        self.state = STATE_IDLE
        self.progress = None
        self._async_notify()

    async def _async_fire_added(self, keys: Sequence[str], known: set[str]) -> None:
        """``plex_bridge_media_added`` for new items of libraries mirrored before."""
        from .mirror.store import MirrorStore

        wanted = list(keys)[: MAX_MEDIA_ADDED_EVENTS * 2]
        items = await self._async_call(MirrorStore.items, wanted)
        titles = {
            library.key: library.title
            for library in await self._async_call(MirrorStore.libraries)
        }
        fired = 0
        for item in items:
            if item.library_key not in known:
                continue
            if fired == MAX_MEDIA_ADDED_EVENTS:
                LOGGER.debug(
                    "%d more items were added to %s without an event",
                    len(keys) - fired,
                    self.server.friendly_name,
                )
                break
            fired += 1
            self.hass.bus.async_fire(
                EVENT_MEDIA_ADDED,
                {
                    "title": item.title,
                    "full_title": item_full_title(item),
                    "media_type": item.type,
                    **item_context(item),
                    "year": item.year,
                    "library": titles.get(item.library_key),
                    "library_id": item.library_key,
                    "rating_key": item.rating_key,
                    "media_content_id": item_media_id(
                        self.server.machine_identifier, item.rating_key
                    ),
                    **self._server(),
                },
            )

    def _server(self) -> dict[str, str]:
        return {
            "server": self.server.friendly_name,
            "server_id": self.server.machine_identifier,
            "config_entry_id": self.entry.entry_id,
        }

    def _reason(self, err: BaseException) -> str:
        """Why a sync failed, fit for logs and repairs: never the token, never long."""
        text = str(err) or type(err).__name__
        token = self.client.token
        if token:
            text = text.replace(token, "**REDACTED**")
        if len(text) > MAX_REASON_LENGTH:
            text = f"{text[: MAX_REASON_LENGTH - 1]}…"
        return text

    # -- reading -------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a background sync runs or is asked for, or an action's sync is."""
        return self._working or self.pending_actions > 0

    @property
    def pending_actions(self) -> int:
        """Syncs that actions asked for and that run or wait for the running one."""
        return sum(not task.done() for task in self._actions)

    def mirrors_library(self, library_key: str) -> bool:
        """Whether the options have the mirror hold this library."""
        return not self._libraries or str(library_key) in self._libraries

    @property
    def mirrors_every_library(self) -> bool:
        """Whether every library is mirrored (no choice in the options)."""
        return not self._libraries

    async def _async_synced_libraries(self) -> set[str]:
        """Library keys whose mirror has finished a sync before (events are for them)."""

        def synced(store: MirrorStore) -> set[str]:
            return {
                library.key
                for library in store.libraries()
                if store.sync_state(library.key).synced_at is not None
            }

        return await self._async_call(synced)

    async def _async_has_synced(self) -> bool:
        return bool(await self._async_synced_libraries())

    async def async_libraries(self) -> list[Library]:
        """The libraries the mirror holds."""
        from .mirror.store import MirrorStore

        return await self._async_call(MirrorStore.libraries)

    async def async_counts(self) -> dict[str, dict[int, int]]:
        """Items per library and Plex type (for diagnostics)."""
        from .mirror.store import MirrorStore

        return await self._async_call(MirrorStore.counts)

    async def async_item(self, rating_key: str) -> MirrorItem | None:
        """One item of the mirror."""
        from .mirror.store import MirrorStore

        return await self._async_call(MirrorStore.item, rating_key)

    async def async_search(self, query: str | None, **filters: Any) -> list[SearchHit]:
        """The store's search (its keyword filters), run on the mirror's thread."""
        from .mirror.store import MirrorStore

        return await self._async_call(MirrorStore.search, query, **filters)

    def as_dict(self) -> dict[str, Any]:
        """For diagnostics (no titles, no paths)."""
        return {
            "state": self.state,
            "synced": self.synced,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_result": {
                name: value
                for name, value in result_data(self.last_result).items()
                if name in ("kind", "added", "updated", "removed", "libraries")
            }
            if self.last_result
            else None,
        }


def result_data(result: SyncResult) -> dict[str, Any]:
    """A sync's result as events, attributes and the ``sync`` action show it.

    The keys of every item added are left out: a full sync adds thousands.
    """
    data = dict(result.as_dict())
    data.pop("added_keys", None)
    if isinstance(data.get("duration"), float):
        data["duration"] = round(data["duration"], 3)
    return data


def _sync_error(key: str, server: str, error: str | None = None) -> HomeAssistantError:
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"server": server, "error": error or ""},
    )


__all__ = [
    "FAILURES_FOR_ISSUE",
    "STATES",
    "PlexMirror",
    "item_context",
    "item_full_title",
    "item_media_id",
    "mirror_path",
    "result_data",
]
