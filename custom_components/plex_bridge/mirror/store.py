"""The mirror's SQLite store: a local copy of a Plex server's libraries.

One file per server. Synchronous and single-threaded: ``MirrorDB`` (mirror/db.py)
runs every call on one dedicated thread, never on the event loop. No Home Assistant
imports, so the store is tested (and benchmarked) on its own.

Layout (``SCHEMA_VERSION`` in ``PRAGMA user_version``; ``MIGRATIONS[n]`` brings a
file from version n to n + 1):

- ``libraries``: the server's sections; ``sync_state`` one row per library (the
  incremental cursor, the offsets of an unfinished full sync, the last result).
- ``items``: one row per movie, show, season, episode, artist, album, track, photo
  and photo album. ``rating_key`` is opaque TEXT (unique); the integer ``id`` is only
  the row's handle for the child tables and the FTS5 index. Version 2 added
  ``items_filter`` (``FILTER_INDEX``), the covering index of filtered searches;
  version 3 made ``items_bare_compact`` (titles without their article) cover the
  same filters; version 4 added ``items_children`` (library, type, parent), by which
  the sync counts each parent's children.
- ``tags`` (kind + tag: genre, director, writer, producer, actor, collection, country,
  label, mood, style) and ``item_tags``; ``external_ids`` (imdb, tmdb, tvdb, plex; one
  row each); ``parts`` (the Plex path and the mapped local path of each file).
- ``search_titles`` and ``search_text``: FTS5 tables of normalised text
  (mirror/text.py), rowid ``items.id``. ``search_titles`` has ``title`` (the item's
  own title, plus the joined forms of hyphenated words), ``context`` (the show for a
  season or an episode, the artist for an album, artist and album for a track) and
  ``original`` (the original title); ``search_text`` has ``people`` and ``summary``
  (only for items that have either). Two tables, so that a title search walks only
  the short title lists, not every summary that has the word. Both keep their text
  (search reads it to check each candidate; a contentless ``search_text`` made the
  file 13% smaller and inserts 10% faster, but updates 50% slower) and use
  ``detail=column`` (no positions: search asks for words, never phrases), which
  keeps the file small and writes fast.
  Search is in mirror/search.py.

Writes are batched: one transaction per call, ``executemany`` for every table, WAL
with ``synchronous=NORMAL`` (a commit is durable once the WAL is checkpointed; a crash
loses at most the last commits, never consistency). A full sync's progress is written
in the same transaction as its items, so a resumed sync never skips or repeats a page
it did not commit. ``upsert_items`` converts each Plex dict straight into the rows of
every table in one pass, with the item's row id known up front (existing items keep
theirs, new ones take the next free ids, new tags likewise), and runs without
foreign-key checks (it writes child rows only of the items it has just written).

A big full sync (``defer_indexes``: many items coming, compared with what the file
holds) drops the secondary indexes (``DEFERRABLE_INDEXES``: parent links, bare titles,
added dates, children per parent, external id values) and ``restore_indexes`` builds
them again at the end of the sync run; a file opened with any of them missing (a sync
that was killed) gets them back in ``open`` (on a full disk it stays without them,
and the end of the next sync run tries again). Maintaining them row by row was a
third of a first sync's time, building them once a small part of that. Nothing
reads differently without them, only slower: search during a first sync sees exactly
what has been committed, as it always does. So no query may name one of them
(``INDEXED BY``); the two search names, ``items_library_type`` and ``items_filter``
(``FILTER_INDEX``), are never dropped. The FTS5 tables are not deferred: they are written with the items, in the
same transaction, so search never lacks an item the mirror holds, and an interrupted
or resumed sync has nothing to rebuild; building the indexes again also merges the
FTS5 segments that the sync's commits left (``_build_indexes``).

A file that is not a database, or fails ``PRAGMA quick_check``, or comes from a newer
version of the integration, is moved aside (``<name>.corrupt-<epoch>``) and replaced by
an empty store; ``open`` then returns ``True`` so that the caller runs a full sync and
tells the user.
"""

from __future__ import annotations

from collections.abc import (
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    Set as AbstractSet,
)
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
import functools
import json
import logging
import math
from pathlib import Path
import re
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Final

from . import text
from .guids import parse_guid

if TYPE_CHECKING:
    from .paths import PathMapper
    from .search import SearchHit

_LOGGER = logging.getLogger(__name__)

TYPE_NUMBERS: Final[dict[str, int]] = {
    "movie": 1,
    "show": 2,
    "season": 3,
    "episode": 4,
    "artist": 8,
    "album": 9,
    "track": 10,
    "photo": 13,
    "photoalbum": 14,
}
TYPE_NAMES: Final[dict[int, str]] = {
    number: name for name, number in TYPE_NUMBERS.items()
}
CONTAINER_TYPES: Final = frozenset({2, 3, 8, 9, 14})
"""Types whose watched state is that of their leaves (viewedLeafCount == leafCount)."""

TAG_KINDS: Final[dict[str, str]] = {
    "Genre": "genre",
    "Director": "director",
    "Writer": "writer",
    "Producer": "producer",
    "Role": "actor",
    "Collection": "collection",
    "Country": "country",
    "Label": "label",
    "Mood": "mood",
    "Style": "style",
}
"""The Plex JSON tag lists kept, and the ``kind`` each is stored under."""
PEOPLE_KINDS: Final = ("Director", "Writer", "Role", "Producer")
_TAG_LISTS: Final = tuple(
    (json_key, kind, json_key in PEOPLE_KINDS) for json_key, kind in TAG_KINDS.items()
)
_SHORT_TITLE: Final = 96
"""Titles up to this length go through the ``index_title`` cache."""

# -- schema --------------------------------------------------------------------------------

DEFERRABLE_INDEXES: Final[dict[str, str]] = {
    "items_parent": "CREATE INDEX items_parent ON items(parent_key)",
    "items_bare_compact": (
        "CREATE INDEX items_bare_compact "
        "ON items(bare_compact, type, year, library_key, watched)"
    ),
    "items_added": "CREATE INDEX items_added ON items(added_at)",
    "items_children": (
        "CREATE INDEX items_children ON items(library_key, type, parent_key)"
    ),
    "external_ids_value": "CREATE INDEX external_ids_value ON external_ids(scheme, value)",
}
"""The secondary indexes a big full sync drops and builds again at its end (see
``defer_indexes``). Reads never need them to be right, only to be fast; the indexes
that reads name (``INDEXED BY items_library_type`` and ``FILTER_INDEX``) or that
writes need (the unique ``rating_key``) always stay."""
DEFER_MIN: Final = 5000
"""Fewer incoming items than this: keep the indexes (building them costs more)."""

