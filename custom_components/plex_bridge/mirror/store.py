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
  the row's handle for the child tables and the FTS5 index.
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
it did not commit.

A file that is not a database, or fails ``PRAGMA quick_check``, or comes from a newer
version of the integration, is moved aside (``<name>.corrupt-<epoch>``) and replaced by
an empty store; ``open`` then returns ``True`` so that the caller runs a full sync and
tells the user.
"""

from __future__ import annotations

from collections.abc import (
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    Set as AbstractSet,
)
from contextlib import contextmanager
from dataclasses import dataclass, field
import json
import logging
import math
from pathlib import Path
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Final

from . import text
from .guids import normalize_guids

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

# -- schema --------------------------------------------------------------------------------

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
    "CREATE INDEX items_parent ON items(parent_key)",
    "CREATE INDEX items_bare_compact ON items(bare_compact)",
    "CREATE INDEX items_added ON items(added_at)",
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
    "CREATE INDEX external_ids_value ON external_ids(scheme, value)",
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

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (_SCHEMA_V1,)
"""``MIGRATIONS[n]``: the statements that take a file from version n to n + 1."""

_CHILD_TABLES: Final = (
    ("item_tags", "item_id"),
    ("external_ids", "item_id"),
    ("parts", "item_id"),
    ("search_titles", "rowid"),
    ("search_text", "rowid"),
)
"""What an item's upsert replaces (the first three would also go by cascade)."""

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
_UPSERT_ITEM: Final = (
    f"INSERT INTO items ({', '.join(_ITEM_COLUMNS)}) "  # noqa: S608 - constant names only
    f"VALUES ({', '.join('?' * len(_ITEM_COLUMNS))}) "
    "ON CONFLICT (rating_key) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _ITEM_COLUMNS[1:])
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


@dataclass(slots=True)
class _Row:
    """One item converted for the tables (built once per item per upsert)."""

    rating_key: str
    values: tuple[Any, ...]
    tags: list[tuple[str, str, str | None]]
    guids: dict[str, str]
    parts: list[tuple[str | None, str, int | None, str | None]]
    fts: tuple[str, str, str, str, str]


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

    ``(title, context, original, people, summary)``: the context of an episode is its
    show, of a track its artist and album, of anything else its parent (a season's
    show, an album's artist, a photo's album).
    """
    if plex_type == 4:
        context = text.normalize(grandparent_title)
    elif plex_type == 10:
        context = text.index_text(grandparent_title, parent_title)
    else:
        context = text.normalize(parent_title)
    return (
        text.index_title(title),
        context,
        text.normalize(original_title),
        text.index_text(*people),
        text.normalize(summary),
    )


def _convert(library_key: str, metadata: Mapping[str, Any]) -> _Row | None:
    """A Plex JSON Metadata dict as table rows; ``None`` for one the mirror skips."""
    plex_type = plex_type_of(metadata)
    rating_key = metadata.get("ratingKey")
    if plex_type is None or rating_key is None:
        return None
    rating_key = str(rating_key)
    get = metadata.get
    title = _str(get("title")) or ""
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
    title_normal = text.normalize(title)
    parent = get("parentRatingKey")
    grandparent = get("grandparentRatingKey")
    summary = _str(get("summary"))
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
        _str(get("guid")),
        text.bare(title_normal).replace(" ", ""),
    )
    tags: list[tuple[str, str, str | None]] = []
    people: list[str] = []
    for json_key, kind in TAG_KINDS.items():
        entries = get(json_key)
        if not entries:
            continue
        for entry in entries:
            tag = entry.get("tag") if isinstance(entry, dict) else None
            if not tag:
                continue
            tag = str(tag)
            tags.append((kind, tag, _str(entry.get("role"))))
            if json_key in PEOPLE_KINDS:
                people.append(tag)
    parts: list[tuple[str | None, str, int | None, str | None]] = []
    for media in get("Media") or ():
        for part in media.get("Part") or () if isinstance(media, dict) else ():
            path = part.get("file") if isinstance(part, dict) else None
            if path:
                parts.append(
                    (
                        _str(part.get("id")),
                        str(path),
                        _int(part.get("size")),
                        _str(part.get("container")),
                    )
                )
    fts = index_columns(
        plex_type,
        title,
        parent_title=parent_title,
        grandparent_title=grandparent_title,
        original_title=original_title,
        people=people,
        summary=summary,
    )
    guids = normalize_guids(_str(get("guid")), get("Guid"))
    return _Row(rating_key, values, tags, guids, parts, fts)


# -- the store -----------------------------------------------------------------------------


class MirrorStore:
    """The mirror's SQLite file (see the module docstring). One thread at a time."""

    SCHEMA_VERSION: Final[int] = len(MIGRATIONS)

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        """Wrap an open, migrated connection; use ``MirrorStore.open``."""
        self._db = connection
        self.path = path
        self._tag_ids: dict[tuple[str, str], int] = {}
        self._vocabulary: set[str] | None = None

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> tuple[MirrorStore, bool]:
        """Open or create the store at ``path``; ``True`` if a corrupt file was replaced."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return cls(cls._connect(path, check=path.exists()), path), False
        except sqlite3.DatabaseError as err:
            _LOGGER.warning(
                "Mirror database %s is unusable (%s); starting afresh", path, err
            )
        cls._move_aside(path)
        return cls(cls._connect(path, check=False), path), True

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
            connection.execute("PRAGMA cache_size = -32000")
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
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction; rolled back (and caches dropped) on any error."""
        cursor = self._db.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            self._tag_ids.clear()
            self._vocabulary = None
            raise
        cursor.execute("COMMIT")

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

    def _tag_id_map(
        self, cursor: sqlite3.Cursor, wanted: set[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """Ids of the (kind, tag) pairs, creating the new ones (cached per store)."""
        cache = self._tag_ids
        if not cache:
            cache.update(
                ((kind, tag), tag_id)
                for tag_id, kind, tag in cursor.execute(
                    "SELECT id, kind, tag FROM tags"
                )
            )
        missing = [pair for pair in wanted if pair not in cache]
        if missing:
            cursor.executemany(
                "INSERT INTO tags (kind, tag, norm) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(kind, tag, text.normalize(tag)) for kind, tag in missing],
            )
            cache.update(
                ((kind, tag), tag_id)
                for tag_id, kind, tag in cursor.execute(
                    "SELECT id, kind, tag FROM tags WHERE id > ?",
                    (max(cache.values(), default=0),),
                )
            )
        return cache

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
        rows_by_key: dict[str, _Row] = {}
        for entry in metadata:
            row = _convert(library_key, entry)
            if row is not None:
                rows_by_key[row.rating_key] = row
        rows = list(rows_by_key.values())
        keys = list(rows_by_key)
        with self._transaction() as cursor:
            if (
                cursor.execute(
                    "SELECT 1 FROM libraries WHERE key = ?", (library_key,)
                ).fetchone()
                is None
            ):
                raise MirrorStoreError(f"unknown library {library_key!r}")
            if progress is not None:
                self._save_progress(cursor, library_key, progress)
            if not rows:
                return UpsertResult(0, 0, [])
            before = self._existing_ids(cursor, keys)
            if before:
                old = (json.dumps(list(before.values())),)
                for table, column in _CHILD_TABLES:
                    cursor.execute(
                        f"DELETE FROM {table} WHERE {column} IN (SELECT value FROM json_each(?))",  # noqa: S608 - constant names only
                        old,
                    )
            cursor.executemany(_UPSERT_ITEM, [row.values for row in rows])
            ids = (
                before if len(before) == len(keys) else self._existing_ids(cursor, keys)
            )
            tag_ids = self._tag_id_map(
                cursor, {(kind, tag) for row in rows for kind, tag, _ in row.tags}
            )
            item_tags = []
            external = []
            parts = []
            fts = []
            mapper = paths or None
            for row in rows:
                item_id = ids[row.rating_key]
                for position, (kind, tag, role) in enumerate(row.tags):
                    item_tags.append((item_id, tag_ids[kind, tag], position, role))
                for scheme, value in row.guids.items():
                    external.append((item_id, scheme, value))
                for position, (part_id, plex_path, size, container) in enumerate(
                    row.parts
                ):
                    local = mapper.map(plex_path) if mapper is not None else None
                    parts.append(
                        (item_id, position, part_id, plex_path, local, size, container)
                    )
                fts.append((item_id, *row.fts))
            cursor.executemany(
                "INSERT OR IGNORE INTO item_tags (item_id, tag_id, position, role) "
                "VALUES (?, ?, ?, ?)",
                item_tags,
            )
            cursor.executemany(
                "INSERT INTO external_ids (item_id, scheme, value) VALUES (?, ?, ?)",
                external,
            )
            cursor.executemany(
                "INSERT INTO parts (item_id, position, part_id, plex_path, local_path, size, "
                "container) VALUES (?, ?, ?, ?, ?, ?, ?)",
                parts,
            )
            cursor.executemany(
                "INSERT INTO search_titles (rowid, title, context, original) "
                "VALUES (?, ?, ?, ?)",
                [row[:4] for row in fts],
            )
            cursor.executemany(
                "INSERT INTO search_text (rowid, people, summary) VALUES (?, ?, ?)",
                [(row[0], row[4], row[5]) for row in fts if row[4] or row[5]],
            )
            if self._vocabulary is not None:
                vocabulary = self._vocabulary
                for row in rows:
                    for column in row.fts[:3]:
                        vocabulary.update(column.split())
        added_keys = [key for key in keys if key not in before]
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
