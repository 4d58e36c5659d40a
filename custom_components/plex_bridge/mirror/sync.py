"""Keeps the mirror in step with the server: full, incremental and targeted syncs.

No Home Assistant imports; every SQLite call goes through ``MirrorDB`` (its own
thread), every HTTP request through the ``PlexClient`` (its retries, breaker and
in-flight limit).

Full sync (per library)
-----------------------
By type, parents first (shows 2, seasons 3, episodes 4; artists 8, albums 9,
tracks 10; photo albums 14, photos 13; movies 1), in pages of ``PAGE_SIZE``
(JSON, ``includeGuids=1``, ``sort=addedAt`` so that items added meanwhile land
at the end instead of shifting the pages already read). ``IN_FLIGHT`` pages are
fetched at once; the pages are written in order, one transaction each, while the
next ones are on the wire, so writing overlaps with fetching and at most
``IN_FLIGHT + 1`` pages are held in memory. The pages fetched ahead wait as they
came (``RawPage``): each is decoded only when its turn to be written comes, so
that one decoded page is alive at a time, not four. A decoded page is some ten
times its body, and thousands of objects that Python's garbage collector scans
at every collection until the page is written; decoding it while the database
thread writes also takes the GIL from that thread at each row it binds.
Measured on the large library, four runs each, alternating: the collector's
time 1.39 to 1.57 s before, 0.75 to 1.10 s after; the full sync 11.6 to 12.8 s
before, 9.9 to 12.8 s after; peak RSS 222 to 223 MB before, 217 to 219 after.
A page whose body cannot be decoded is read again through ``section_metadata``
(with the client's retries). The next type's first pages are fetched while the
last ones of the type before are written (the pipe does not run dry between
types). The cost grows with pages, never with shows or artists. A
library with many items to write has the store drop its secondary indexes first
(``MirrorStore.defer_indexes``); they are built again at the end of the run. Each
page's transaction saves the type's next offset (``SyncState.progress``); an
interrupted full sync (cancelled, the server gone, the disk failing, the process
killed) leaves the mirror at its last commit, and the next full sync continues from
those offsets. After the last page the mirror's
count per type is compared with the server's ``totalSize``; on a difference the
keys are reconciled (see deletions). Only then does ``finish_library`` clear the
progress and set the cursor: the newest ``updatedAt`` / ``addedAt`` /
``lastViewedAt`` seen, but no later than the newest stamp on the server when the
full sync began (kept in the progress under pseudo-type 0, so a resumed sync keeps
it), because an item changed after its page was read is older than what changed
after it on later pages.

Incremental sync (per library)
------------------------------
One ``/library/sections`` read for every library (it also tells the store which
libraries still exist). Then the libraries at once (a full sync takes them one
after the other): an incremental sync is a chain of small reads, each waiting on
the server, so one library's answers are written while another's requests are
answered (measured: 1.26 to 1.10 s for 200 renamed and 40 deleted items of the
large library). The progress then names whichever library reported last. Per
library:

- Content: the section's ``contentChangedAt`` (Plex's change stamp of the
  section's items) is compared with the one seen by the last sync. Only when it
  moved (or is unknown), per type: ``updatedAt>>=`` and ``addedAt>>=`` from
  the cursor minus ``MARGIN`` (paged like a full sync) and the type's
  ``totalSize`` (``X-Plex-Container-Size=0``). Where the mirror's count differs,
  the keys are reconciled.
- Watch state: watching does not bump ``updatedAt`` (nor the change stamp), so
  every sync first asks the library's playable type for the plays after the
  window's start (the newest play it saw minus ``MARGIN``; ``lastViewedAt>>=``,
  newest first, one item): their ``totalSize`` and the newest ``lastViewedAt``. Unless both equal
  what the last sync's probe saw, those plays are fetched and their parents
  (whose watched counts follow) refetched. The probe comes before any read, so a
  play during a sync shows in the next probe.

With nothing changed that is one request per library plus one in all, fewer than
one per library type. ``MARGIN`` (60 s) covers changes made in the same second
as the cursor, and items written while the previous sync was reading: re-reading
a minute of changes is cheap, missing one is not.

Deletions
---------
Where a type's ``totalSize`` differs from the mirror's count, the keys are
compared. Seasons, episodes, albums and tracks are narrowed down first: one
keys-only read of their parents (shows, seasons, artists, albums) gives each
one's ``childCount`` / ``leafCount``; only the parents whose counts differ from
the mirror's are read, in one listing of the type per ``BATCH_SIZE`` of them
(``type=4&season.id=1,2,...``, keys only), so fifty deleted episodes cost one
request for their seasons' episodes, not a read of every episode. Movies,
photos, shows, artists (or more than ``MAX_SUSPECTS`` suspects) are narrowed down
by time instead: the mirror's items of the type are cut into up to ``RANGES``
ranges of ``addedAt``, the server counts each range (``X-Plex-Container-Size=0``)
and only the ranges whose counts differ are read, keys only; ten deleted movies
of 10,000 cost 16 counts and some eight reads of 625 items, not a read of every
movie (more ranges cost more in counts than they save in reads, measured on the
large library). Types too small to cut (under
``2 * RANGE_MIN`` items, or an item without ``addedAt``): every key of the type
is read (the listing without ``includeGuids``, in pages of ``KEYS_PAGE_SIZE``).
Every read of keys or counts asks Plex for just those (``includeFields=ratingKey``
or ``ratingKey,leafCount``, and ``excludeElements`` of every child element, Plex's
response customization): 7 MB instead of 33 MB for the incremental after changes
of the large test library. Plex treats these as requests, so a server that sends
whole items is read the same way.
Keys the mirror lacks are fetched; keys the server lacks are checked once more by a
batched ``/library/metadata/{ids}`` (a key that a concurrent change moved across a
page boundary must not be deleted) and removed with their children. Parents of whatever was added or removed are read again:
their child and leaf counts (and so their watched state) changed with them.

Re-reads
--------
The margin re-reads items stamped within a minute before the cursor, and a scan
often stamps thousands with the same second. Items written lately within the
margin keep a content hash (``_recent``, per ``MirrorSync``): one that comes back
byte for byte the same is not written again, nor counted as updated.

Targeted syncs
--------------
``refetch`` (timeline created/updated) reads items in batches of ``BATCH_SIZE``
through ``/library/metadata/{id1,id2,...}``; keys the server no longer has are
removed. ``remove`` (timeline deleted) removes items and their children. Both then
read the parents again (one batched request).

Known limits
------------
An item marked unwatched loses its ``lastViewedAt``, so the watch window does not
see it (nor does ``contentChangedAt``); the mirror learns it from the next full
sync, or from a ``refetch`` of the item by whoever marked it.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
import functools
import logging
import time
from typing import TYPE_CHECKING, Any, Final, cast

import orjson

from custom_components.plex_bridge.api.client import (
    ITEM_ELEMENTS,
    ListingShape,
    PlexMalformedError,
)
from custom_components.plex_bridge.api.models import as_int

from .listing import decode_keys, decode_listing

if TYPE_CHECKING:
    from custom_components.plex_bridge.api.client import PlexClient, RawPage

    from .db import MirrorDB
    from .paths import PathMapper
    from .store import MirrorStore, UpsertResult

_LOGGER = logging.getLogger(__name__)

PAGE_SIZE: Final = 1000
"""Items per page of a full sync (measured: larger pages gain nothing on 2 cores
and hold more in memory)."""
KEYS_PAGE_SIZE: Final = 2000
"""Items per page of a keys-only read (no ``Guid`` elements, little to write)."""
KEYS_ONLY: Final = ListingShape(("ratingKey",), ITEM_ELEMENTS)
"""What a keys-only read asks of each item: its rating key, no child elements
(Plex's ``includeFields`` / ``excludeElements``). A server that sends more is
read the same way: ``listing.decode_keys`` keeps only keys and counts."""
IN_FLIGHT: Final = 3
"""Requests a sync has at the server at once, pages and every other read together
(``_Reads``). The client allows 4 per server: one stays free for what the user does
meanwhile (a player command, the media browser), which never queues behind a sync."""
BATCH_SIZE: Final = 100
"""Rating keys per ``/library/metadata/{ids}`` request."""
MARGIN: Final = 60
"""Seconds re-read before the cursor by an incremental sync."""
FULL_SORT: Final = "addedAt"

# Plex type numbers a library holds, parents first.
TYPES_BY_SECTION: Final[Mapping[str, tuple[int, ...]]] = {
    "movie": (1,),
    "show": (2, 3, 4),
    "artist": (8, 9, 10),
    "photo": (14, 13),
}
# The type whose items are played (and so carry the watch state).
LEAF_TYPE: Final[Mapping[str, int]] = {"movie": 1, "show": 4, "artist": 10, "photo": 13}
# How a type's deletions are narrowed down: its parents' type, the parents'
# attribute that counts it, and the mirror's column that links it to them.
# (Parents, not shows and artists: a season's or an album's children are a few
# items, a show's episodes dozens.)
NARROW: Final[Mapping[int, tuple[int, str, str]]] = {
    3: (2, "parent_key", "childCount"),
    4: (3, "parent_key", "leafCount"),
    9: (8, "parent_key", "childCount"),
    10: (9, "parent_key", "leafCount"),
}
# The parent types' names, as a listing filter prefixes their fields.
TOP_KIND: Final[Mapping[int, str]] = {2: "show", 3: "season", 8: "artist", 9: "album"}
MAX_SUSPECTS: Final = 200
"""More parents than this whose counts differ: narrow by ranges instead."""
RANGES: Final = 16
"""``addedAt`` ranges counted to narrow a type's deletions down (see ``_diff_by_range``)."""
RANGE_MIN: Final = 100
"""Items per range at least: smaller types are read whole."""
START_STAMP: Final = 0
"""Pseudo-type under which a full sync's progress keeps the stamp it began at."""
PHOTO_ALBUM: Final = 14
PHOTO_ALBUM_TYPE: Final = "photoalbum"
TIME_FIELDS: Final = ("updatedAt", "addedAt", "lastViewedAt")

type ProgressCallback = Callable[[SyncProgress], None]


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """How far a sync of one library has come (for the sync sensor)."""

    kind: str
    library_key: str
    library_title: str
    done: int
    total: int
    percent: float


@dataclass(slots=True)
class SyncResult:
    """What a sync did: counts, time, requests and the libraries it touched."""

    kind: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    duration: float = 0.0
    requests: int = 0
    libraries: list[str] = field(default_factory=list)
    added_keys: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The result as plain data (events, response data, the store's last result)."""
        return asdict(self)

    def add(self, upserted: UpsertResult) -> None:
        """Count one ``upsert_items``."""
        self.added += upserted.added
        self.updated += upserted.updated
        self.added_keys.extend(upserted.added_keys)


def _normalise(items: Iterable[dict[str, Any]], plex_type: int | None) -> int:
    """Mark photo albums (Plex types them ``photo``); the newest timestamp seen.

    A list of type 14 holds albums only (elsewhere the store tells an album by its
    ``.../children`` key).
    """
    newest = 0
    for item in items:
        if plex_type == PHOTO_ALBUM and item.get("type") == "photo":
            item["type"] = PHOTO_ALBUM_TYPE
        newest = max(newest, _newest(item))
    return newest


def _newest(item: Mapping[str, Any]) -> int:
    """The newest of an item's ``updatedAt`` / ``addedAt`` / ``lastViewedAt``."""
    newest = 0
    for name in TIME_FIELDS:
        value = as_int(item.get(name))
        if value is not None and value > newest:
            newest = value
    return newest


def _content_hash(item: Mapping[str, Any]) -> int:
    """A hash of everything an item's dict holds (key order does not matter)."""
    return hash(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))


class _LibraryRun:
    """The counters of one library within one sync."""

    def __init__(self, section: Mapping[str, Any], kind: str) -> None:
        self.key = str(section["key"])
        self.title = str(section.get("title") or self.key)
        self.type = str(section.get("type"))
        self.kind = kind
        self.done = 0
        self.total = 0
        self.newest = 0
        self.added = 0
        self.updated = 0
        self.removed = 0
        # The watch window probed before this run read anything (kept at its end).
        self.window: tuple[int, int, int] | None = None
        # (top type, count attribute) -> rating key -> count, read once per run.
        self.tops: dict[tuple[int, str], dict[str, int] | None] = {}
        # The newest stamp on the server when a full sync began (caps the cursor).
        self.cap: int | None = None
        self.locks: dict[tuple[int, str], asyncio.Lock] = {}


class _Reads:
    """The client's reads a sync makes, at most ``IN_FLIGHT`` at the server at once.

    One limit for the whole sync (every library of an incremental, every
    listing, count and batch), so that a sync never holds all of the client's
    slots; the rest of the integration uses the client itself. Each read is the
    client's own method, with its signature, behind the limit. Items are decoded
    by ``listing.decode_listing``: every read of the sync the same way, so that
    the content hashes of items read twice compare what the mirror stores. (The
    reads of keys and counts, ``MirrorSync._keys_page``, ask for
    ``listing.decode_keys`` instead.)
    """

    def __init__(self, client: PlexClient) -> None:
        self._client = client
        slots = asyncio.Semaphore(IN_FLIGHT)

        def limited[**P, T](
            read: Callable[P, Awaitable[T]],
        ) -> Callable[P, Awaitable[T]]:
            async def run(*args: P.args, **kwargs: P.kwargs) -> T:
                async with slots:
                    return await read(*args, **kwargs)

            return run

        self.raw_sections = limited(client.raw_sections)
        # Items decoded with the fields the mirror reads only (``listing``).
        self.section_metadata = limited(
            functools.partial(client.section_metadata, json_decoder=decode_listing)
        )
        self.section_page = limited(
            functools.partial(client.section_page, json_decoder=decode_listing)
        )
        self.metadata_batch = limited(
            functools.partial(client.metadata_batch, json_decoder=decode_listing)
        )

    @property
    def requests_made(self) -> int:
        """The client's count of requests (the sync's result counts its own)."""
        return self._client.requests_made


class MirrorSync:
    """Full, incremental and targeted syncs of one server into its mirror."""

    def __init__(
        self,
        client: PlexClient,
        db: MirrorDB,
        *,
        libraries: Collection[str] | None = None,
        paths: PathMapper | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """``libraries``: the section keys to mirror (``None`` or empty: all)."""
        self._client = _Reads(client)
        self._db = db
        self._libraries = {str(key) for key in libraries} if libraries else None
        self._paths = paths
        self._on_progress = on_progress
        # Keys added per library during the current run.
        self._added_keys: dict[str, list[str]] = {}
        # Rating key -> (content hash, newest timestamp) of items written lately
        # whose timestamps lie within the margin (see ``_write_changed``).
        self._recent: dict[str, tuple[int, int, str]] = {}

    # -- entry points --------------------------------------------------------------

    async def full(self, library_keys: Collection[str] | None = None) -> SyncResult:
        """Read every item of the libraries (resuming an interrupted full sync)."""
        return await self._run("full", library_keys)

    async def incremental(
        self, library_keys: Collection[str] | None = None
    ) -> SyncResult:
        """Apply what changed since the last sync (a full sync where there was none)."""
        return await self._run("incremental", library_keys)

    async def refetch(self, rating_keys: Collection[str]) -> SyncResult:
        """Read these items again (timeline created/updated) and upsert them."""
        result = SyncResult("refetch")
        started, requests = time.monotonic(), self._client.requests_made
        known = {library.key for library in await self._db.call(_libraries)}
        keys = list(dict.fromkeys(str(key) for key in rating_keys))
        self._forget(keys)
        found = await self._fetch_batches(keys)
        by_library: dict[str, list[dict[str, Any]]] = {}
        for item in found:
            library = str(item.get("librarySectionID", ""))
            if library in known:
                by_library.setdefault(library, []).append(item)
        returned = {str(item.get("ratingKey")) for item in found}
        # A new or changed child changes its parents' counts (leafCount, ...).
        parents = {
            str(value)
            for items in by_library.values()
            for item in items
            for value in (item.get("parentRatingKey"), item.get("grandparentRatingKey"))
            if value is not None
        } - returned
        for library, items in by_library.items():
            _normalise(items, None)
            result.add(await self._upsert(library, items))
            result.libraries.append(library)
        gone = [key for key in keys if key not in returned]
        if gone:
            parents |= await self._db.call(_parent_keys, gone)
            self._forget(gone)
            result.removed += await self._db.call(_remove, gone)
        await self._refresh(result, parents - set(gone), known)
        return self._finish(result, started, requests)

    async def remove(self, rating_keys: Collection[str]) -> SyncResult:
        """Remove these items and their children (timeline deleted).

        Their parents are read again (one batched request): their child and leaf
        counts, and so their watched state, changed with them.
        """
        result = SyncResult("remove")
        started, requests = time.monotonic(), self._client.requests_made
        keys = [str(key) for key in rating_keys]
        if keys:
            parents = await self._db.call(_parent_keys, keys)
            self._forget(keys)
            result.removed = await self._db.call(_remove, keys)
            known = {library.key for library in await self._db.call(_libraries)}
            await self._refresh(result, parents - set(keys), known)
        return self._finish(result, started, requests)

    async def _refresh(
        self, result: SyncResult, parents: Collection[str], known: Collection[str]
    ) -> None:
        """Read parents again and upsert them (counted as updated)."""
        if not parents:
            return
        by_library: dict[str, list[dict[str, Any]]] = {}
        for item in await self._fetch_batches(sorted(parents)):
            library = str(item.get("librarySectionID", ""))
            if library in known:
                by_library.setdefault(library, []).append(item)
        for library, items in by_library.items():
            _normalise(items, None)
            upserted = await self._upsert(library, items)
            result.updated += upserted.updated
            if library not in result.libraries:
                result.libraries.append(library)

    # -- the run -------------------------------------------------------------------

    def _finish(self, result: SyncResult, started: float, requests: int) -> SyncResult:
        result.duration = time.monotonic() - started
        result.requests = self._client.requests_made - requests
        return result

    async def _run(self, kind: str, library_keys: Collection[str] | None) -> SyncResult:
        result = SyncResult(kind)
        started, requests = time.monotonic(), self._client.requests_made
        sections = await self._sections()
        wanted = {str(key) for key in library_keys} if library_keys else None
        if wanted is not None:
            unknown = wanted - {str(section["key"]) for section in sections}
            if unknown:
                raise KeyError(f"no such library: {', '.join(sorted(unknown))}")
        selected = [
            section
            for section in sections
            if wanted is None or str(section["key"]) in wanted
        ]
        if kind == "incremental":
            # The libraries at once: an incremental sync is a chain of small
            # reads, each waiting on the server, so one library's requests are
            # answered while another's answers are written.
            runs = await _all(*(self._library(section, kind) for section in selected))
        else:
            runs = [await self._library(section, kind) for section in selected]
        for run in runs:
            result.added += run.added
            result.updated += run.updated
            result.removed += run.removed
            result.libraries.append(run.key)
            result.added_keys.extend(self._added_keys.pop(run.key, []))
        await self._db.call(_restore_indexes)
        return self._finish(result, started, requests)

    async def _library(self, section: Mapping[str, Any], kind: str) -> _LibraryRun:
        """Sync one library (in full where it never finished one) and save its cursor."""
        run = _LibraryRun(section, kind)
        started = time.monotonic()
        state = await self._db.call(_sync_state, run.key)
        if kind == "full" or state.cursor is None or state.progress:
            await self._full_library(run, state.progress, state.cursor)
        else:
            await self._incremental_library(
                run, section, state.cursor, state.last_result or {}
            )
        await self._finish_library(run, section, time.monotonic() - started)
        return run

    async def _sections(self) -> list[dict[str, Any]]:
        """The server's libraries that are mirrored; tells the store which exist."""
        sections = [
            section
            for section in await self._client.raw_sections()
            if str(section.get("type")) in TYPES_BY_SECTION
            and (self._libraries is None or str(section.get("key")) in self._libraries)
        ]
        removed = await self._db.call(_set_libraries, sections)
        if removed:
            _LOGGER.debug("Libraries no longer mirrored: %s", removed)
        return sections

    def _progress(self, run: _LibraryRun) -> None:
        if self._on_progress is None:
            return
        total = max(run.total, run.done)
        percent = 100.0 if total == 0 else round(100.0 * run.done / total, 1)
        try:
            self._on_progress(
                SyncProgress(run.kind, run.key, run.title, run.done, total, percent)
            )
        except Exception:
            _LOGGER.exception("Progress callback failed")

    async def _upsert(
        self,
        library_key: str,
        items: Sequence[Mapping[str, Any]],
        progress: tuple[int, int] | None = None,
    ) -> UpsertResult:
        paths = self._paths
        return await self._db.call(
            lambda store: store.upsert_items(
                library_key, items, paths=paths, progress=progress
            )
        )

    def _record(self, run: _LibraryRun, upserted: UpsertResult) -> None:
        run.added += upserted.added
        run.updated += upserted.updated
        self._added_keys.setdefault(run.key, []).extend(upserted.added_keys)

    def _remember(
        self, library_key: str, items: Iterable[Mapping[str, Any]], floor: int
    ) -> None:
        """Keep the content hash of written items stamped at or after ``floor``."""
        recent = self._recent
        for item in items:
            newest = _newest(item)
            if newest >= floor:
                key = str(item.get("ratingKey"))
                recent[key] = (_content_hash(item), newest, library_key)

    def _forget(self, keys: Iterable[str]) -> None:
        """Drop the hashes of these items.

        The hashes of a removed item's children may stay: Plex never gives a
        rating key to another item, so they can never match anything again.
        """
        for key in keys:
            self._recent.pop(key, None)

    def _prune(self, library_key: str, floor: int) -> None:
        """Drop a library's hashes of items stamped before ``floor``."""
        self._recent = {
            key: entry
            for key, entry in self._recent.items()
            if entry[2] != library_key or entry[1] >= floor
        }

    # -- full ----------------------------------------------------------------------

    async def _full_library(
        self, run: _LibraryRun, progress: Mapping[int, int], old_cursor: int | None
    ) -> None:
        types = TYPES_BY_SECTION[run.type]
        # The type probes and the first watch probe at once (all before any page).
        probes = await _all(
            *(self._newest_and_total(run.key, plex_type) for plex_type in types),
            self._viewed_window(run, 0),
        )
        first = cast("tuple[int, int, int]", probes.pop())
        totals = [probe[1] for probe in probes]
        # The cursor may not pass the newest stamp on the server when this full
        # sync began: an item changed after its page was read is older than
        # whatever changed later, and only a cursor from before the start finds
        # it. Kept in the progress (pseudo-type 0) so that a resumed sync keeps
        # the stamp of the run that began it.
        stamp = progress.get(START_STAMP)
        if stamp is None:
            stamp = max((probe[0] for probe in probes), default=0)
            await self._db.call(_save_stamp, run.key, stamp)
        run.cap = stamp
        # The watch window as it is before the pages are read (see incremental):
        # the newest play, then the plays within the margin before it.
        run.window = (
            await self._viewed_window(run, first[2] - MARGIN) if first[2] else first
        )
        starts = _resume_offsets(types, progress)
        run.total = sum(totals)
        run.done = sum(
            min(start, total) for start, total in zip(starts, totals, strict=True)
        )
        self._progress(run)
        # Many items to write: the store drops its secondary indexes until the
        # end of the run (``_run`` builds them again; so does the next open).
        await self._db.call(_defer_indexes, run.total - run.done)
        todo = [
            (plex_type, start, total)
            for plex_type, start, total in zip(types, starts, totals, strict=True)
            if not (start >= total and start > 0)
        ]
        if todo:
            await self._pages(run, *todo[0], then=todo[1:])
        if old_cursor is not None and not progress:
            # A fresh full sync over a finished one: everything up to the old
            # cursor was already read, and has just been read again.
            run.newest = max(run.newest, old_cursor)
        counts = await self._db.call(_counts_of, run.key)
        for plex_type, total in zip(types, totals, strict=True):
            if counts.get(plex_type, 0) != total:
                await self._reconcile(run, plex_type)

    async def _newest_and_total(
        self, library_key: str, plex_type: int
    ) -> tuple[int, int]:
        """The newest ``updatedAt`` of a type and its ``totalSize``, in one request."""
        items, total = await self._client.section_metadata(
            library_key, plex_type, size=1, sort="updatedAt:desc", guids=False
        )
        return (_newest(items[0]) if items else 0), total

    async def _count(self, library_key: str, plex_type: int) -> int:
        _, total = await self._client.section_metadata(
            library_key, plex_type, size=0, sort=FULL_SORT, guids=False
        )
        return total

    async def _pages(
        self,
        run: _LibraryRun,
        plex_type: int,
        start: int,
        total: int,
        *,
        filters: Mapping[str, str | int] | None = None,
        sort: str = FULL_SORT,
        save_progress: bool = True,
        seen: list[int] | None = None,
        then: Sequence[tuple[int, int, int]] = (),
    ) -> list[str]:
        """Fetch pages ``IN_FLIGHT`` at a time, write them in order; returns the keys.

        ``then``: more ``(plex_type, start, total)`` lists to read after this one
        (a full sync's next types). Their first pages are fetched while the last
        pages of the one before are written, so the pipe never runs dry between
        types. Pages are written in the order they were asked for, and each
        type's own pages in order, so each type's saved offset is always the end
        of what was written of it. A list that grows after the next one was begun
        (items added meanwhile) gets its extra pages next, before the next list's.
        """
        client = self._client
        pending: deque[tuple[int, int, asyncio.Task[RawPage]]] = deque()
        # Per list: its type, the next offset to ask for and the size it has.
        lists = [[plex_type, start, total], *([*segment] for segment in then)]
        keys: list[str] = []

        def refill() -> None:
            while len(pending) < IN_FLIGHT:
                index = next(
                    (i for i, (_, ask, size) in enumerate(lists) if ask < size), None
                )
                if index is None:
                    return
                kind, ask, _ = lists[index]
                task = asyncio.ensure_future(
                    client.section_page(
                        run.key,
                        kind,
                        start=ask,
                        size=PAGE_SIZE,
                        filters=filters,
                        sort=sort,
                    )
                )
                pending.append((index, ask, task))
                lists[index][1] = ask + PAGE_SIZE

        try:
            refill()
            while pending:
                index, offset, task = pending.popleft()
                kind = lists[index][0]
                page = await task
                try:
                    items, page_total = page.decode()
                except PlexMalformedError:
                    # Not JSON (nor XML): read it again, with the client's retries.
                    items, page_total = await client.section_metadata(
                        run.key,
                        kind,
                        start=offset,
                        size=PAGE_SIZE,
                        filters=filters,
                        sort=sort,
                    )
                if not items:
                    lists[index][2] = offset  # the list shrank: nothing beyond
                else:
                    lists[index][2] = max(page_total, offset + len(items))
                refill()
                if not items:
                    continue
                run.newest = max(run.newest, _normalise(items, kind))
                keys.extend(str(item.get("ratingKey")) for item in items)
                if seen is not None:  # the plays of the items (see ``_viewed``)
                    seen.extend(
                        stamp
                        for item in items
                        if (stamp := as_int(item.get("lastViewedAt"))) is not None
                    )
                if save_progress:
                    upserted = await self._upsert(
                        run.key, items, (kind, offset + len(items))
                    )
                    self._remember(run.key, items, _floor(run))
                    self._record(run, upserted)
                else:
                    await self._write_changed(run, items)
                run.done += len(items)
                self._progress(run)
        finally:
            for _, _, task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(
                    *(task for _, _, task in pending), return_exceptions=True
                )
        return keys

    # -- incremental ---------------------------------------------------------------

    async def _incremental_library(
        self,
        run: _LibraryRun,
        section: Mapping[str, Any],
        cursor: int,
        last: Mapping[str, Any],
    ) -> None:
        since = cursor - MARGIN
        run.newest = cursor
        # The watch window first, before anything is read: a play after this
        # probe changes what the next run's probe sees, so it is never lost.
        stored = last.get("viewed_window")
        watch_since = int(stored[0]) if stored else 0
        window = run.window = await self._viewed_window(run, watch_since)
        stamp = section.get("contentChangedAt")
        if stamp is None or str(stamp) != str(last.get("content_changed_at")):
            for plex_type in TYPES_BY_SECTION[run.type]:
                await self._changed_of_type(run, plex_type, since)
        if not stored or list(window) != list(stored):
            run.window = await self._viewed(run, watch_since, window)

    async def _changed_of_type(
        self, run: _LibraryRun, plex_type: int, since: int
    ) -> None:
        async def total() -> tuple[list[dict[str, Any]], int]:
            # Counted (cheap for Plex); parents are read only on a difference.
            return [], await self._count(run.key, plex_type)

        async def mine() -> tuple[list[dict[str, Any]], int]:
            return [], await self._db.call(_count_of, run.key, plex_type)

        (
            (updated, n_updated),
            (added, n_added),
            (_, server_total),
            (_, before),
        ) = await _all(
            self._client.section_metadata(
                run.key,
                plex_type,
                size=PAGE_SIZE,
                filters={"updatedAt>>": since},
                sort="updatedAt",
            ),
            self._client.section_metadata(
                run.key,
                plex_type,
                size=PAGE_SIZE,
                filters={"addedAt>>": since},
                sort="addedAt",
            ),
            total(),
            mine(),
        )
        run.total += n_updated + n_added
        narrow = NARROW.get(plex_type)
        early: asyncio.Future[Any] | None = None
        if narrow is not None and before != server_total:
            # The counts will most likely still differ after the writes: read the
            # parents' counts (for the reconciliation) while the writes run.
            early = asyncio.ensure_future(self._tops(run, narrow[0], narrow[2]))
        try:
            for first, count, name in (
                (updated, n_updated, "updatedAt"),
                (added, n_added, "addedAt"),
            ):
                if first:
                    await self._write(run, plex_type, first)
                if count > len(first):
                    await self._pages(
                        run,
                        plex_type,
                        len(first),
                        count,
                        filters={f"{name}>>": since},
                        sort=name,
                        save_progress=False,
                    )
            if await self._db.call(_count_of, run.key, plex_type) != server_total:
                await self._reconcile(run, plex_type)
        finally:
            if early is not None:
                # Unused (the counts met) or failed: ``_tops`` reads again if asked.
                early.cancel()
                await asyncio.gather(early, return_exceptions=True)

    async def _write(
        self, run: _LibraryRun, plex_type: int | None, items: list[dict[str, Any]]
    ) -> None:
        run.newest = max(run.newest, _normalise(items, plex_type))
        await self._write_changed(run, items)
        run.done += len(items)
        self._progress(run)

    async def _write_changed(
        self, run: _LibraryRun, items: list[dict[str, Any]]
    ) -> None:
        """Upsert the items, except those exactly as they were last written.

        An incremental sync re-reads ``MARGIN`` seconds before its cursor, and a
        library scan often stamps thousands of items with the same second: those
        come back unchanged on every run. Their content hash (kept for items within
        the margin only) spares rewriting them; a changed byte writes the item.
        """
        recent = self._recent
        fresh = [
            item
            for item in items
            if (entry := recent.get(str(item.get("ratingKey")))) is None
            or entry[0] != _content_hash(item)
        ]
        _LOGGER.debug(
            "Library %s: %d of %d items read are new or changed",
            run.key,
            len(fresh),
            len(items),
        )
        if fresh:
            self._record(run, await self._upsert(run.key, fresh))
            self._remember(run.key, fresh, _floor(run))

    async def _viewed_window(
        self, run: _LibraryRun, since: int
    ) -> tuple[int, int, int]:
        """(since, how many played after it, the newest play) for the playable type."""
        items, total = await self._client.section_metadata(
            run.key,
            LEAF_TYPE[run.type],
            size=1,
            filters={"lastViewedAt>>": since},
            sort="lastViewedAt:desc",
            guids=False,
        )
        newest = as_int(items[0].get("lastViewedAt")) if items else None
        return since, total, newest or 0

    async def _viewed(
        self, run: _LibraryRun, since: int, probed: tuple[int, int, int]
    ) -> tuple[int, int, int]:
        """Items played since ``since``, and their parents (watched counts follow).

        Returns the window the next sync compares with: moved up to the newest
        play fetched (minus ``MARGIN``), counted from what was fetched, which is
        what the server held when it was read.
        """
        leaf = LEAF_TYPE[run.type]
        played: list[int] = []
        keys = await self._pages(
            run,
            leaf,
            0,
            PAGE_SIZE,
            filters={"lastViewedAt>>": since},
            sort="lastViewedAt",
            save_progress=False,
            seen=played,
        )
        if keys:
            parents = await self._db.call(_parent_keys, keys)
            if parents:
                items = await self._fetch_batches(sorted(parents))
                if items:
                    await self._write(run, None, items)
        if not played:
            return probed
        newest = max(played)
        after = newest - MARGIN
        return after, sum(1 for stamp in played if stamp > after), newest

    # -- deletions -----------------------------------------------------------------

    async def _reconcile(self, run: _LibraryRun, plex_type: int) -> None:
        """Make the mirror's keys of one type the server's: fetch missing, drop gone.

        Seasons, episodes, albums and tracks are narrowed down by their parents'
        counts first, so that only the children of the parents whose counts
        differ are read (``season.id=...``); other types (or too many suspects) by
        counts of ``addedAt`` ranges, so that only the ranges whose counts differ
        are read. Where neither can narrow, or neither finds the difference the
        totals show (an item without ``addedAt`` on the server, say), every key is
        read.
        """
        narrow = NARROW.get(plex_type)
        diff = None
        if narrow is not None:
            diff = await self._diff_by_parent(run, plex_type, *narrow)
        if diff is None or not (diff[0] or diff[1]):
            diff = await self._diff_by_range(run, plex_type)
        if diff is None or not (diff[0] or diff[1]):
            server = await self._server_keys(run.key, plex_type)
            local = await self._db.call(_rating_keys, run.key, plex_type)
            diff = (sorted(local - server), sorted(server - local))
        await self._apply_diff(run, *diff)

    async def _diff_by_parent(
        self, run: _LibraryRun, plex_type: int, top: int, link: str, attr: str
    ) -> tuple[list[str], list[str]] | None:
        """(gone, missing) keys of ``plex_type`` found through the tops' counts."""
        counts = await self._tops(run, top, attr)
        if counts is None:
            return None
        local = await self._db.call(_child_counts, run.key, plex_type, link)
        suspects = sorted(
            key for key, count in counts.items() if local.get(key, 0) != count
        )
        orphaned = [key for key in local if key not in counts]
        if len(suspects) > MAX_SUSPECTS:
            return None
        # Both sides of every suspect at once: one read of the mirror, and
        # listings of the type under ``BATCH_SIZE`` suspects each.
        mine = await self._db.call(
            _child_keys, run.key, plex_type, link, [*suspects, *orphaned]
        )
        server = await self._keys_under(run, plex_type, top, suspects)
        have = {key for parent in suspects for key in mine.get(parent, ())}
        gone = have - server
        for parent in orphaned:
            gone.update(mine.get(parent, ()))
        return sorted(gone), sorted(server - have)

    async def _keys_under(
        self, run: _LibraryRun, plex_type: int, top: int, parents: Sequence[str]
    ) -> set[str]:
        """The server's keys of a type under these parents (``season.id=1,2,...``).

        Plex filters a listing by a parent's rating key (``id``, prefixed by the
        parent's type, as python-plexapi's search builds it), so the children of
        a hundred seasons are one request, not a hundred ``/children``.
        """
        field = f"{TOP_KIND[top]}.id"
        keys: set[str] = set()

        await _all(
            *(
                self._listed_keys(
                    run.key,
                    plex_type,
                    {field: ",".join(parents[index : index + BATCH_SIZE])},
                    keys,
                )
                for index in range(0, len(parents), BATCH_SIZE)
            )
        )
        return keys

    async def _listed_keys(
        self,
        library_key: str,
        plex_type: int,
        filters: Mapping[str, str | int],
        keys: set[str],
    ) -> None:
        """Add the rating keys of one filtered listing to ``keys``, page after page.

        Keys only (no GUIDs); each page's dicts go as soon as it is read. Pages of
        one listing follow each other (the sync's limit bounds the listings run at
        once).
        """
        await self._read_listing(
            library_key,
            plex_type,
            filters,
            KEYS_ONLY,
            lambda items: keys.update(str(item.get("ratingKey")) for item in items),
        )

    async def _read_listing(
        self,
        library_key: str,
        plex_type: int,
        filters: Mapping[str, str | int] | None,
        shape: ListingShape,
        take: Callable[[list[dict[str, Any]]], object],
    ) -> None:
        """Every page of a keys (or counts) listing, one after the other, to ``take``.

        Pages of ``_keys_page``. A page is dropped once ``take`` has it; ``take``
        returning ``False`` ends the reading.
        """
        start = 0
        while True:
            items, total = await self._keys_page(
                library_key, plex_type, start, filters=filters, shape=shape
            )
            if take(items) is False:
                return
            start += len(items)
            if not items or start >= total:
                return

    async def _keys_page(
        self,
        library_key: str,
        plex_type: int,
        start: int,
        *,
        filters: Mapping[str, str | int] | None = None,
        shape: ListingShape = KEYS_ONLY,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a keys (or counts) listing, and its ``totalSize``.

        ``KEYS_PAGE_SIZE`` items in ``FULL_SORT`` order, without GUIDs; only the
        attributes of ``shape`` are asked for, and only keys and child counts are
        decoded (``listing.decode_keys``), whatever the server sends.
        """
        return await self._client.section_metadata(
            library_key,
            plex_type,
            start=start,
            size=KEYS_PAGE_SIZE,
            filters=filters,
            sort=FULL_SORT,
            guids=False,
            shape=shape,
            json_decoder=decode_keys,
        )

    async def _diff_by_range(
        self, run: _LibraryRun, plex_type: int
    ) -> tuple[list[str], list[str]] | None:
        """(gone, missing) keys of ``plex_type`` found through counts of time ranges.

        The mirror's items of the type are cut into up to ``RANGES`` ranges of
        ``addedAt`` (at least ``RANGE_MIN`` items each); the server counts each
        range (``X-Plex-Container-Size=0``), and only the ranges whose counts
        differ are read, keys only. ``None`` when the type is too small to gain,
        or an item lacks ``addedAt``. An item whose ``addedAt`` moved to another
        range makes both ranges differ, and is found in the other one: neither
        gone nor missing.
        """
        stamps = await self._db.call(_added_stamps, run.key, plex_type)
        if stamps is None or len(stamps) < 2 * RANGE_MIN:
            return None
        parts = min(RANGES, len(stamps) // RANGE_MIN)
        edges = sorted(
            {stamps[len(stamps) * index // parts][0] for index in range(1, parts)}
        )
        local = [0] * (len(edges) + 1)
        for stamp, _ in stamps:
            local[bisect_right(edges, stamp)] += 1
        bounds = [
            _range_filter(edges[index - 1] if index else None, edge)
            for index, edge in enumerate([*edges, None])
        ]

        async def count(filters: Mapping[str, int]) -> int:
            _, total = await self._client.section_metadata(
                run.key, plex_type, size=0, filters=filters, guids=False
            )
            return total

        totals = await _all(*(count(filters) for filters in bounds))
        differing = [
            index for index, total in enumerate(totals) if total != local[index]
        ]
        server: set[str] = set()
        await _all(
            *(
                self._listed_keys(run.key, plex_type, bounds[index], server)
                for index in differing
            )
        )
        wanted = set(differing)
        mine = {key for stamp, key in stamps if bisect_right(edges, stamp) in wanted}
        every = {key for _, key in stamps}
        return sorted(mine - server), sorted(server - every)

    async def _tops(
        self, run: _LibraryRun, top: int, attr: str
    ) -> dict[str, int] | None:
        """The tops' counts of one attribute, read once per run (``None``: absent)."""
        if (top, attr) in run.tops:
            return run.tops[top, attr]
        lock = run.locks.setdefault((top, attr), asyncio.Lock())
        async with lock:
            if (top, attr) not in run.tops:
                run.tops[top, attr] = await self._top_counts(run.key, top, attr)
        return run.tops[top, attr]

    async def _top_counts(
        self, library_key: str, plex_type: int, attr: str
    ) -> dict[str, int] | None:
        """Key -> ``attr`` (childCount, leafCount) of every show or artist.

        ``None`` when an item lacks it.
        """
        counts: dict[str, int] = {}
        complete = True

        def take(items: list[dict[str, Any]]) -> bool:
            nonlocal complete
            for item in items:
                count = as_int(item.get(attr))
                if count is None:
                    complete = False
                    return False
                counts[str(item.get("ratingKey"))] = count
            return True

        await self._read_listing(
            library_key,
            plex_type,
            None,
            ListingShape(("ratingKey", attr), ITEM_ELEMENTS),
            take,
        )
        return counts if complete else None

    async def _apply_diff(
        self, run: _LibraryRun, gone: list[str], missing: list[str]
    ) -> None:
        """Remove what the server lost, fetch what the mirror lacks; refresh parents."""
        parents: set[str] = set()
        read: set[str] = set()  # parents already read again
        if gone:
            # Read them once more: a key can slip between pages while items change.
            still = await self._fetch_batches(gone)
            if still:
                await self._write(run, None, still)
            present = {str(item.get("ratingKey")) for item in still}
            really_gone = [key for key in gone if key not in present]
            if really_gone:
                read = await self._db.call(_parent_keys, really_gone)
                read -= set(really_gone)
                self._forget(really_gone)
                # Their parents' counts changed: read them while the rows go.
                fetching = asyncio.ensure_future(self._fetch_batches(sorted(read)))
                try:
                    run.removed += await self._db.call(_remove, really_gone)
                    refreshed = await fetching
                finally:
                    fetching.cancel()
                    await asyncio.gather(fetching, return_exceptions=True)
                if refreshed:
                    await self._write(run, None, refreshed)
        if missing:
            items = await self._fetch_batches(missing)
            if items:
                await self._write(run, None, items)
                parents |= {
                    str(value)
                    for item in items
                    for value in (
                        item.get("parentRatingKey"),
                        item.get("grandparentRatingKey"),
                    )
                    if value is not None
                }
        parents -= read
        if parents:
            # Their child and leaf counts changed with them.
            refreshed = await self._fetch_batches(sorted(parents))
            if refreshed:
                await self._write(run, None, refreshed)

    async def _server_keys(self, library_key: str, plex_type: int) -> set[str]:
        """Every rating key of a type on the server (pages fetched ``IN_FLIGHT`` at once)."""
        first, total = await self._keys_page(library_key, plex_type, 0)
        keys = {str(item.get("ratingKey")) for item in first}

        async def page(offset: int) -> None:
            items, _ = await self._keys_page(library_key, plex_type, offset)
            # Keep the keys only: a page's dicts go as soon as it is read.
            keys.update(str(item.get("ratingKey")) for item in items)

        await _all(
            *(page(offset) for offset in range(len(first), total, KEYS_PAGE_SIZE))
        )
        return keys

    async def _fetch_batches(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """Items by key, ``BATCH_SIZE`` per request, ``IN_FLIGHT`` requests at once."""

        async def batch(chunk: Sequence[str]) -> list[dict[str, Any]]:
            return await self._client.metadata_batch(chunk)

        found: list[dict[str, Any]] = []
        for items in await _all(
            *(
                batch(keys[index : index + BATCH_SIZE])
                for index in range(0, len(keys), BATCH_SIZE)
            )
        ):
            found.extend(items)
        return found

    # -- the end of a library ------------------------------------------------------

    async def _finish_library(
        self, run: _LibraryRun, section: Mapping[str, Any], duration: float
    ) -> None:
        """Save the cursor and the last result after everything was committed.

        The result also keeps what the next incremental compares with: the
        section's change stamp and the watch window probed before the reads.
        """
        cursor = run.newest if run.cap is None else min(run.newest, run.cap)
        self._prune(run.key, cursor - MARGIN)
        window = run.window or (0, 0, 0)
        result = {
            "kind": run.kind,
            "added": run.added,
            "updated": run.updated,
            "removed": run.removed,
            "duration": round(duration, 3),
            "content_changed_at": section.get("contentChangedAt"),
            "viewed_window": list(window),
        }
        await self._db.call(
            lambda store: store.finish_library(run.key, cursor=cursor, result=result)
        )
        run.done = max(run.done, run.total)
        self._progress(run)


async def _all[T](*aws: Awaitable[T]) -> list[T]:
    """``asyncio.gather``, except that when one fails the others are cancelled.

    (``gather`` leaves them running, requests in flight after the sync gave up.)
    The first error is raised as it is, not wrapped in an exception group.
    """
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _floor(run: _LibraryRun) -> int:
    """Items stamped after this are re-read by the next sync (margin or watch window)."""
    newest = run.newest if run.cap is None else min(run.newest, run.cap)
    floor = newest - MARGIN
    if run.window is not None:
        floor = min(floor, run.window[0])
    return floor


def _range_filter(after: int | None, before: int | None) -> dict[str, int]:
    """Plex filters for ``after <= addedAt < before`` (``>>=`` and ``<<=`` are strict)."""
    filters: dict[str, int] = {}
    if after is not None:
        filters["addedAt>>"] = after - 1
    if before is not None:
        filters["addedAt<<"] = before
    return filters


def _resume_offsets(types: Sequence[int], progress: Mapping[int, int]) -> list[int]:
    """Where each type starts: its saved offset; types before a saved one are done."""
    if not progress:
        return [0] * len(types)
    last = max(
        (index for index, plex_type in enumerate(types) if plex_type in progress),
        default=-1,
    )
    starts = []
    for index, plex_type in enumerate(types):
        if plex_type in progress:
            starts.append(progress[plex_type])
        elif index < last:
            starts.append(1 << 62)  # finished before the interruption
        else:
            starts.append(0)
    return starts


# -- store calls (run on the store's thread; methods looked up on the instance) ----


def _libraries(store: MirrorStore) -> list[Any]:
    return store.libraries()


def _defer_indexes(store: MirrorStore, incoming: int) -> bool:
    return store.defer_indexes(incoming)


def _restore_indexes(store: MirrorStore) -> None:
    store.restore_indexes()


def _save_stamp(store: MirrorStore, library_key: str, stamp: int) -> None:
    store.upsert_items(library_key, [], progress=(START_STAMP, stamp))


def _set_libraries(
    store: MirrorStore, sections: Sequence[Mapping[str, Any]]
) -> list[str]:
    return store.set_libraries(sections)


def _sync_state(store: MirrorStore, library_key: str) -> Any:
    return store.sync_state(library_key)


def _counts_of(store: MirrorStore, library_key: str) -> dict[int, int]:
    return store.counts().get(library_key, {})


def _added_stamps(
    store: MirrorStore, library_key: str, plex_type: int
) -> list[tuple[int, str]] | None:
    """(addedAt, rating key) of a type, oldest first; ``None`` if one has no addedAt.

    Reads the store's ``items`` table directly (``added_at``): the store has no
    method for this.
    """
    rows = store.connection.execute(
        "SELECT added_at, rating_key FROM items WHERE library_key = ? AND type = ? "
        "ORDER BY added_at",
        (library_key, plex_type),
    ).fetchall()
    if any(stamp is None for stamp, _ in rows):
        return None
    return [(int(stamp), str(key)) for stamp, key in rows]


def _count_of(store: MirrorStore, library_key: str, plex_type: int) -> int:
    return store.count(library_key, plex_type)


def _rating_keys(store: MirrorStore, library_key: str, plex_type: int) -> set[str]:
    return store.rating_keys(library_key, plex_type)


def _remove(store: MirrorStore, keys: Sequence[str]) -> int:
    return store.remove_items(keys)


_LINKS: Final = frozenset({"parent_key", "grandparent_key"})


def _child_counts(
    store: MirrorStore, library_key: str, plex_type: int, link: str
) -> dict[str, int]:
    """Parent (or grandparent) key -> how many items of a type the mirror has under it.

    Reads the store's ``items`` table directly (its ``parent_key`` and
    ``grandparent_key`` columns): the store has no aggregate of its own for this.
    By parent, the store's ``items_children`` index covers it (``NARROW`` links
    by parent only).
    """
    if link not in _LINKS:
        raise ValueError(link)
    rows = store.connection.execute(
        f"SELECT {link}, COUNT(*) FROM items WHERE library_key = ? AND type = ? "  # noqa: S608 - link is one of two column names
        f"AND {link} IS NOT NULL GROUP BY {link}",
        (library_key, plex_type),
    )
    return {str(key): count for key, count in rows}


def _child_keys(
    store: MirrorStore,
    library_key: str,
    plex_type: int,
    link: str,
    parents: Sequence[str],
) -> dict[str, set[str]]:
    """Parent (or grandparent) -> the keys of a type the mirror has under it.

    Found through the parents (the ``+`` keeps SQLite from scanning the whole
    library type through the ``(library_key, type)`` index instead: measured,
    13 ms a parent on the large library against well under one).
    """
    if link not in _LINKS:
        raise ValueError(link)
    rows = store.connection.execute(
        f"SELECT {link}, rating_key FROM items "  # noqa: S608 - link is one of two column names
        f"WHERE {link} IN (SELECT value FROM json_each(?)) "
        "AND +library_key = ? AND +type = ?",
        (orjson.dumps(list(parents)).decode(), library_key, plex_type),
    )
    found: dict[str, set[str]] = {}
    for parent, key in rows:
        found.setdefault(str(parent), set()).add(str(key))
    return found


def _parent_keys(store: MirrorStore, keys: Sequence[str]) -> set[str]:
    """The parents and grandparents of items (their watched counts follow them)."""
    parents: set[str] = set()
    for item in store.items(keys):
        for key in (item.parent_key, item.grandparent_key):
            if key:
                parents.add(str(key))
    return parents