_SCHEMA_V1: Final = (
    """
    CREATE TABLE libraries (
        key TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        type TEXT NOT NULL,
        uuid TEXT,
        agent TEXT
    )
    """,
    """
    CREATE TABLE sync_state (
        library_key TEXT PRIMARY KEY REFERENCES libraries(key) ON DELETE CASCADE,
        cursor INTEGER,
        progress TEXT NOT NULL DEFAULT '{}',
        last_result TEXT,
        synced_at REAL
    )
    """,
    """
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        rating_key TEXT NOT NULL UNIQUE,
        library_key TEXT NOT NULL REFERENCES libraries(key) ON DELETE CASCADE,
        type INTEGER NOT NULL,
        parent_key TEXT,
        grandparent_key TEXT,
        "index" INTEGER,
        parent_index INTEGER,
        title TEXT NOT NULL,
        original_title TEXT,
        sort_title TEXT,
        parent_title TEXT,
        grandparent_title TEXT,
        year INTEGER,
        summary TEXT,
        duration INTEGER,
        rating REAL,
        audience_rating REAL,
        content_rating TEXT,
        studio TEXT,
        added_at INTEGER,
        updated_at INTEGER,
        view_count INTEGER,
        last_viewed_at INTEGER,
        leaf_count INTEGER,
        viewed_leaf_count INTEGER,
        watched INTEGER NOT NULL DEFAULT 0,
        thumb TEXT,
        guid TEXT,
        bare_compact TEXT NOT NULL
    )
    """,
    "CREATE INDEX items_library_type ON items(library_key, type)",
    DEFERRABLE_INDEXES["items_parent"],
    "CREATE INDEX items_bare_compact ON items(bare_compact)",
    DEFERRABLE_INDEXES["items_added"],
    """
    CREATE TABLE tags (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        tag TEXT NOT NULL,
        norm TEXT NOT NULL,
        UNIQUE (kind, tag)
    )
    """,
    "CREATE INDEX tags_norm ON tags(kind, norm)",
    """
    CREATE TABLE item_tags (
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        tag_id INTEGER NOT NULL REFERENCES tags(id),
        position INTEGER NOT NULL,
        role TEXT,
        PRIMARY KEY (item_id, tag_id)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE external_ids (
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        scheme TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (item_id, scheme)
    ) WITHOUT ROWID
    """,
    DEFERRABLE_INDEXES["external_ids_value"],
    """
    CREATE TABLE parts (
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        part_id TEXT,
        plex_path TEXT NOT NULL,
        local_path TEXT,
        size INTEGER,
        container TEXT,
        PRIMARY KEY (item_id, position)
    ) WITHOUT ROWID
    """,
    """
    CREATE VIRTUAL TABLE search_titles USING fts5(
        title, context, original,
        tokenize = 'unicode61 remove_diacritics 2', detail = column
    )
    """,
    """
    CREATE VIRTUAL TABLE search_text USING fts5(
        people, summary,
        tokenize = 'unicode61 remove_diacritics 2', detail = column
    )
    """,
    "CREATE VIRTUAL TABLE search_titles_vocab USING fts5vocab(search_titles, 'row')",
    "CREATE VIRTUAL TABLE search_text_vocab USING fts5vocab(search_text, 'row')",
)

FILTER_INDEX: Final = "items_filter"
"""The covering index by which a filtered FTS walk tests each match's type, year,
library and watched state (search names it: ``INDEXED BY``). Keyed by ``id``, so a
full sync appends to it; it is never deferred."""
_SCHEMA_V2: Final = (
    f"CREATE INDEX {FILTER_INDEX} ON items(id, type, year, library_key, watched)",
)

_SCHEMA_V3: Final = (
    "DROP INDEX IF EXISTS items_bare_compact",
    DEFERRABLE_INDEXES["items_bare_compact"],
)
"""Version 3: the titles' index covers the filters too (as ``FILTER_INDEX`` does for
the FTS walks), so that a filtered search's lookup of titles that are or start with
the query tests type, year, library and watched state in the index, not in each
title's row: 2.6 to 0.1 ms for the thousand titles that start with "velvet"."""

_SCHEMA_V4: Final = (
    # IF NOT EXISTS, as version 3 drops IF EXISTS: the step holds for any earlier
    # file, whichever indexes it already has.
    DEFERRABLE_INDEXES["items_children"].replace(
        "CREATE INDEX", "CREATE INDEX IF NOT EXISTS"
    ),
)
"""Version 4: each type's children counted per parent in an index (the sync's
deletion checks count the episodes of every season and the tracks of every album,
``sync._child_counts``): 46 to 12 ms for the 60,000 episodes of the large library,
a scan of the index instead of every row and a sort."""

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    _SCHEMA_V1,
    _SCHEMA_V2,
    _SCHEMA_V3,
    _SCHEMA_V4,
)
"""``MIGRATIONS[n]``: the statements that take a file from version n to n + 1."""

_CHILD_TABLES: Final = ("item_tags", "external_ids", "parts")
"""The rows an item's upsert replaces (they would also go by cascade)."""
_FTS_TABLES: Final = (
    ("search_titles", "fts_titles", "title, context, original"),
    ("search_text", "fts_text", "people, summary"),
)
"""The FTS5 tables, the ``_Batch`` list of their rows and their columns. An upsert
rewrites an item's FTS5 row only where its text changed: a changed play count or
child count (most updates) leaves both as they were, and the FTS5 part of a commit
(its new segment and the merges that follow) was half an update's cost."""

_ITEM_COLUMNS: Final = (
    "rating_key",
    "library_key",
    "type",
    "parent_key",
    "grandparent_key",
    '"index"',
    "parent_index",
    "title",
    "original_title",
    "sort_title",
    "parent_title",
    "grandparent_title",
    "year",
    "summary",
    "duration",
    "rating",
    "audience_rating",
    "content_rating",
    "studio",
    "added_at",
    "updated_at",
    "view_count",
    "last_viewed_at",
    "leaf_count",
    "viewed_leaf_count",
    "watched",
    "thumb",
    "guid",
    "bare_compact",
)
_INSERT_ITEM: Final = (
    f"INSERT INTO items (id, {', '.join(_ITEM_COLUMNS)}) "  # noqa: S608 - constant names only
    f"VALUES ({', '.join('?' * (len(_ITEM_COLUMNS) + 1))})"
)
_UPDATE_ITEM: Final = (
    "UPDATE items SET "  # noqa: S608 - constant names only
    + ", ".join(f"{column} = ?" for column in _ITEM_COLUMNS[1:])
    + " WHERE id = ?"
)
_ITEM_SELECT: Final = (
    "SELECT id, rating_key, library_key, type, title, original_title, sort_title, year, "
    "summary, duration, rating, content_rating, studio, added_at, updated_at, view_count, "
    'last_viewed_at, "index", parent_index, parent_key, grandparent_key, parent_title, '
    "grandparent_title, thumb, watched, leaf_count, viewed_leaf_count, guid FROM items"
)


