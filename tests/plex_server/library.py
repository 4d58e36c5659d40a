"""The emulated server's library: lookups, queries and changes (and its routes).

``build(preset, seed=, clock=)`` generates a world (``generator``) and wraps it in a
``Library``. Other parts of the emulator use its public methods:

- lookups: ``get`` / ``find`` (by ratingKey), ``children``, ``section_of``,
  ``section``, ``visible_sections``;
- changes, as Plex would make them: ``add_item``, ``update_item``, ``delete_item``
  (these bump ``updatedAt`` and publish ``timeline`` notifications),
  ``mark_watched``, ``mark_unwatched``, ``set_progress`` (watch state: no
  ``updatedAt`` change, no notification, like Plex), ``refresh_section``
  (``activity`` notifications);
- rendering: ``item_node`` (a fresh ``Node`` to embed, e.g. in sessions or play
  queues) and ``fragment`` (the cached list rendering).

Notifications go through the publisher that ``add_routes`` binds
(``emu.notifications.publish(type, key, entries)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
import json
import random
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from .generator import PRESETS, ClockLike, SharedUser, World, generate
from .items import (
    AUDIO_PROFILES,
    CHILD_KIND,
    EXTRA_KEY_BASE,
    GENRE_TAG_BASE,
    GENRES,
    IDENTIFIER,
    MUSIC_GENRE_TAG_BASE,
    MUSIC_GENRES,
    PERSON_TAG_BASE,
    SECTION_KINDS,
    VIDEO_PROFILES,
    Collection,
    Item,
    Playlist,
    Renderer,
    Section,
    sort_title,
)
from .library_query import Condition, Matcher, SortKey, StampIndex, sort_items
from .node import Node

if TYPE_CHECKING:
    from .shaping import ResponseShape

__all__ = ["PRESETS", "Library", "LibraryError", "add_routes", "build"]

# TimelineEntry ``state`` codes (python-plexapi's AlertListener documents them:
# 0 created, 1 progress, 2 matching, 3 downloading, 4 loading, 5 processed, 9 deleted).
STATE_CREATED = 0
STATE_PROCESSED = 5
STATE_DELETED = 9
# Plex keeps no resume point for positions in the first minute, and counts an item
# as played past 90% of it.
MIN_RESUME_OFFSET = 60_000
WATCHED_FRACTION = 0.9
QUERY_CACHE_SIZE = 128

Publisher = Callable[[str, str, list[dict[str, Any]]], None]
TimelineHook = Callable[[Item, str, int, str | None], None]

# Plex attribute name -> (Item slot, converter) for update_item / add_item.
_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "title": ("title", str),
    "titleSort": ("title_sort", str),
    "summary": ("summary", str),
    "tagline": ("tagline", str),
    "studio": ("studio", str),
    "contentRating": ("content_rating", str),
    "originallyAvailableAt": ("originally_available_at", str),
    "year": ("year", int),
    "index": ("index", int),
    "duration": ("duration", int),
    "rating": ("rating", float),
    "audienceRating": ("audience_rating", float),
    "userRating": ("user_rating", float),
    "addedAt": ("added_at", int),
    "updatedAt": ("updated_at", int),
    "viewCount": ("view_count", int),
    "viewOffset": ("view_offset", int),
    "lastViewedAt": ("last_viewed_at", int),
}


class LibraryError(LookupError):
    """A ratingKey or section that does not exist, or a change that cannot be made."""


class Users(Protocol):
    """What ``visible_sections`` needs of a user (``auth.PlexUser``)."""

    @property
    def section_ids(self) -> frozenset[int] | None:
        """The sections the user may see (``None``: all of them)."""


class Library:
    """Sections, metadata items, collections and playlists of one server."""

    def __init__(self, world: World, clock: ClockLike, *, seed: int = 0) -> None:
        self.clock = clock
        self.sections: dict[int, Section] = {
            section.id: section for section in world.sections
        }
        self.items: dict[int, Item] = world.items
        self.collections: dict[int, Collection] = world.collections
        self.playlists: dict[int, Playlist] = world.playlists
        self.shared_users: list[SharedUser] = world.shared_users
        self.people = world.people
        self.renderer = Renderer(world.people, world.tag_counts)
        self.generation = 0
        # Called for each /:/timeline report: (item, state, time in ms, client id).
        self.timeline_hooks: list[TimelineHook] = []
        self._next_key = world.next_rating_key
        self._rng = random.Random(f"changes:{seed}")
        self._publish: Publisher | None = None
        self._queries: dict[tuple[Any, ...], tuple[int, list[Item]]] = {}
        self._stamp_index: dict[
            tuple[int, str | None, str], tuple[int, StampIndex]
        ] = {}

    def __repr__(self) -> str:
        """A short description for debugging."""
        return f"Library({len(self.items)} items in {len(self.sections)} sections)"

    # -- wiring ------------------------------------------------------------------------

    def bind(self, publish: Publisher) -> None:
        """Send notifications through ``publish(type, key, entries)`` from now on."""
        self._publish = publish

    def publish(
        self, notification_type: str, key: str, entries: list[dict[str, Any]]
    ) -> None:
        """Publish one notification (dropped while nothing is bound)."""
        if self._publish is not None and entries:
            self._publish(notification_type, key, entries)

    def prerender(self) -> None:
        """Render every item's list forms (XML and JSON) now, so pages are joins."""
        for item in self.items.values():
            self.renderer.prerender(item)

    # -- lookups -----------------------------------------------------------------------

    def find(self, rating_key: int | str) -> Item | None:
        """The item with this ratingKey, or ``None``."""
        try:
            return self.items.get(int(rating_key))
        except TypeError, ValueError:
            return None

    def get(self, rating_key: int | str) -> Item:
        """The item with this ratingKey; ``LibraryError`` if there is none."""
        item = self.find(rating_key)
        if item is None:
            raise LibraryError(f"no item with ratingKey {rating_key!r}")
        return item

    def section(self, section_id: int | str) -> Section:
        """The section with this id; ``LibraryError`` if there is none."""
        try:
            return self.sections[int(section_id)]
        except KeyError, TypeError, ValueError:
            raise LibraryError(f"no section {section_id!r}") from None

    def section_of(self, item: Item | int | str) -> Section:
        """The section an item (or ratingKey) belongs to."""
        return (item if isinstance(item, Item) else self.get(item)).section

    def children(self, item: Item | int | str) -> list[Item]:
        """The children of an item, in index order (empty for leaves)."""
        target = item if isinstance(item, Item) else self.get(item)
        return sorted(
            target.children or (),
            key=lambda child: (child.index or 0, child.rating_key),
        )

    def leaves(self, item: Item | int | str) -> list[Item]:
        """The playable items under an item, in order (the item itself for a leaf)."""
        target = item if isinstance(item, Item) else self.get(item)
        return sort_items(target.leaves(), ())

    def visible_sections(self, user: Users | None = None) -> list[Section]:
        """The sections a user may see (all of them for the owner or ``None``)."""
        allowed = None if user is None else user.section_ids
        return [
            section
            for section in self.sections.values()
            if allowed is None or section.id in allowed
        ]

    def collection(self, rating_key: int | str) -> Collection:
        """A collection by ratingKey; ``LibraryError`` if there is none."""
        try:
            return self.collections[int(rating_key)]
        except KeyError, TypeError, ValueError:
            raise LibraryError(f"no collection {rating_key!r}") from None

    def playlist(self, rating_key: int | str) -> Playlist:
        """A playlist by ratingKey; ``LibraryError`` if there is none."""
        try:
            return self.playlists[int(rating_key)]
        except KeyError, TypeError, ValueError:
            raise LibraryError(f"no playlist {rating_key!r}") from None

    def count(self, kind: str | None = None) -> int:
        """How many items (of one kind) the library holds."""
        if kind is None:
            return len(self.items)
        return sum(
            len(section.by_kind.get(kind, ())) for section in self.sections.values()
        )

    def tag_title(self, field: str, tag_id: str) -> str:
        """The display name of a tag id (genre, person, collection, ...)."""
        try:
            number = int(tag_id)
        except ValueError:
            return tag_id
        if field == "collection":
            collection = self.collections.get(number)
            return collection.title if collection else tag_id
        if field == "genre":
            if number >= MUSIC_GENRE_TAG_BASE:
                return (
                    MUSIC_GENRES[number - MUSIC_GENRE_TAG_BASE]
                    if number - MUSIC_GENRE_TAG_BASE < len(MUSIC_GENRES)
                    else tag_id
                )
            return (
                GENRES[number - GENRE_TAG_BASE]
                if 0 <= number - GENRE_TAG_BASE < len(GENRES)
                else tag_id
            )
        person = number - PERSON_TAG_BASE
        return self.people[person] if 0 <= person < len(self.people) else tag_id

    # -- queries -----------------------------------------------------------------------

    def query(
        self,
        section: Section,
        kind: str | None = None,
        *,
        sort: tuple[SortKey, ...] = (),
        conditions: tuple[Condition, ...] = (),
        limit: int | None = None,
    ) -> list[Item]:
        """The items of a section of one kind (top level by default), filtered and sorted.

        Results are cached until the library changes.
        """
        return self.query_sections(
            (section,), kind, sort=sort, conditions=conditions, limit=limit
        )

    def query_sections(
        self,
        sections: Sequence[Section],
        kind: str | None = None,
        *,
        sort: tuple[SortKey, ...] = (),
        conditions: tuple[Condition, ...] = (),
        limit: int | None = None,
        ordered: bool = True,
    ) -> list[Item]:
        """``query`` over several sections as one list (``/library/all``).

        Without ``kind`` each section gives its top level; the items of all the
        sections are filtered, then sorted (and limited) together. Results are
        cached until the library changes. ``ordered=False`` (without ``limit``)
        skips the sort, for answers that only count (``X-Plex-Container-Size=0``),
        as Plex counts without ordering.
        """
        ordered = ordered or limit is not None
        cache_key = (
            tuple(s.id for s in sections),
            kind,
            sort,
            conditions,
            limit,
            ordered,
        )
        cacheable = not any(condition.relative for condition in conditions)
        cached = self._queries.get(cache_key) if cacheable else None
        if cached is not None and cached[0] == self.generation:
            return cached[1]
        candidates = [
            item
            for section in sections
            for item in (
                section.top_level() if kind is None else section.by_kind.get(kind, [])
            )
        ]
        if conditions:
            single = kind is not None and len(sections) == 1
            matcher = Matcher(
                conditions,
                self.clock.timestamp(),
                self.tag_title,
                stamps=self._stamp_indexes(sections[0], kind) if single else None,
            )
            candidates = matcher.select(candidates)
        result = sort_items(candidates, sort) if ordered else candidates
        if limit is not None:
            result = result[:limit]
        if cacheable:
            if len(self._queries) >= QUERY_CACHE_SIZE:
                self._queries.clear()
            self._queries[cache_key] = (self.generation, result)
        return result

    def _stamp_indexes(
        self, section: Section, kind: str | None
    ) -> Callable[[str], StampIndex]:
        """Per stamp, the index of the section's items of a kind (kept per generation)."""

        def index(attr: str) -> StampIndex:
            key = (section.id, kind, attr)
            cached = self._stamp_index.get(key)
            if cached is None or cached[0] != self.generation:
                items = section.by_kind.get(kind or "", [])
                cached = (self.generation, StampIndex(items, attr))
                self._stamp_index[key] = cached
            return cached[1]

        return index

    def search(self, text: str, sections: Iterable[Section]) -> dict[str, list[Item]]:
        """Items whose title contains ``text``, per kind; best matches first."""
        needle = text.casefold().strip()
        found: dict[str, list[Item]] = {}
        if not needle:
            return found
        for section in sections:
            for kind in section.kinds:
                if kind == "season":
                    continue
                for item in section.by_kind[kind]:
                    if needle in item.title.casefold():
                        found.setdefault(item.kind, []).append(item)
        for kind, items in found.items():
            found[kind] = sorted(
                items,
                key=lambda item: (
                    not item.title.casefold().startswith(needle),
                    item.sort_key,
                    item.rating_key,
                ),
            )
        return found

    def recently_added(self, sections: Iterable[Section]) -> list[Item]:
        """Movies, seasons, albums and photos, newest first (as Plex groups them)."""
        grouped: list[tuple[int, Item]] = []
        for section in sections:
            kind = {
                "movie": "movie",
                "show": "season",
                "artist": "album",
                "photo": "photo",
            }[section.type]
            for item in section.by_kind[kind]:
                newest = max(
                    (leaf.added_at for leaf in item.leaves()), default=item.added_at
                )
                grouped.append((newest, item))
        grouped.sort(key=lambda pair: (-pair[0], -pair[1].rating_key))
        return [item for _, item in grouped]

    def on_deck(self, sections: Iterable[Section]) -> list[Item]:
        """Items in progress and the next episode of shows being watched, latest first."""
        deck: list[tuple[int, Item]] = []
        for section in sections:
            if section.type == "movie":
                deck += [
                    (movie.last_viewed_at or 0, movie)
                    for movie in section.by_kind["movie"]
                    if movie.view_offset
                ]
            elif section.type == "show":
                for show in section.by_kind["show"]:
                    entry = self._next_episode(show)
                    if entry is not None:
                        deck.append(entry)
        deck.sort(key=lambda pair: (-pair[0], pair[1].rating_key))
        return [item for _, item in deck]

    @staticmethod
    def _next_episode(show: Item) -> tuple[int, Item] | None:
        episodes = sorted(
            show.leaves(),
            key=lambda e: (e.parent.index if e.parent else 0, e.index or 0),
        )
        in_progress = [episode for episode in episodes if episode.view_offset]
        if in_progress:
            latest = max(in_progress, key=lambda episode: episode.last_viewed_at or 0)
            return latest.last_viewed_at or 0, latest
        watched = [
            position for position, episode in enumerate(episodes) if episode.view_count
        ]
        if not watched or watched[-1] + 1 >= len(episodes):
            return None
        last = episodes[watched[-1]]
        return last.last_viewed_at or 0, episodes[watched[-1] + 1]

    # -- rendering ---------------------------------------------------------------------

    def item_node(
        self,
        item: Item | int | str,
        *,
        detail: bool = True,
        guids: bool = True,
        shape: ResponseShape | None = None,
    ) -> Node:
        """A fresh ``Node`` of an item (``Media``/``Part``/``Stream`` in detail).

        The node is the caller's to change (e.g. to add stream decisions for a
        session). ``shape``: trimmed as a request asked (``shaping``).
        """
        target = item if isinstance(item, Item) else self.get(item)
        return self.renderer.node(target, detail=detail, guids=guids, shape=shape)

    def fragment(
        self,
        item: Item,
        *,
        guids: bool = False,
        extra: dict[str, Any] | None = None,
        streams: bool = False,
        shape: ResponseShape | None = None,
    ) -> Node:
        """The list rendering of an item, as a node for ``media_container``.

        ``guids`` adds the ``Guid`` children (``includeGuids=1``); ``extra`` adds
        attributes (e.g. ``playlistItemID``) to this rendering only. Without
        ``streams`` or ``shape`` the rendering is the cached one; with either
        (short lists: children, playlist items; a request's ``includeFields``...)
        it is built afresh, with the media's ``Stream``s or as trimmed.
        """
        if streams or shape is not None:
            node = self.renderer.node(
                item, guids=guids, shared=True, streams=streams, shape=shape
            )
            extra = extra or {}
            node.attrs.update(extra if shape is None else shape.fields(extra))
            return node
        return ItemFragment(self.renderer, item, guids=guids, extra=extra)

    def extra_owner(self, rating_key: int | str) -> Item | None:
        """The movie or show whose trailer has this ratingKey (see ``EXTRA_KEY_BASE``)."""
        try:
            key = int(rating_key)
        except TypeError, ValueError:
            return None
        owner = self.items.get(key - EXTRA_KEY_BASE) if key > EXTRA_KEY_BASE else None
        return owner if owner is not None and owner.kind in ("movie", "show") else None

    # -- changes -----------------------------------------------------------------------

    def add_item(
        self,
        section_id: int | str,
        title: str,
        *,
        kind: str | None = None,
        parent: int | str | None = None,
        **fields: Any,
    ) -> Item:
        """Add an item as a scan would, and announce it (timeline states 0 then 5).

        ``kind`` defaults to the section's top kind, or the child kind of ``parent``
        (a ratingKey: a show for a season, a season for an episode, an artist for an
        album, an album for a track, a photo album for a photo). ``fields`` use
        Plex's attribute names (``year``, ``duration``, ``summary``, ``index``,
        ``originallyAvailableAt``, ``contentRating``, ``studio``, ``rating``, ...);
        ``genres`` takes genre names. Missing fields get plausible values.
        """
        section = self.section(section_id)
        parent_item = None if parent is None else self.get(parent)
        if parent_item is not None:
            kind = kind or CHILD_KIND.get(parent_item.kind)
            if (
                parent_item.section is not section
                or CHILD_KIND.get(parent_item.kind) != kind
            ):
                raise LibraryError(f"a {kind} cannot be a child of {parent_item!r}")
        kind = kind or section.top_kind
        if kind not in SECTION_KINDS[section.type]:
            raise LibraryError(f"section {section.title!r} holds no {kind}")
        if parent_item is None and kind not in (section.top_kind, "photo"):
            raise LibraryError(f"a {kind} needs a parent")
        now = self.clock.timestamp()
        item = Item(
            self._take_key(),
            kind,
            section,
            title,
            parent=parent_item,
            added_at=now,
            guid_hex=f"{self._rng.getrandbits(96):024x}",
        )
        self._fill_defaults(item)
        self._apply(item, {"title": item.title, **fields})
        self.items[item.rating_key] = item
        section.by_kind[kind].append(item)
        if parent_item is not None:
            assert parent_item.children is not None
            parent_item.children.append(item)
        self._changed(item, now)
        self.publish(
            "timeline",
            "TimelineEntry",
            [self._timeline_entry(item, STATE_CREATED, "created")],
        )
        self.publish(
            "timeline", "TimelineEntry", [self._timeline_entry(item, STATE_PROCESSED)]
        )
        return item

    def update_item(self, rating_key: int | str, **fields: Any) -> Item:
        """Change an item's metadata, bump ``updatedAt`` and announce it (state 5).

        ``fields`` use Plex's attribute names; unknown names become extra
        attributes, and ``None`` removes one.
        """
        item = self.get(rating_key)
        now = self.clock.timestamp()
        item.updated_at = now
        self._apply(item, fields)
        self._changed(item, now)
        self.publish(
            "timeline", "TimelineEntry", [self._timeline_entry(item, STATE_PROCESSED)]
        )
        return item

    def delete_item(self, rating_key: int | str) -> list[Item]:
        """Remove an item and everything under it; announce each (timeline state 9).

        Returns the removed items, deepest first.
        """
        item = self.get(rating_key)
        removed = list(item.walk())[::-1]
        for gone in removed:
            del self.items[gone.rating_key]
            gone.section.by_kind[gone.kind].remove(gone)
        if item.parent is not None:
            assert item.parent.children is not None
            item.parent.children.remove(item)
        gone_keys = {gone.rating_key for gone in removed}
        for collection in item.section.collections:
            collection.items = [
                member
                for member in collection.items
                if member.rating_key not in gone_keys
            ]
        for playlist in self.playlists.values():
            playlist.entries = [
                (entry, member)
                for entry, member in playlist.entries
                if member.rating_key not in gone_keys
            ]
        now = self.clock.timestamp()
        if item.parent is not None:
            item.parent.invalidate()
        self._bump(item.section, now)
        self.publish(
            "timeline",
            "TimelineEntry",
            [self._timeline_entry(gone, STATE_DELETED, "deleted") for gone in removed],
        )
        return removed

    def mark_watched(self, rating_key: int | str) -> Item:
        """``/:/scrobble``: every leaf under the item gets one more play."""
        item = self.get(rating_key)
        now = self.clock.timestamp()
        for leaf in item.leaves():
            leaf.view_count += 1
            leaf.view_offset = 0
            leaf.last_viewed_at = now
            leaf.invalidate()
        self.generation += 1
        return item

    def mark_unwatched(self, rating_key: int | str) -> Item:
        """``/:/unscrobble``: every leaf under the item is unplayed again."""
        item = self.get(rating_key)
        for leaf in item.leaves():
            leaf.view_count = 0
            leaf.view_offset = 0
            leaf.last_viewed_at = None
            leaf.invalidate()
        self.generation += 1
        return item

    def set_progress(self, rating_key: int | str, offset: int) -> Item:
        """``/:/timeline``: a client played a leaf up to ``offset`` ms.

        Past 90% the item counts as played (viewCount + 1, no resume point);
        positions in the first minute keep no resume point, as in Plex.
        """
        item = self.get(rating_key)
        if item.children is not None:
            raise LibraryError(f"{item!r} is not playable")
        now = self.clock.timestamp()
        duration = item.duration or 0
        if duration and offset >= duration * WATCHED_FRACTION:
            # Once per playthrough: while it still had a resume point, or never played.
            if item.view_offset or not item.view_count:
                item.view_count += 1
            item.view_offset = 0
        else:
            item.view_offset = offset if offset > MIN_RESUME_OFFSET else 0
        item.last_viewed_at = now
        item.invalidate()
        self.generation += 1
        return item

    def refresh_section(self, section_id: int | str, *, user_id: int = 1) -> Section:
        """Scan a section, instantly, like a scan that finds nothing new.

        Publishes ``activity`` notifications (started, updated, ended, each with an
        ``Activity`` shaped as the spec's ``/activities`` schema) and the ``status``
        "Library scan complete"; ``scannedAt`` moves to now.
        """
        section = self.section(section_id)
        uuid = f"{self._rng.getrandbits(128):032x}"
        activity: dict[str, Any] = {
            "uuid": uuid,
            "type": "library.update.section",
            "cancellable": False,
            "userID": user_id,
            "title": f"Scanning {section.title}",
            "subtitle": "",
            "progress": 0,
            "Context": {
                "accessible": True,
                "exists": True,
                "librarySectionID": str(section.id),
                "refreshed": False,
            },
        }
        section.refreshing = True
        self.publish(
            "activity",
            "ActivityNotification",
            [{"event": "started", "uuid": uuid, "Activity": dict(activity)}],
        )
        activity.update(progress=50, subtitle=section.location.path)
        self.publish(
            "activity",
            "ActivityNotification",
            [{"event": "updated", "uuid": uuid, "Activity": dict(activity)}],
        )
        section.refreshing = False
        section.scanned_at = self.clock.timestamp()
        activity.update(
            progress=100, Context={**activity["Context"], "refreshed": True}
        )
        self.publish(
            "activity",
            "ActivityNotification",
            [{"event": "ended", "uuid": uuid, "Activity": dict(activity)}],
        )
        self.publish(
            "status",
            "StatusNotification",
            [
                {
                    "title": "Library scan complete",
                    "description": "",
                    "notificationName": "LIBRARY_UPDATE",
                }
            ],
        )
        return section

    # -- helpers -----------------------------------------------------------------------

    def _take_key(self) -> int:
        key = self._next_key
        self._next_key += 1
        return key

    def _fill_defaults(self, item: Item) -> None:
        rng, parent = self._rng, item.parent
        year = (parent.year if parent is not None else None) or 2025
        item.year = year
        item.originally_available_at = f"{year:04d}-01-01"
        siblings = len(parent.children or ()) if parent is not None else 0
        item.index = siblings + 1 if parent is not None else None
        item.external_ids = (
            rng.randint(10_000, 9_999_999),
            rng.randint(100, 999_999),
            rng.randint(1_000, 399_999),
        )
        match item.kind:
            case "movie" | "episode":
                item.duration = (100 if item.kind == "movie" else 45) * 60_000
                item.media_profile = 1
                item.media_size = VIDEO_PROFILES[1].bitrate * item.duration // 8
                item.subtitles = 1
            case "track":
                item.duration = 215_000
                item.media_size = AUDIO_PROFILES[0].bitrate * item.duration // 8
                item.external_ids = None
            case "season":
                item.title = item.title or f"Season {item.index}"
            case "artist" | "album" | "photoalbum" | "photo":
                item.external_ids = None
                item.media_size = 2_000_000 if item.kind == "photo" else 0

    def _apply(self, item: Item, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            if name == "genres":
                names = MUSIC_GENRES if item.section.type == "artist" else GENRES
                item.genres = tuple(
                    names.index(genre) for genre in value if genre in names
                )
            elif name in _FIELDS:
                slot, convert = _FIELDS[name]
                setattr(item, slot, None if value is None else convert(value))
            elif value is None:
                if item.extra:
                    item.extra.pop(name, None)
            else:
                item.extra = {**(item.extra or {}), name: value}
        if "title" in fields and "titleSort" not in fields:
            # Plex sorts by the title without its article unless told otherwise.
            sortable = sort_title(item.title)
            keep = sortable != item.title and item.kind not in ("episode", "track")
            item.title_sort = sortable if keep else None
        if item.kind in ("movie", "episode") and "duration" in fields and item.duration:
            item.media_size = (
                VIDEO_PROFILES[item.media_profile].bitrate * item.duration // 8
            )

    def _changed(self, item: Item, now: int) -> None:
        """Drop cached renderings that show the item (it, its tree) and queries."""
        for other in item.walk():
            other.invalidate()
        item.invalidate()
        self._bump(item.section, now)

    def _bump(self, section: Section, now: int) -> None:
        self.generation += 1
        section.updated_at = now
        section.content_changed_at += 1

    @staticmethod
    def _timeline_entry(
        item: Item, state: int, metadata_state: str | None = None
    ) -> dict[str, Any]:
        """One ``TimelineEntry`` as Plex's websocket sends it."""
        entry: dict[str, Any] = {
            "identifier": IDENTIFIER,
            "sectionID": str(item.section.id),
            "itemID": str(item.rating_key),
            "type": item.type_code,
            "title": item.title,
            "state": state,
            "updatedAt": item.updated_at,
        }
        if item.parent is not None:
            entry["parentItemID"] = str(item.parent.rating_key)
            entry["rootItemID"] = str(item.top.rating_key)
        if metadata_state is not None:
            entry["metadataState"] = metadata_state
        return entry


class ItemFragment(Node):
    """An item's cached list rendering (plus optional Guids / attributes) as a node."""

    __slots__ = ("_extra", "_guids", "_item", "_renderer")

    def __init__(
        self,
        renderer: Renderer,
        item: Item,
        *,
        guids: bool,
        extra: dict[str, Any] | None,
    ) -> None:
        super().__init__(item.tag, json_key="Metadata")
        self._renderer = renderer
        self._item = item
        self._guids = guids
        self._extra = extra

    def xml(self) -> str:
        """The item's XML with the requested additions."""
        text = self._renderer.list_xml(self._item)
        if self._extra:
            head = Node(self.tag, self._extra).xml()[len(self.tag) + 1 : -3]
            text = f"<{self.tag}{head}{text[len(self.tag) + 1 :]}"
        if self._guids:
            guids = "".join(
                node.xml() for node in self._renderer.guid_nodes(self._item)
            )
            if guids:
                closing = f"</{self.tag}>"
                text = (
                    text[: -len(closing)] + guids + closing
                    if text.endswith(closing)
                    else f"{text[:-3]}>{guids}{closing}"
                )
        return text

    def json(self) -> str:
        """The item's JSON with the requested additions."""
        text = self._renderer.list_json(self._item)
        if self._extra:
            head = Node(self.tag, self._extra).json()[1:-1]
            text = f"{{{head},{text[1:]}"
        if self._guids:
            guids = ",".join(
                node.json() for node in self._renderer.guid_nodes(self._item)
            )
            if guids:
                text = f'{text[:-1]},"Guid":[{guids}]}}'
        return text

    def json_obj(self) -> dict[str, Any]:
        """The JSON-ready dict (slow path; pages use ``json()``)."""
        parsed: dict[str, Any] = json.loads(self.json())
        return parsed


def build(preset: str, *, seed: int = 0, clock: ClockLike) -> Library:
    """Generate a preset's world and pre-render it (see ``generator``)."""
    library = Library(generate(preset, seed=seed, clock=clock), clock, seed=seed)
    library.prerender()
    return library


def add_routes(app: web.Application, emu: Any) -> None:
    """Bind the library to the notification hub and register its endpoints."""
    from . import library_routes

    emu.library.bind(emu.notifications.publish)
    library_routes.add_routes(app, emu)