# -- public types --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Library:
    """A library section as the mirror knows it."""

    key: str
    title: str
    type: str
    uuid: str | None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What one ``upsert_items`` call changed."""

    added: int
    updated: int
    added_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SyncState:
    """A library's sync bookkeeping (see the module docstring)."""

    cursor: int | None
    progress: dict[int, int]
    last_result: dict[str, Any] | None
    synced_at: float | None


@dataclass(frozen=True, slots=True)
class MirrorItem:
    """One mirrored item with its external ids, genres and file parts."""

    rating_key: str
    library_key: str
    type: str
    title: str
    original_title: str | None
    sort_title: str | None
    year: int | None
    summary: str | None
    duration: int | None
    rating: float | None
    content_rating: str | None
    studio: str | None
    added_at: int | None
    updated_at: int | None
    view_count: int | None
    last_viewed_at: int | None
    index: int | None
    parent_index: int | None
    parent_key: str | None
    grandparent_key: str | None
    parent_title: str | None
    grandparent_title: str | None
    thumb: str | None
    guids: dict[str, str] = field(default_factory=dict)
    genres: tuple[str, ...] = ()
    parts: tuple[tuple[str, str | None], ...] = ()
    watched: bool = False
    leaf_count: int | None = None
    viewed_leaf_count: int | None = None
    guid: str | None = None


class MirrorStoreError(Exception):
    """A store operation that cannot be done as asked (an unknown library, ...)."""


# -- conversion of Plex JSON ---------------------------------------------------------------


_INT64 = 2**63


def _int(value: Any) -> int | None:
    """An integer field as Plex JSON gives it (int, or a numeric string in XML-ish data).

    ``None`` for what is not a number or does not fit SQLite's 64-bit integers.
    """
    if value is None or value == "":
        return None
    if type(value) is not int:
        try:
            value = int(float(value))
        except TypeError, ValueError, OverflowError:
            return None
    return value if -_INT64 <= value < _INT64 else None


def _float(value: Any) -> float | None:
    """A float field (rating)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except TypeError, ValueError:
        return None
    return number if math.isfinite(number) else None


def _str(value: Any) -> str | None:
    """A text field; ``None`` for missing or empty."""
    if value is None:
        return None
    value = str(value)
    return value or None


def plex_type_of(metadata: Mapping[str, Any]) -> int | None:
    """The Plex type number of a Metadata dict, ``None`` for kinds the mirror skips.

    A photo album is ``type: "photo"`` in Plex's own answers, like a photo; it is the
    one with a ``.../children`` key (a Directory), and has no ``Media``.
    """
    name = metadata.get("type")
    number = TYPE_NUMBERS.get(name) if isinstance(name, str) else None
    if number == 13 and str(metadata.get("key", "")).endswith("/children"):
        return 14
    return number


def index_columns(
    plex_type: int,
    title: str,
    *,
    parent_title: str | None,
    grandparent_title: str | None,
    original_title: str | None,
    people: Sequence[str],
    summary: str | None,
) -> tuple[str, str, str, str, str]:
    """The normalised text the FTS5 tables index for an item.

    ``(title, context, original, people, summary)``, as ``upsert_items`` writes
    them (it builds the same columns in its one pass, through ``index_context``).
    """
    return (
        text.index_title(title),
        index_context(
            plex_type, parent_title=parent_title, grandparent_title=grandparent_title
        ),
        text.normalize(original_title),
        text.index_text(*people),
        text.normalize(summary),
    )


def index_context(
    plex_type: int, *, parent_title: str | None, grandparent_title: str | None
) -> str:
    """The context the title index holds for an item, normalised.

    An episode's is its show, a track's its artist and album, anything else's its
    parent (a season's show, an album's artist, a photo's album).
    """
    if plex_type == 4:
        return text.normalize(grandparent_title)
    if plex_type == 10:
        return text.index_text(grandparent_title, parent_title)
    return text.normalize(parent_title)


_IMDB_FAST: Final = re.compile(r"tt\d{5,10}")
_NUMBER_FAST: Final = re.compile(r"\d{1,12}")
_FAST_GUIDS: Final = {"imdb": _IMDB_FAST, "tmdb": _NUMBER_FAST, "tvdb": _NUMBER_FAST}
_PLEX_FAST: Final = re.compile(r"[0-9a-z]{1,64}")
"""The forms Plex sends (``Guid`` elements ``imdb://tt0133093``, ``tmdb://603``; the
``guid`` attribute ``plex://movie/<hex>``), read without ``parse_guid``; anything else
(other case, a query, legacy agents) goes to it. The result is the same: these forms
are exactly what ``parse_guid`` returns unchanged."""


def _guids(guid: str | None, elements: Any) -> dict[str, str]:
    """``normalize_guids``, with a fast path for the forms Plex sends."""
    ids: dict[str, str] = {}
    if guid:
        kind, _, plex_id = guid[7:].partition("/")
        if guid.startswith("plex://") and kind and _PLEX_FAST.fullmatch(plex_id):
            ids["plex"] = plex_id
        elif parsed := parse_guid(guid):
            ids[parsed[0]] = parsed[1]
    for element in elements or ():
        value = element.get("id") if isinstance(element, dict) else None
        if not isinstance(value, str):
            continue
        scheme, sep, rest = value.partition("://")
        pattern = _FAST_GUIDS.get(scheme) if sep else None
        if pattern is not None and pattern.fullmatch(rest):
            ids[scheme] = rest
        elif parsed := parse_guid(value):
            ids[parsed[0]] = parsed[1]
    return ids


def _title_columns(title: str) -> tuple[str, str]:
    """A title's FTS5 ``title`` text and its ``bare_compact`` column."""
    return (
        text.index_title(title),
        text.bare(text.normalize(title)).replace(" ", ""),
    )


_cached_title_columns: Final = functools.lru_cache(maxsize=32768)(_title_columns)
"""``_title_columns`` of titles that repeat ("Pilot", "Season 1", "Track 3"): a fifth
of the large test library's titles are distinct."""


class _Batch:
    """One page of Plex JSON converted straight into each table's rows.

    Built in one pass per item, with the item's row id already known (existing
    items keep theirs; new ones get the next free ids), so nothing is looked up
    twice and no intermediate row objects are made: converting was half the cost
    of a full sync.
    """

    __slots__ = (
        "external",
        "fts_text",
        "fts_titles",
        "item_tags",
        "library_key",
        "mapper",
        "new_items",
        "new_tag",
        "new_tags",
        "parts",
        "tag_ids",
        "updated_items",
    )

    def __init__(self, library_key: str, mapper: PathMapper | None) -> None:
        self.library_key = library_key
        self.mapper = mapper
        self.tag_ids: Mapping[str, dict[str, int]] = {}
        """Kind -> tag -> id of every stored tag (``MirrorStore._tag_ids``)."""
        self.new_tag: Callable[[str, str], int] = _no_tags
        """Gives a tag not in ``tag_ids`` its id (and a row in ``new_tags``)."""
        self.new_items: list[tuple[Any, ...]] = []
        self.updated_items: list[tuple[Any, ...]] = []
        self.item_tags: list[tuple[int, int, int, str | None]] = []
        self.external: list[tuple[int, str, str]] = []
        self.parts: list[tuple[Any, ...]] = []
        self.fts_titles: list[tuple[int, str, str, str]] = []
        self.fts_text: list[tuple[int, str, str]] = []
        self.new_tags: list[tuple[int, str, str, str]] = []


def _no_tags(kind: str, tag: str) -> int:
    raise RuntimeError("tag ids asked for before the store set them up")


def _convert(
    batch: _Batch,
    item_id: int,
    plex_type: int,
    rating_key: str,
    metadata: Mapping[str, Any],
    *,
    new: bool,
) -> None:
    """Add one Plex JSON Metadata dict's rows to ``batch``."""
    get = metadata.get
    tag_ids = batch.tag_ids
    mapper = batch.mapper
    library_key = batch.library_key
    title = get("title")
    title = "" if title is None else str(title)
    parent_title = _str(get("parentTitle"))
    grandparent_title = _str(get("grandparentTitle"))
    original_title = _str(get("originalTitle"))
    view_count = _int(get("viewCount"))
    leaf_count = _int(get("leafCount"))
    viewed_leaf_count = _int(get("viewedLeafCount"))
    if plex_type in CONTAINER_TYPES:
        watched = bool(leaf_count) and (viewed_leaf_count or 0) >= (leaf_count or 0)
    else:
        watched = bool(view_count)
    parent = get("parentRatingKey")
    grandparent = get("grandparentRatingKey")
    summary = _str(get("summary"))
    guid = _str(get("guid"))
    title_text, bare_compact = (
        _cached_title_columns(title)
        if len(title) <= _SHORT_TITLE
        else _title_columns(title)
    )
    values = (
        rating_key,
        library_key,
        plex_type,
        None if parent is None else str(parent),
        None if grandparent is None else str(grandparent),
        _int(get("index")),
        _int(get("parentIndex")),
        title,
        original_title,
        _str(get("titleSort")),
        parent_title,
        grandparent_title,
        _int(get("year")),
        summary,
        _int(get("duration")),
        _float(get("rating")),
        _float(get("audienceRating")),
        _str(get("contentRating")),
        _str(get("studio")),
        _int(get("addedAt")),
        _int(get("updatedAt")),
        view_count,
        _int(get("lastViewedAt")),
        leaf_count,
        viewed_leaf_count,
        int(watched),
        _str(get("thumb")),
        guid,
        bare_compact,
    )
    if new:
        batch.new_items.append((item_id, *values))
    else:
        batch.updated_items.append((*values[1:], item_id))
    people: list[str] = []
    position = 0
    item_tags = batch.item_tags
    for json_key, kind, is_people in _TAG_LISTS:
        entries = get(json_key)
        if not entries:
            continue
        known = tag_ids[kind]
        for entry in entries:
            tag = entry.get("tag") if isinstance(entry, dict) else None
            if not tag:
                continue
            if type(tag) is not str:
                tag = str(tag)
            found = known.get(tag)
            if found is None:
                found = batch.new_tag(kind, tag)
            role = entry.get("role")
            if role is not None:
                role = _str(role)
            item_tags.append((item_id, found, position, role))
            position += 1
            if is_people:
                people.append(tag)
    media_list = get("Media")
    if media_list:
        position = 0
        for media in media_list:
            if not isinstance(media, dict):
                continue
            for part in media.get("Part") or ():
                path = part.get("file") if isinstance(part, dict) else None
                if path:
                    path = str(path)
                    batch.parts.append(
                        (
                            item_id,
                            position,
                            _str(part.get("id")),
                            path,
                            mapper.map(path) if mapper is not None else None,
                            _int(part.get("size")),
                            _str(part.get("container")),
                        )
                    )
                    position += 1
    for scheme, value in _guids(guid, get("Guid")).items():
        batch.external.append((item_id, scheme, value))
    batch.fts_titles.append(
        (
            item_id,
            title_text,
            index_context(
                plex_type,
                parent_title=parent_title,
                grandparent_title=grandparent_title,
            ),
            text.normalize(original_title),
        )
    )
    people_text = text.index_text(*people) if people else ""
    summary_text = text.normalize(summary)
    if people_text or summary_text:
        batch.fts_text.append((item_id, people_text, summary_text))


def _replace_text[Row: tuple[Any, ...]](
    cursor: sqlite3.Cursor,
    table: str,
    old: Mapping[int, tuple[str, ...]],
    stored: Mapping[str, int],
    rows: list[Row],
) -> list[Row]:
    """Delete the FTS5 rows of stored items whose text changed or went; the rows to insert.

    ``old``: the table's rows of the stored items (``stored``: rating key -> id),
    by rowid; ``rows``: the new rows of the upsert (rowid first). A row equal to
    the stored one is neither deleted nor inserted.
    """
    wanted = [row for row in rows if old.get(row[0]) != row[1:]]
    kept = {row[0] for row in rows} - {row[0] for row in wanted}
    gone = [
        row_id for row_id in stored.values() if row_id in old and row_id not in kept
    ]
    if gone:
        cursor.execute(
            f"DELETE FROM {table} WHERE rowid IN (SELECT value FROM json_each(?))",  # noqa: S608 - constant names only
            (json.dumps(gone),),
        )
    return wanted


# -- the store -----------------------------------------------------------------------------


def _build_indexes(connection: sqlite3.Connection) -> None:
    """Create whichever of ``DEFERRABLE_INDEXES`` is missing, in one transaction.

    The same transaction merges each FTS5 table into one segment (``optimize``):
    a big full sync wrote a segment per page, and a search looks each word up in
    every segment. Measured on 110,000 items: 0.2 s, and the bench's searches
    4.2 to 3.7 ms at p95. Only when indexes were missing (the end of a big full
    sync, or the open after one was killed), not on every open.
    """
    present = {
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
        )
    }
    missing = [sql for name, sql in DEFERRABLE_INDEXES.items() if name not in present]
    if not missing:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in missing:
            connection.execute(statement)
        for table, _, _ in _FTS_TABLES:
            connection.execute(
                f"INSERT INTO {table} ({table}) VALUES ('optimize')"  # noqa: S608 - constant names only
            )
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class MirrorStore:
    """The mirror's SQLite file (see the module docstring). One thread at a time."""

    SCHEMA_VERSION: Final[int] = len(MIGRATIONS)

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        """Wrap an open, migrated connection; use ``MirrorStore.open``."""
        self._db = connection
        self.path = path
        self._tag_ids: dict[str, dict[str, int]] = {}
        self._next_tag_id = 0
        self._vocabulary: set[str] | None = None
        self._indexes_deferred = False

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> tuple[MirrorStore, bool]:
        """Open or create the store at ``path``; ``True`` if a corrupt file was replaced."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            store = cls(cls._connect(path, check=path.exists()), path)
        except sqlite3.DatabaseError as err:
            _LOGGER.warning(
                "Mirror database %s is unusable (%s); starting afresh", path, err
            )
        else:
            store._restore_dropped_indexes()
            return store, False
        cls._move_aside(path)
        return cls(cls._connect(path, check=False), path), True

    def _restore_dropped_indexes(self) -> None:
        """Build the indexes a killed big full sync left dropped, if it can.

        Not being able to (a full disk) is no reason to give the file up: reads
        are right without them. They stay marked as dropped, and the end of the
        next sync run tries again.
        """
        self._indexes_deferred = True
        try:
            self.restore_indexes()
        except sqlite3.OperationalError as err:
            _LOGGER.warning(
                "Mirror database %s: could not build its indexes (%s); will retry",
                self.path,
                err,
            )

    @classmethod
    def _connect(cls, path: Path, *, check: bool) -> sqlite3.Connection:
        """Connect, set the pragmas, check integrity (existing files) and migrate."""
        connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=64
        )
        try:
            connection.execute("PRAGMA busy_timeout = 5000")
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise sqlite3.DatabaseError(f"journal mode {mode!r}")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA temp_store = MEMORY")
            # 8 MB of page cache (SQLite's default is 2 MB). Measured on the large
            # library (a 100 MB file): 32 MB held 22 MB more at the sync's peak,
            # for no faster sync and no faster search (the OS caches the file).
            connection.execute("PRAGMA cache_size = -8000")
            if check:
                result = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
                if result != ["ok"]:
                    raise sqlite3.DatabaseError(
                        "quick_check: " + "; ".join(map(str, result))
                    )
            cls._migrate(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    @classmethod
    def _migrate(cls, connection: sqlite3.Connection) -> None:
        """Bring the file to ``SCHEMA_VERSION``, one transaction per migration."""
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than {len(MIGRATIONS)}"
            )
        for number in range(version, len(MIGRATIONS)):
            connection.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[number]:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number + 1}")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @staticmethod
    def _move_aside(path: Path) -> None:
        """Rename a bad file (and its WAL and shared-memory files) out of the way."""
        suffix = f".corrupt-{int(time.time())}"
        for extra in ("", "-wal", "-shm"):
            source = path.with_name(path.name + extra)
            if source.exists():
                source.replace(path.with_name(path.name + suffix + extra))

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self._db.close()

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def _transaction(
        self, *, check_references: bool = True
    ) -> Iterator[sqlite3.Cursor]:
        """One write transaction; rolled back (and caches dropped) on any error.

        ``check_references=False`` turns foreign-key checks off for it (SQLite
        takes the pragma only outside a transaction): for ``upsert_items``, which
        checks its library itself and writes child rows only of the items it has
        just written, so each check would be a B-tree lookup that cannot fail.
        """
        if not check_references:
            self._db.execute("PRAGMA foreign_keys = OFF")
        try:
            cursor = self._db.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                # The caches first: they may name rows the rollback removes.
                self._tag_ids = {}
                self._vocabulary = None
                # SQLite may have rolled back itself (SQLITE_FULL, a failed
                # COMMIT); a second ROLLBACK would raise and hide the cause.
                if self._db.in_transaction:
                    with suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise
        finally:
            if not check_references:
                self._db.execute("PRAGMA foreign_keys = ON")

    # -- indexes during a big full sync ----------------------------------------------------

    def defer_indexes(self, incoming: int) -> bool:
        """Drop the secondary indexes if ``incoming`` items are about to be written.

        A full sync that writes many items (at least ``DEFER_MIN``, and at least a
        third of what the file holds) is faster without ``DEFERRABLE_INDEXES``:
        keeping four B-trees in step row by row cost a third of a first sync, a
        sort-built index at the end a fraction of that. Reads stay right without
        them (only slower), so search during the sync returns what is committed,
        as always. ``restore_indexes`` builds them again (the sync calls it after
        its last library; ``open`` too, after an interrupted sync). Returns
        whether the indexes are dropped now.
        """
        if self._indexes_deferred:
            return True
        held = int(self._db.execute("SELECT count(*) FROM items").fetchone()[0])
        if incoming < DEFER_MIN or incoming * 3 < held:
            return False
        with self._transaction() as cursor:
            for name in DEFERRABLE_INDEXES:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
        self._indexes_deferred = True
        return True

    def restore_indexes(self) -> None:
        """Build the indexes ``defer_indexes`` dropped (nothing when none were)."""
        if self._indexes_deferred:
            _build_indexes(self._db)
            self._indexes_deferred = False

    # -- libraries -------------------------------------------------------------------------

    def set_libraries(self, sections: Sequence[Mapping[str, Any]]) -> list[str]:
        """Store the server's sections; drop (with their items) those no longer listed."""
        rows = [
            (
                str(section["key"]),
                str(section.get("title") or ""),
                str(section.get("type") or ""),
                _str(section.get("uuid")),
                _str(section.get("agent")),
            )
            for section in sections
            if section.get("key") is not None
        ]
        keep = {row[0] for row in rows}
        with self._transaction() as cursor:
            removed = [
                key
                for (key,) in cursor.execute("SELECT key FROM libraries")
                if key not in keep
            ]
            if removed:
                for table in ("search_titles", "search_text"):
                    cursor.execute(
                        f"DELETE FROM {table} WHERE rowid IN (SELECT id FROM items WHERE "  # noqa: S608 - constant names
                        "library_key IN (SELECT value FROM json_each(?)))",
                        (json.dumps(removed),),
                    )
                cursor.executemany(
                    "DELETE FROM libraries WHERE key = ?", [(k,) for k in removed]
                )
            cursor.executemany(
                "INSERT INTO libraries (key, title, type, uuid, agent) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET title = excluded.title, type = excluded.type, "
                "uuid = excluded.uuid, agent = excluded.agent",
                rows,
            )
            cursor.executemany(
                "INSERT INTO sync_state (library_key) VALUES (?) ON CONFLICT DO NOTHING",
                [(row[0],) for row in rows],
            )
        return removed

    def libraries(self) -> list[Library]:
        """The libraries, in the server's order of keys."""
        return [
            Library(key, title, kind, uuid, agent)
            for key, title, kind, uuid, agent in self._db.execute(
                "SELECT key, title, type, uuid, agent FROM libraries "
                "ORDER BY CAST(key AS INTEGER), key"
            )
        ]

    # -- items -----------------------------------------------------------------------------

    def _existing_ids(self, cursor: sqlite3.Cursor, keys: list[str]) -> dict[str, int]:
        """``rating_key -> id`` of the given keys that are stored."""
        return dict(
            cursor.execute(
                "SELECT rating_key, id FROM items WHERE rating_key IN "
                "(SELECT value FROM json_each(?))",
                (json.dumps(keys),),
            )
        )

    def _tag_lookup(self, cursor: sqlite3.Cursor, batch: _Batch) -> None:
        """Give ``batch`` the tag ids by kind, and the way to add a tag.

        The cache holds every tag of the file, a dict per kind so that a lookup
        makes no key tuple (read once per store; dropped with a rolled-back
        transaction, which may have held new tags). A new tag gets the next id
        and a row in ``batch``.
        """
        cache = self._tag_ids
        if not cache:
            cache = self._tag_ids = {kind: {} for kind in TAG_KINDS.values()}
            newest = 0
            for tag_id, kind, tag in cursor.execute("SELECT id, kind, tag FROM tags"):
                cache.setdefault(kind, {})[tag] = tag_id
                newest = max(newest, tag_id)
            self._next_tag_id = newest + 1
        new_tags = batch.new_tags

        def new_tag(kind: str, tag: str) -> int:
            found = self._next_tag_id
            self._next_tag_id += 1
            cache[kind][tag] = found
            new_tags.append((found, kind, tag, text.normalize(tag)))
            return found

        batch.tag_ids = cache
        batch.new_tag = new_tag

    def upsert_items(
        self,
        library_key: str,
        metadata: Sequence[Mapping[str, Any]],
        *,
        paths: PathMapper | None = None,
        progress: tuple[int, int] | None = None,
    ) -> UpsertResult:
        """Insert or update items from Plex JSON Metadata dicts, in one transaction.

        Items of kinds the mirror does not keep (clips, ...) are skipped. A Metadata dict
        replaces everything stored of its item (tags, ids, parts). ``progress`` is
        ``(plex_type, next_offset)`` of an unfinished full sync, saved with the items.
        Raises ``MirrorStoreError`` for a library that ``set_libraries`` did not store.
        """
        library_key = str(library_key)
        wanted: dict[str, tuple[int, Mapping[str, Any]]] = {}
        for entry in metadata:
            plex_type = plex_type_of(entry)
            rating_key = entry.get("ratingKey")
            if plex_type is not None and rating_key is not None:
                wanted[str(rating_key)] = (plex_type, entry)
        keys = list(wanted)
        with self._transaction(check_references=False) as cursor:
            if (
                cursor.execute(
                    "SELECT 1 FROM libraries WHERE key = ?", (library_key,)
                ).fetchone()
                is None
            ):
                raise MirrorStoreError(f"unknown library {library_key!r}")
            if progress is not None:
                self._save_progress(cursor, library_key, progress)
            if not keys:
                return UpsertResult(0, 0, [])
            before = self._existing_ids(cursor, keys)
            old_text: dict[str, dict[int, tuple[str, ...]]] = {}
            if before:
                old = (json.dumps(list(before.values())),)
                for table in _CHILD_TABLES:
                    cursor.execute(
                        f"DELETE FROM {table} WHERE item_id IN (SELECT value FROM json_each(?))",  # noqa: S608 - constant names only
                        old,
                    )
                for table, _, columns in _FTS_TABLES:
                    old_text[table] = {
                        row[0]: row[1:]
                        for row in cursor.execute(
                            f"SELECT rowid, {columns} FROM {table} WHERE rowid IN "  # noqa: S608 - constant names only
                            "(SELECT value FROM json_each(?))",
                            old,
                        )
                    }
            batch = _Batch(library_key, paths or None)
            self._tag_lookup(cursor, batch)
            next_id = (
                cursor.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()[0]
                + 1
            )
            added_keys = []
            for rating_key, (plex_type, entry) in wanted.items():
                item_id = before.get(rating_key)
                if item_id is None:
                    item_id = next_id
                    next_id += 1
                    added_keys.append(rating_key)
                    new = True
                else:
                    new = False
                _convert(batch, item_id, plex_type, rating_key, entry, new=new)
            if batch.new_tags:
                cursor.executemany(
                    "INSERT INTO tags (id, kind, tag, norm) VALUES (?, ?, ?, ?)",
                    batch.new_tags,
                )
            if batch.updated_items:
                cursor.executemany(_UPDATE_ITEM, batch.updated_items)
            if batch.new_items:
                cursor.executemany(_INSERT_ITEM, batch.new_items)
            cursor.executemany(
                "INSERT OR IGNORE INTO item_tags (item_id, tag_id, position, role) "
                "VALUES (?, ?, ?, ?)",
                batch.item_tags,
            )
            cursor.executemany(
                "INSERT INTO external_ids (item_id, scheme, value) VALUES (?, ?, ?)",
                batch.external,
            )
            cursor.executemany(
                "INSERT INTO parts (item_id, position, part_id, plex_path, local_path, size, "
                "container) VALUES (?, ?, ?, ?, ?, ?, ?)",
                batch.parts,
            )
            for table, rows_name, columns in _FTS_TABLES:
                rows = getattr(batch, rows_name)
                if table in old_text:
                    rows = _replace_text(cursor, table, old_text[table], before, rows)
                cursor.executemany(
                    f"INSERT INTO {table} (rowid, {columns}) VALUES "  # noqa: S608 - constant names only
                    f"({', '.join('?' * (columns.count(',') + 2))})",
                    rows,
                )
                setattr(batch, rows_name, rows)
            if self._vocabulary is not None:
                vocabulary = self._vocabulary
                for row in batch.fts_titles:
                    for column in row[1:]:
                        vocabulary.update(column.split())
        return UpsertResult(len(added_keys), len(keys) - len(added_keys), added_keys)

    def remove_items(self, rating_keys: Iterable[str]) -> int:
        """Remove items with their children (and theirs); returns how many rows went."""
        keys = list(dict.fromkeys(str(key) for key in rating_keys))
        if not keys:
            return 0
        with self._transaction() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS doomed (rating_key TEXT PRIMARY KEY) "
                "WITHOUT ROWID"
            )
            cursor.execute("DELETE FROM temp.doomed")
            # Children by their parent link (indexed), recursively: show -> seasons ->
            # episodes, artist -> albums -> tracks, photo album -> photos.
            cursor.execute(
                "INSERT OR IGNORE INTO temp.doomed "
                "WITH RECURSIVE sub(k) AS ("
                " SELECT value FROM json_each(?)"
                " UNION SELECT items.rating_key FROM items"
                " JOIN sub ON items.parent_key = sub.k"
                ") SELECT k FROM sub",
                (json.dumps(keys),),
            )
            # Leaves whose parent the mirror lacks (an episode of a season it has not
            # seen) still go with their grandparent: one scan, no index to maintain.
            # Only a show, an artist or a photo album can be a grandparent, or a key
            # the mirror does not hold (its children may be here without it); a
            # deleted movie, episode or track (the usual case) skips the scan.
            (may_have_grandchildren,) = cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM json_each(?) AS asked"
                " LEFT JOIN items ON items.rating_key = asked.value"
                " WHERE items.rating_key IS NULL OR items.type IN (2, 8, 14))",
                (json.dumps(keys),),
            ).fetchone()
            if may_have_grandchildren:
                cursor.execute(
                    "INSERT OR IGNORE INTO temp.doomed SELECT rating_key FROM items "
                    "WHERE grandparent_key IN (SELECT rating_key FROM temp.doomed)"
                )
            for table in ("search_titles", "search_text"):
                cursor.execute(
                    f"DELETE FROM {table} WHERE rowid IN (SELECT id FROM items "  # noqa: S608 - constant names
                    "WHERE rating_key IN (SELECT rating_key FROM temp.doomed))"
                )
            cursor.execute(
                "DELETE FROM items WHERE rating_key IN (SELECT rating_key FROM temp.doomed)"
            )
            removed = cursor.rowcount
            cursor.execute("DELETE FROM temp.doomed")
        return removed

    def rating_keys(self, library_key: str, plex_type: int) -> set[str]:
        """The stored keys of one type in one library (to find deletions)."""
        return {
            key
            for (key,) in self._db.execute(
                "SELECT rating_key FROM items WHERE library_key = ? AND type = ?",
                (str(library_key), plex_type),
            )
        }

    def count(
        self, library_key: str | None = None, plex_type: int | None = None
    ) -> int:
        """How many items, optionally of one library and/or one type."""
        sql = "SELECT count(*) FROM items"
        clauses: list[str] = []
        args: list[str | int] = []
        if library_key is not None:
            clauses.append("library_key = ?")
            args.append(str(library_key))
        if plex_type is not None:
            clauses.append("type = ?")
            args.append(plex_type)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return int(self._db.execute(sql, args).fetchone()[0])

    def counts(self) -> dict[str, dict[int, int]]:
        """``library key -> type -> items`` (libraries without items are absent)."""
        result: dict[str, dict[int, int]] = {}
        for library_key, plex_type, number in self._db.execute(
            "SELECT library_key, type, count(*) FROM items GROUP BY library_key, type"
        ):
            result.setdefault(library_key, {})[plex_type] = number
        return result

    def item(self, rating_key: str) -> MirrorItem | None:
        """One item, or ``None``."""
        found = self.items([rating_key])
        return found[0] if found else None

    def items(self, rating_keys: Sequence[str]) -> list[MirrorItem]:
        """The stored items of ``rating_keys`` in that order (missing ones skipped)."""
        keys = [str(key) for key in rating_keys]
        if not keys:
            return []
        rows = self._db.execute(
            _ITEM_SELECT + " WHERE rating_key IN (SELECT value FROM json_each(?))",  # noqa: S608 - constant names only
            (json.dumps(keys),),
        ).fetchall()
        built = self._build_items(rows)
        return [built[key] for key in dict.fromkeys(keys) if key in built]

    def people(self, item_ids: Sequence[int]) -> dict[int, list[str]]:
        """The directors, writers, producers and actors of items, by row id."""
        people: dict[int, list[str]] = {}
        for item_id, tag in self._db.execute(
            "SELECT item_tags.item_id, tags.tag FROM item_tags JOIN tags ON tags.id = "
            "item_tags.tag_id WHERE tags.kind IN ('director', 'writer', 'producer', "
            "'actor') AND item_tags.item_id IN (SELECT value FROM json_each(?)) "
            "ORDER BY item_tags.item_id, item_tags.position",
            (json.dumps(list(item_ids)),),
        ):
            people.setdefault(item_id, []).append(tag)
        return people

    def items_by_id(self, item_ids: Sequence[int]) -> dict[int, MirrorItem]:
        """Items by their row ids (for search)."""
        if not item_ids:
            return {}
        rows = self._db.execute(
            _ITEM_SELECT + " WHERE id IN (SELECT value FROM json_each(?))",  # noqa: S608 - constant names only
            (json.dumps(list(item_ids)),),
        ).fetchall()
        built = self._build_items(rows)
        return {row[0]: built[row[1]] for row in rows}

    def _build_items(self, rows: list[tuple[Any, ...]]) -> dict[str, MirrorItem]:
        """``MirrorItem``s of item rows, with their ids, genres and parts."""
        if not rows:
            return {}
        ids = json.dumps([row[0] for row in rows])
        guids: dict[int, dict[str, str]] = {}
        for item_id, scheme, value in self._db.execute(
            "SELECT item_id, scheme, value FROM external_ids WHERE item_id IN "
            "(SELECT value FROM json_each(?))",
            (ids,),
        ):
            guids.setdefault(item_id, {})[scheme] = value
        genres: dict[int, list[str]] = {}
        for item_id, tag in self._db.execute(
            "SELECT item_tags.item_id, tags.tag FROM item_tags JOIN tags ON tags.id = "
            "item_tags.tag_id WHERE tags.kind = 'genre' AND item_tags.item_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY item_tags.item_id, item_tags.position",
            (ids,),
        ):
            genres.setdefault(item_id, []).append(tag)
        parts: dict[int, list[tuple[str, str | None]]] = {}
        for item_id, plex_path, local_path in self._db.execute(
            "SELECT item_id, plex_path, local_path FROM parts WHERE item_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY item_id, position",
            (ids,),
        ):
            parts.setdefault(item_id, []).append((plex_path, local_path))
        result = {}
        for row in rows:
            (
                item_id,
                rating_key,
                library_key,
                plex_type,
                title,
                original_title,
                sort_title,
                year,
                summary,
                duration,
                rating,
                content_rating,
                studio,
                added_at,
                updated_at,
                view_count,
                last_viewed_at,
                index,
                parent_index,
                parent_key,
                grandparent_key,
                parent_title,
                grandparent_title,
                thumb,
                watched,
                leaf_count,
                viewed_leaf_count,
                guid,
            ) = row
            result[rating_key] = MirrorItem(
                rating_key=rating_key,
                library_key=library_key,
                type=TYPE_NAMES.get(plex_type, str(plex_type)),
                title=title,
                original_title=original_title,
                sort_title=sort_title,
                year=year,
                summary=summary,
                duration=duration,
                rating=rating,
                content_rating=content_rating,
                studio=studio,
                added_at=added_at,
                updated_at=updated_at,
                view_count=view_count,
                last_viewed_at=last_viewed_at,
                index=index,
                parent_index=parent_index,
                parent_key=parent_key,
                grandparent_key=grandparent_key,
                parent_title=parent_title,
                grandparent_title=grandparent_title,
                thumb=thumb,
                guids=guids.get(item_id, {}),
                genres=tuple(genres.get(item_id, ())),
                parts=tuple(parts.get(item_id, ())),
                watched=bool(watched),
                leaf_count=leaf_count,
                viewed_leaf_count=viewed_leaf_count,
                guid=guid,
            )
        return result

    # -- sync state ------------------------------------------------------------------------

    @staticmethod
    def _save_progress(
        cursor: sqlite3.Cursor, library_key: str, progress: tuple[int, int]
    ) -> None:
        """Merge ``(plex_type, next_offset)`` into the library's saved progress."""
        plex_type, offset = progress
        cursor.execute(
            "UPDATE sync_state SET progress = json_set(progress, ?, ?) WHERE library_key = ?",
            (f'$."{int(plex_type)}"', int(offset), library_key),
        )

    def sync_state(self, library_key: str) -> SyncState:
        """The library's cursor, unfinished-sync progress and last result."""
        row = self._db.execute(
            "SELECT cursor, progress, last_result, synced_at FROM sync_state "
            "WHERE library_key = ?",
            (str(library_key),),
        ).fetchone()
        if row is None:
            return SyncState(None, {}, None, None)
        cursor, progress, last_result, synced_at = row
        return SyncState(
            cursor=cursor,
            progress={
                int(key): int(value)
                for key, value in json.loads(progress or "{}").items()
            },
            last_result=json.loads(last_result) if last_result else None,
            synced_at=synced_at,
        )

    def finish_library(
        self, library_key: str, *, cursor: int, result: Mapping[str, Any]
    ) -> None:
        """Clear the progress, set the cursor and the last result: one transaction."""
        with self._transaction() as db:
            db.execute(
                "UPDATE sync_state SET cursor = ?, progress = '{}', last_result = ?, "
                "synced_at = ? WHERE library_key = ?",
                (
                    int(cursor),
                    json.dumps(dict(result), default=str),
                    time.time(),
                    str(library_key),
                ),
            )
            if db.rowcount == 0:
                raise MirrorStoreError(f"unknown library {library_key!r}")

    # -- search ----------------------------------------------------------------------------

    def search(
        self,
        query: str | None,
        *,
        types: Collection[str] | None = None,
        library_keys: Collection[str] | None = None,
        year: int | None = None,
        year_range: tuple[int, int] | None = None,
        genre: str | None = None,
        watched: bool | None = None,
        external_id: tuple[str, str] | None = None,
        limit: int = 10,
    ) -> list[SearchHit]:
        """Ranked search with filters; see mirror/search.py for the rules."""
        from .search import search

        return search(
            self,
            query,
            types=types,
            library_keys=library_keys,
            year=year,
            year_range=year_range,
            genre=genre,
            watched=watched,
            external_id=external_id,
            limit=limit,
        )

    # -- for mirror/search.py --------------------------------------------------------------

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection (search runs its own read queries on it)."""
        return self._db

    def vocabulary(self) -> AbstractSet[str]:
        """The title index's terms (for typo correction), read once, kept up to date.

        Upserts add their title words; removals leave theirs (a stale word costs at
        most a correction that then matches nothing). A failed write drops the set.
        """
        if self._vocabulary is None:
            self._vocabulary = {
                term
                for (term,) in self._db.execute("SELECT term FROM search_titles_vocab")
            }
        return self._vocabulary

    def has_term(self, term: str) -> bool:
        """Whether ``term`` is indexed anywhere (titles, people, summaries)."""
        return any(
            self._db.execute(
                f"SELECT 1 FROM {table} WHERE term = ?",  # noqa: S608 - constant names
                (term,),
            ).fetchone()
            for table in ("search_titles_vocab", "search_text_vocab")
        )

    def has_prefix(self, prefix: str) -> bool:
        """Whether an indexed term starts with ``prefix``."""
        return any(
            self._db.execute(
                f"SELECT 1 FROM {table} WHERE term >= ? AND term < ? LIMIT 1",  # noqa: S608 - constant names
                (prefix, prefix + "\U0010ffff"),
            ).fetchone()
            for table in ("search_titles_vocab", "search_text_vocab")
        )
