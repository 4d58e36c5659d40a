"""The mirror's SQLite store against real files: schema, upserts, removals, sync state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import sqlite3
from typing import Any

import pytest

from custom_components.plex_bridge.mirror.guids import normalize_guids
from custom_components.plex_bridge.mirror.paths import PathMapper
from custom_components.plex_bridge.mirror.store import (
    DEFER_MIN,
    DEFERRABLE_INDEXES,
    FILTER_INDEX,
    MIGRATIONS,
    MirrorStore,
    MirrorStoreError,
)
from custom_components.plex_bridge.mirror.sync import _child_counts

from . import (
    SECTIONS,
    album,
    artist,
    episode,
    movie,
    photo,
    photo_album,
    season,
    show,
    tags,
    track,
)

Meta = dict[str, Any]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MirrorStore]:
    """A fresh store with the four sections of ``SECTIONS``."""
    opened, recovered = MirrorStore.open(tmp_path / "mirror.db")
    assert recovered is False
    opened.set_libraries(SECTIONS)
    yield opened
    opened.close()


def tv_library() -> tuple[list[Meta], list[Meta], list[Meta]]:
    """Two shows, three seasons, five episodes."""
    bb = show("100", "Breaking Bad")
    office = show("200", "The Office")
    seasons = [season("101", bb, 1), season("102", bb, 2), season("201", office, 1)]
    episodes = [
        episode("1011", seasons[0], 1, "Pilot"),
        episode("1012", seasons[0], 2, "Cat's in the Bag..."),
        episode("1021", seasons[1], 1, "Seven Thirty-Seven"),
        episode("2011", seasons[2], 1, "Pilot"),
        episode("2012", seasons[2], 2, "Diversity Day"),
    ]
    return [bb, office], seasons, episodes


def test_schema_is_created_in_wal_with_its_version(tmp_path: Path) -> None:
    """A new file is a WAL database at the current schema version, foreign keys on."""
    path = tmp_path / "sub" / "mirror.db"
    store, recovered = MirrorStore.open(path)
    try:
        assert recovered is False
        db = store.connection
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert (
            db.execute("PRAGMA user_version").fetchone()[0]
            == MirrorStore.SCHEMA_VERSION
        )
        assert len(MIGRATIONS) == MirrorStore.SCHEMA_VERSION
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        assert {
            "libraries",
            "items",
            "tags",
            "item_tags",
            "external_ids",
            "parts",
        } <= tables
        assert {
            "sync_state",
            "search_titles",
            "search_text",
            "search_titles_vocab",
        } <= tables
    finally:
        store.close()


def test_reopen_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    """Closing and opening again finds the same items; the version is unchanged."""
    path = tmp_path / "mirror.db"
    store, _ = MirrorStore.open(path)
    store.set_libraries(SECTIONS)
    store.upsert_items("1", [movie("1", "Heat", year=1995)])
    store.close()
    store, recovered = MirrorStore.open(path)
    try:
        assert recovered is False
        item = store.item("1")
        assert item is not None
        assert (item.title, item.year) == ("Heat", 1995)
    finally:
        store.close()


def test_an_old_file_is_migrated(tmp_path: Path) -> None:
    """A file at version 0 (an empty database) gets every migration."""
    path = tmp_path / "mirror.db"
    sqlite3.connect(path).close()
    store, recovered = MirrorStore.open(path)
    try:
        assert recovered is False
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == len(
            MIGRATIONS
        )
    finally:
        store.close()


def _older_file(
    path: Path, library: str, items: list[Meta], version: int, *statements: str
) -> None:
    """A store holding ``items``, taken back to ``version`` by ``statements``."""
    store, _ = MirrorStore.open(path)
    store.set_libraries(SECTIONS)
    store.upsert_items(library, items)
    for statement in statements:
        store.connection.execute(statement)
    store.connection.execute(f"PRAGMA user_version = {version}")
    store.close()


def _migrated(path: Path) -> MirrorStore:
    """The store at ``path`` opened again: kept (not rebuilt) and at the newest version."""
    store, recovered = MirrorStore.open(path)
    try:
        assert recovered is False
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == len(
            MIGRATIONS
        )
    except BaseException:
        store.close()
        raise
    return store


def test_a_version_1_file_keeps_its_items_and_gains_the_filter_index(
    tmp_path: Path,
) -> None:
    """Version 2 adds the covering index of filtered searches to a file with items.

    The version 1 file: a store with an item, without the index, at version 1
    (version 2 added nothing else).
    """
    path = tmp_path / "mirror.db"
    _older_file(
        path, "1", [movie("1", "Heat", year=1995)], 1, f"DROP INDEX {FILTER_INDEX}"
    )

    store = _migrated(path)
    try:
        assert FILTER_INDEX in _indexes(store)
        hits = store.search("heat", types=["movie"], year_range=(1990, 2000))
        assert [hit.item.rating_key for hit in hits] == ["1"]
    finally:
        store.close()


def _index_columns(store: MirrorStore, name: str) -> list[str]:
    return [
        str(row[2]) for row in store.connection.execute(f"PRAGMA index_info({name})")
    ]


def test_a_version_2_file_gets_the_covering_titles_index(tmp_path: Path) -> None:
    """Version 3 makes the index of bare titles cover the search filters.

    The version 2 file: a store with an item whose titles' index has the title
    alone, at version 2. A filtered lookup of titles then reads no item row.
    """
    path = tmp_path / "mirror.db"
    _older_file(
        path,
        "1",
        [movie("1", "The Velvet Hour", year=1989)],
        2,
        "DROP INDEX items_bare_compact",
        "CREATE INDEX items_bare_compact ON items(bare_compact)",
    )

    store = _migrated(path)
    try:
        assert _index_columns(store, "items_bare_compact") == [
            "bare_compact",
            "type",
            "year",
            "library_key",
            "watched",
        ]
        plan = _plan(
            store,
            "SELECT i.id FROM items i WHERE i.bare_compact >= ? AND i.bare_compact < ? "
            "AND i.type IN (1) AND i.year BETWEEN ? AND ?",
            "velvet",
            "velvet\U0010ffff",
            1987,
            1991,
        )
        assert "COVERING INDEX items_bare_compact" in plan
        hits = store.search("the velvet", types=["movie"], year_range=(1987, 1991))
        assert [(hit.item.rating_key, hit.match) for hit in hits] == [("1", "prefix")]
    finally:
        store.close()


def test_a_version_3_file_gets_the_index_of_children(tmp_path: Path) -> None:
    """Version 4 counts each parent's children of a type in an index.

    The version 3 file: a store with a show, its seasons and episodes, without the
    index, at version 3. The sync's count per season then reads no item row and
    sorts nothing.
    """
    path = tmp_path / "mirror.db"
    shows, seasons, episodes = tv_library()
    _older_file(
        path, "2", [*shows, *seasons, *episodes], 3, "DROP INDEX items_children"
    )

    store = _migrated(path)
    try:
        assert _index_columns(store, "items_children") == [
            "library_key",
            "type",
            "parent_key",
        ]
        plan = _plan(
            store,
            "SELECT parent_key, COUNT(*) FROM items WHERE library_key = ? AND type = ? "
            "AND parent_key IS NOT NULL GROUP BY parent_key",
            "2",
            4,
        )
        assert "COVERING INDEX items_children" in plan
        assert "TEMP B-TREE" not in plan
        assert _child_counts(store, "2", 4, "parent_key") == {
            "101": 2,
            "102": 1,
            "201": 2,
        }
    finally:
        store.close()


def test_a_newer_schema_is_set_aside(tmp_path: Path) -> None:
    """A file from a newer integration is not misread: it is moved aside and rebuilt."""
    path = tmp_path / "mirror.db"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    connection.close()
    store, recovered = MirrorStore.open(path)
    store.close()
    assert recovered is True
    assert len(list(tmp_path.glob("mirror.db.corrupt-*"))) == 1


def test_libraries_are_stored_and_removed_with_their_items(store: MirrorStore) -> None:
    """set_libraries stores sections; a section no longer listed goes with its items."""
    assert [library.key for library in store.libraries()] == ["1", "2", "3", "4"]
    first = store.libraries()[0]
    assert (first.title, first.type, first.uuid) == ("Movies", "movie", "u-1")
    store.upsert_items("1", [movie("1", "Heat")])
    shows, seasons, episodes = tv_library()
    store.upsert_items("2", shows + seasons + episodes)
    assert store.counts() == {"1": {1: 1}, "2": {2: 2, 3: 3, 4: 5}}

    renamed = [dict(SECTIONS[0], title="Films"), SECTIONS[2], SECTIONS[3]]
    assert store.set_libraries(renamed) == ["2"]
    assert [library.title for library in store.libraries()] == [
        "Films",
        "Music",
        "Photos",
    ]
    assert store.counts() == {"1": {1: 1}}
    assert store.item("1011") is None
    assert store.sync_state("2").cursor is None
    # The search index lost the removed items too.
    rows = store.connection.execute("SELECT count(*) FROM search_titles").fetchone()[0]
    assert rows == 1


def test_upsert_stores_every_field(store: MirrorStore) -> None:
    """A movie as Plex sends it: fields, external ids, genres and file parts."""
    result = store.upsert_items(
        "1",
        [
            movie(
                "603",
                "The Matrix",
                originalTitle="Matrix",
                titleSort="Matrix",
                year=1999,
                summary="A hacker learns the truth.",
                duration=8160000,
                rating=8.7,
                contentRating="R",
                studio="Warner Bros.",
                addedAt=1_600_000_000,
                updatedAt=1_600_000_100,
                viewCount=2,
                lastViewedAt=1_650_000_000,
                thumb="/library/metadata/603/thumb/1",
                Guid=[{"id": "imdb://tt0133093"}, {"id": "tmdb://603"}],
                Genre=tags("Action", "Science Fiction"),
                Director=tags("Lana Wachowski"),
                Role=[{"tag": "Keanu Reeves", "role": "Neo"}],
            )
        ],
    )
    assert (result.added, result.updated, result.added_keys) == (1, 0, ["603"])
    item = store.item("603")
    assert item is not None
    assert item.type == "movie"
    assert item.library_key == "1"
    assert item.title == "The Matrix"
    assert item.original_title == "Matrix"
    assert item.sort_title == "Matrix"
    assert (item.year, item.duration, item.rating) == (1999, 8160000, 8.7)
    assert (item.content_rating, item.studio) == ("R", "Warner Bros.")
    assert (item.added_at, item.updated_at) == (1_600_000_000, 1_600_000_100)
    assert (item.view_count, item.last_viewed_at, item.watched) == (
        2,
        1_650_000_000,
        True,
    )
    assert item.thumb == "/library/metadata/603/thumb/1"
    assert item.guids == {"imdb": "tt0133093", "tmdb": "603", "plex": f"{603:024x}"}
    assert item.genres == ("Action", "Science Fiction")
    assert item.parts == (("/data/movies/The Matrix.mkv", None),)
    kinds = dict(
        store.connection.execute(
            "SELECT tags.kind, count(*) FROM item_tags JOIN tags ON tags.id = tag_id "
            "GROUP BY tags.kind"
        ).fetchall()
    )
    assert kinds == {"genre": 2, "director": 1, "actor": 1}
    assert store.connection.execute(
        "SELECT role FROM item_tags WHERE role IS NOT NULL"
    ).fetchall() == [("Neo",)]


def test_every_type_with_parents_and_indexes(store: MirrorStore) -> None:
    """Seasons, episodes, albums, tracks, photo albums and photos keep their links."""
    shows, seasons, episodes = tv_library()
    store.upsert_items("2", shows + seasons + episodes)
    daft = artist("300", "Daft Punk")
    discovery = album("301", daft, "Discovery", year=2001)
    store.upsert_items(
        "3", [daft, discovery, track("3011", discovery, 1, "One More Time")]
    )
    lisbon = photo_album("400", "Summer in Lisbon")
    store.upsert_items(
        "4", [lisbon, photo("4001", lisbon, "IMG_0001"), photo("4100", None, "Loose")]
    )

    assert store.counts() == {
        "2": {2: 2, 3: 3, 4: 5},
        "3": {8: 1, 9: 1, 10: 1},
        "4": {14: 1, 13: 2},
    }
    ep = store.item("1012")
    assert ep is not None
    assert ep.type == "episode"
    assert (ep.parent_key, ep.grandparent_key) == ("101", "100")
    assert (ep.index, ep.parent_index) == (2, 1)
    assert (ep.parent_title, ep.grandparent_title) == ("Season 1", "Breaking Bad")
    tr = store.item("3011")
    assert tr is not None
    assert (tr.type, tr.parent_key, tr.grandparent_key, tr.grandparent_title) == (
        "track",
        "301",
        "300",
        "Daft Punk",
    )
    assert [i.type for i in store.items(["400", "4001"])] == ["photoalbum", "photo"]
    assert store.rating_keys("2", 4) == {"1011", "1012", "1021", "2011", "2012"}
    assert store.count() == 16
    assert store.count("2") == 10
    assert store.count("2", 3) == 3
    assert store.count(plex_type=4) == 5


def test_items_keeps_the_order_asked_and_skips_missing(store: MirrorStore) -> None:
    """items() answers in the order of the keys; unknown keys are left out."""
    store.upsert_items("1", [movie("1", "A"), movie("2", "B"), movie("3", "C")])
    assert [i.rating_key for i in store.items(["3", "nope", "1", "3"])] == ["3", "1"]
    assert store.items([]) == []
    assert store.item("nope") is None


def test_update_replaces_fields_tags_ids_and_parts(store: MirrorStore) -> None:
    """A second upsert of the same key updates it and replaces its child rows."""
    store.upsert_items(
        "1",
        [
            movie(
                "1",
                "Heat",
                Genre=tags("Crime", "Drama"),
                Guid=[{"id": "imdb://tt0113277"}],
            )
        ],
    )
    first_id = store.connection.execute(
        "SELECT id FROM items WHERE rating_key = '1'"
    ).fetchone()
    result = store.upsert_items(
        "1",
        [
            movie("1", "Heat (Director's Cut)", Genre=tags("Thriller"), viewCount=1),
            movie("2", "Ronin"),
        ],
    )
    assert (result.added, result.updated, result.added_keys) == (1, 1, ["2"])
    item = store.item("1")
    assert item is not None
    assert item.title == "Heat (Director's Cut)"
    assert item.genres == ("Thriller",)
    assert item.guids == {"plex": f"{1:024x}"}
    assert item.watched is True
    assert item.parts == (("/data/movies/Heat (Director's Cut).mkv", None),)
    # Same row, so the search index and child tables stay keyed to it.
    assert (
        store.connection.execute(
            "SELECT id FROM items WHERE rating_key = '1'"
        ).fetchone()
        == first_id
    )
    assert (
        store.connection.execute("SELECT count(*) FROM search_titles").fetchone()[0]
        == 2
    )
    assert store.connection.execute("SELECT count(*) FROM item_tags").fetchone()[0] == 1


def test_an_update_rewrites_the_search_text_only_where_it_changed(
    store: MirrorStore,
) -> None:
    """A new play count leaves both FTS5 rows; a new summary rewrites only its own.

    The statements the store ran tell which rows were written; searches and the
    FTS5 integrity check tell that the index still says the right thing.
    """
    db = store.connection

    def upsert(**fields: Any) -> list[str]:
        statements: list[str] = []
        db.set_trace_callback(statements.append)
        try:
            store.upsert_items("1", [movie("1", "Heat", **fields)])
        finally:
            db.set_trace_callback(None)
        return [
            " ".join(sql.split()[:3])
            for sql in statements
            if sql.startswith(("INSERT INTO search_", "DELETE FROM search_"))
        ]

    def found(query: str) -> bool:
        return [hit.item.rating_key for hit in store.search(query)] == ["1"]

    def check_index() -> None:
        for table in ("search_titles", "search_text"):
            db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")  # noqa: S608

    text = {
        "summary": "A bank robbery in Los Angeles.",
        "Director": tags("Michael Mann"),
    }
    store.upsert_items("1", [movie("2", "Ronin", summary="Mercenaries and a case.")])
    assert upsert(**text) == [
        "INSERT INTO search_titles",
        "INSERT INTO search_text",
    ]
    assert upsert(**text, viewCount=3) == []
    assert found("heat")
    assert found("robbery")
    assert found("michael mann")
    assert upsert(summary="A heist in Los Angeles.", Director=tags("Michael Mann")) == [
        "DELETE FROM search_text",
        "INSERT INTO search_text",
    ]
    assert found("heist")
    assert not found("robbery")
    # No summary and no people: the row goes, and nothing is inserted for it.
    assert upsert() == ["DELETE FROM search_text"]
    assert not found("heist")
    assert not found("michael mann")
    assert db.execute("SELECT count(*) FROM search_text").fetchone()[0] == 1
    assert found("heat")
    check_index()


def test_duplicate_keys_in_one_batch_keep_the_last(store: MirrorStore) -> None:
    """A batch naming one key twice stores it once, as its last form."""
    result = store.upsert_items("1", [movie("1", "Old"), movie("1", "New")])
    assert (result.added, result.updated) == (1, 0)
    item = store.item("1")
    assert item is not None
    assert item.title == "New"


def test_skipped_kinds_and_unknown_library(store: MirrorStore) -> None:
    """Clips and collections are not mirrored; an unknown library is an error."""
    clip = {"ratingKey": "9", "type": "clip", "title": "Trailer"}
    no_key = {"type": "movie", "title": "No key"}
    assert store.upsert_items("1", [clip, no_key]).added == 0
    assert store.count() == 0
    with pytest.raises(MirrorStoreError):
        store.upsert_items("99", [movie("1", "Heat")])
    assert store.count() == 0


GUID_FORMS = [
    "plex://movie/5d776b85594b2b001e6dc641",
    "PLEX://movie/5D776B85594B2B001E6DC641",
    "plex://movie/5d776b85594b2b001e6dc641?lang=en",
    "plex://5d776b85594b2b001e6dc641",
    "plex://movie/",
    " plex://movie/abc ",
    "imdb://tt0133093",
    "IMDB://TT0133093",
    "imdb://tt0133093\n",
    "imdb://tt0133093?lang=en",
    "tmdb://603",
    "tmdb://603/1/2",
    "tvdb://81189",
    "tvdb://١٢٣",
    "tvdb://",
    "com.plexapp.agents.imdb://tt0133093?lang=en",
    "com.plexapp.agents.thetvdb://123/1/2?lang=en",
    "com.plexapp.agents.themoviedb://603",
    "local://1234",
    "nonsense",
]


@pytest.mark.parametrize("guid", [*GUID_FORMS, None, ""])
def test_external_ids_are_those_of_normalize_guids(
    store: MirrorStore, guid: str | None
) -> None:
    """The store's quick reading of guids gives what ``normalize_guids`` gives."""
    elements: list[Any] = [{"id": form} for form in GUID_FORMS]
    elements += [{"id": 5}, "imdb://tt0000001", {"id": None}]
    for index, chosen in enumerate([elements, elements[::-1], [], None]):
        key = str(index + 1)
        store.upsert_items("1", [movie(key, "Heat", guid=guid, Guid=chosen)])
        item = store.item(key)
        assert item is not None
        assert item.guids == normalize_guids(guid, chosen)


def test_watched_state_of_containers(store: MirrorStore) -> None:
    """A show is watched when every leaf is; a movie when it has a view count."""
    store.upsert_items(
        "2",
        [
            show("1", "All seen", leafCount=3, viewedLeafCount=3),
            show("2", "Half seen", leafCount=4, viewedLeafCount=2, viewCount=2),
            show("3", "Empty", leafCount=0, viewedLeafCount=0),
        ],
    )
    assert [i.watched for i in store.items(["1", "2", "3"])] == [True, False, False]


def test_paths_are_mapped_on_upsert(store: MirrorStore) -> None:
    """With a PathMapper each part gets its local path; unmatched parts get None."""
    mapper = PathMapper([{"plex": "/data/movies", "local": r"\\nas\films"}])
    episodes = tv_library()[2]
    store.upsert_items("1", [movie("1", "Heat")], paths=mapper)
    store.upsert_items("2", episodes[:1], paths=mapper)
    heat = store.item("1")
    assert heat is not None
    assert heat.parts == (("/data/movies/Heat.mkv", r"\\nas\films\Heat.mkv"),)
    pilot = store.item("1011")
    assert pilot is not None
    assert pilot.parts == (("/data/tv/Breaking Bad/Pilot.mkv", None),)


@pytest.mark.parametrize(
    ("removed", "left"),
    [
        (["100"], {"200", "201", "2011", "2012"}),
        (["101"], {"100", "102", "1021", "200", "201", "2011", "2012"}),
        (["1011", "2012"], {"100", "101", "1012", "102", "1021", "200", "201", "2011"}),
        (["100", "200"], set()),
    ],
    ids=["show", "season", "episodes", "all"],
)
def test_remove_takes_children(
    store: MirrorStore, removed: list[str], left: set[str]
) -> None:
    """Removing a show takes its seasons and episodes; a season its episodes."""
    shows, seasons, episodes = tv_library()
    store.upsert_items("2", shows + seasons + episodes)
    gone = store.remove_items(removed)
    assert gone == 10 - len(left)
    assert set().union(*(store.rating_keys("2", t) for t in (2, 3, 4))) == left
    assert store.connection.execute("SELECT count(*) FROM search_titles").fetchone()[
        0
    ] == len(left)
    orphans = store.connection.execute(
        "SELECT count(*) FROM parts WHERE item_id NOT IN (SELECT id FROM items)"
    ).fetchone()[0]
    assert orphans == 0


def test_remove_music_photos_and_episodes_without_their_season(
    store: MirrorStore,
) -> None:
    """Artist -> albums -> tracks, photo album -> photos; grandparent links count too."""
    daft = artist("300", "Daft Punk")
    discovery = album("301", daft, "Discovery")
    store.upsert_items(
        "3", [daft, discovery, track("3011", discovery, 1, "One More Time")]
    )
    lisbon = photo_album("400", "Lisbon")
    store.upsert_items(
        "4", [lisbon, photo("4001", lisbon, "IMG_1"), photo("4100", None, "Loose")]
    )
    bb = show("100", "Breaking Bad")
    # An episode whose season the mirror does not hold still goes with its show.
    lone = episode("1011", season("101", bb, 1), 1, "Pilot")
    store.upsert_items("2", [bb, lone])

    assert store.remove_items(["300", "400", "100", "unknown"]) == 7
    assert store.count() == 1
    assert store.item("4100") is not None
    assert store.remove_items([]) == 0


def test_grandchildren_are_looked_for_only_under_possible_grandparents(
    store: MirrorStore,
) -> None:
    """Removing leaves skips the whole-table grandparent scan; a show still has it.

    A key the mirror does not hold may still be the grandparent of leaves it has
    (an episode refetched before its show): those go too.
    """
    bb = show("100", "Breaking Bad")
    first = season("101", bb, 1)
    store.upsert_items(
        "2",
        [first, episode("1011", first, 1, "Pilot"), episode("1012", first, 2, "Cat")],
    )
    store.upsert_items("1", [movie("1", "Heat"), movie("2", "Ronin")])
    scans: list[str] = []
    store.connection.set_trace_callback(
        lambda sql: scans.append(sql) if "grandparent_key IN" in sql else None
    )
    try:
        assert store.remove_items(["1", "1012"]) == 2
        assert scans == []
        # The show is not in the mirror, but its season's episode goes with it.
        store.connection.execute("DELETE FROM items WHERE rating_key = '101'")
        assert store.remove_items(["100"]) == 1
        assert len(scans) == 1
    finally:
        store.connection.set_trace_callback(None)
    assert store.item("1011") is None
    assert store.item("2") is not None


def test_sync_state_progress_and_finish(store: MirrorStore) -> None:
    """Progress is saved with the items; finish_library clears it and sets the cursor."""
    assert store.sync_state("1").progress == {}
    store.upsert_items("2", [show("1", "A")], progress=(2, 100))
    store.upsert_items("2", [season("2", show("1", "A"), 1)], progress=(3, 50))
    store.upsert_items("2", [], progress=(2, 200))
    state = store.sync_state("2")
    assert state.progress == {2: 200, 3: 50}
    assert state.cursor is None
    assert state.synced_at is None
    store.finish_library("2", cursor=1_700_000_123, result={"added": 2, "updated": 0})
    state = store.sync_state("2")
    assert state.progress == {}
    assert state.cursor == 1_700_000_123
    assert state.last_result == {"added": 2, "updated": 0}
    assert state.synced_at is not None
    assert store.sync_state("unknown").cursor is None
    with pytest.raises(MirrorStoreError):
        store.finish_library("99", cursor=1, result={})


def test_progress_and_items_commit_together(store: MirrorStore) -> None:
    """A batch that fails leaves neither its items nor its progress behind."""
    store.upsert_items("1", [movie("1", "Heat")], progress=(1, 1))
    # A write that fails after the items went in (as a full disk would).
    store.connection.execute(
        "CREATE TEMP TRIGGER fail BEFORE INSERT ON parts WHEN NEW.plex_path LIKE '%Ronin%' "
        "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    with pytest.raises(sqlite3.Error, match="disk on fire"):
        store.upsert_items(
            "1",
            [movie("3", "Thief", Genre=tags("Crime")), movie("2", "Ronin")],
            progress=(1, 3),
        )
    store.connection.execute("DROP TRIGGER fail")
    assert store.sync_state("1").progress == {1: 1}
    assert store.rating_keys("1", 1) == {"1"}
    # The store still works after the rollback (its tag cache was dropped).
    store.upsert_items("1", [movie("3", "Thief", Genre=tags("Crime"))], progress=(1, 3))
    assert store.sync_state("1").progress == {1: 3}
    item = store.item("3")
    assert item is not None
    assert item.genres == ("Crime",)


def _indexes(store: MirrorStore) -> set[str]:
    return {
        name
        for (name,) in store.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }


def _plan(store: MirrorStore, sql: str, *args: Any) -> str:
    return " ".join(
        str(row[-1])
        for row in store.connection.execute(f"EXPLAIN QUERY PLAN {sql}", args)
    )


def _answers(store: MirrorStore) -> list[Any]:
    """What a few searches and reads that use the deferrable indexes return."""
    queries: list[tuple[str | None, dict[str, Any]]] = [
        ("matrix", {}),
        ("the mat", {}),
        ("pilot", {"types": ["episode"]}),
        ("office", {"types": ["show"]}),
        (None, {"external_id": ("imdb", "tt0133093")}),
        (None, {"genre": "crime"}),
    ]
    return [
        [(hit.item.rating_key, hit.match) for hit in store.search(text, **filters)]
        for text, filters in queries
    ] + [store.counts(), sorted(store.rating_keys("2", 4))]


def test_a_big_full_sync_defers_the_secondary_indexes(store: MirrorStore) -> None:
    """Indexes go for a big write, reads answer the same without them, and come back."""
    shows, seasons, episodes = tv_library()
    store.upsert_items("2", [*shows, *seasons, *episodes])
    store.upsert_items(
        "1",
        [
            movie("1", "The Matrix", Guid=[{"id": "imdb://tt0133093"}]),
            movie("2", "Heat", Genre=tags("Crime")),
        ],
    )
    expected = _answers(store)
    assert all(expected[:6])  # every search finds something
    assert set(DEFERRABLE_INDEXES) <= _indexes(store)
    # A small sync keeps them: building them again would cost more.
    assert store.defer_indexes(DEFER_MIN - 1) is False
    assert set(DEFERRABLE_INDEXES) <= _indexes(store)
    assert store.defer_indexes(DEFER_MIN) is True
    assert not set(DEFERRABLE_INDEXES) & _indexes(store)
    # The indexes that search names (INDEXED BY) and the unique key stay.
    assert {"items_library_type", FILTER_INDEX} <= _indexes(store)
    assert _answers(store) == expected
    # Writes and removals work without them (a removal walks parent links).
    store.upsert_items("2", [episode("2013", seasons[2], 3, "Health Care")])
    assert store.remove_items(["2013"]) == 1
    assert store.remove_items(["100"]) == 1 + 2 + 3
    expected = _answers(store)
    statements: list[str] = []
    store.connection.set_trace_callback(statements.append)
    try:
        store.restore_indexes()
        # The sync's commits left a segment each: merged, in the same transaction.
        assert [sql for sql in statements if "'optimize'" in sql] == [
            "INSERT INTO search_titles (search_titles) VALUES ('optimize')",
            "INSERT INTO search_text (search_text) VALUES ('optimize')",
        ]
        statements.clear()
        store.restore_indexes()  # nothing dropped: nothing built, nothing merged
        assert statements == []
    finally:
        store.connection.set_trace_callback(None)
    store.connection.execute(  # raises if the merge broke the index
        "INSERT INTO search_titles (search_titles) VALUES ('integrity-check')"
    )
    assert set(DEFERRABLE_INDEXES) <= _indexes(store)
    assert "items_parent" in _plan(
        store, "SELECT id FROM items WHERE parent_key = ?", "201"
    )
    assert _answers(store) == expected
    assert store.count("2") == 4
    store.restore_indexes()  # nothing to do
    assert set(DEFERRABLE_INDEXES) <= _indexes(store)


def test_indexes_dropped_by_an_interrupted_sync_come_back_on_open(
    tmp_path: Path,
) -> None:
    """A process killed mid-sync leaves the indexes dropped; the next open builds them."""
    path = tmp_path / "mirror.db"
    store, _ = MirrorStore.open(path)
    store.set_libraries(SECTIONS)
    assert store.defer_indexes(10 * DEFER_MIN)
    store.upsert_items("1", [movie("1", "Heat")], progress=(1, 1))
    store.close()  # never restored
    other, recovered = MirrorStore.open(path)
    try:
        assert recovered is False
        assert set(DEFERRABLE_INDEXES) <= _indexes(other)
        assert other.sync_state("1").progress == {1: 1}
        assert other.connection.execute("PRAGMA integrity_check").fetchall() == [
            ("ok",)
        ]
    finally:
        other.close()


class FullDiskStore(MirrorStore):
    """A store whose disk is full when it tries to build indexes."""

    def restore_indexes(self) -> None:
        """Fail as SQLite does on a full disk."""
        raise sqlite3.OperationalError("database or disk is full")


def test_indexes_that_cannot_be_built_on_open_keep_the_file(tmp_path: Path) -> None:
    """A full disk when the dropped indexes are rebuilt: the file is kept as it is."""
    path = tmp_path / "mirror.db"
    store, _ = MirrorStore.open(path)
    store.set_libraries(SECTIONS)
    assert store.defer_indexes(10 * DEFER_MIN)
    store.upsert_items("1", [movie("1", "Heat")], progress=(1, 1))
    store.close()
    full, recovered = FullDiskStore.open(path)
    try:
        assert recovered is False
        assert not list(tmp_path.glob("*.corrupt-*"))
        assert full.rating_keys("1", 1) == {"1"}
        assert [hit.item.rating_key for hit in full.search("heat")] == ["1"]
    finally:
        full.close()
    # Room again: the next open (or the end of the next sync) builds them.
    again, _ = MirrorStore.open(path)
    try:
        assert set(DEFERRABLE_INDEXES) <= _indexes(again)
    finally:
        again.close()


def test_upserts_leave_foreign_keys_on(store: MirrorStore) -> None:
    """Upserts skip the reference checks of their own rows, and only those."""
    store.upsert_items("1", [movie("1", "Heat", Genre=tags("Crime"))])
    assert store.connection.execute("PRAGMA foreign_keys").fetchone() == (1,)
    with pytest.raises(MirrorStoreError):
        store.upsert_items("99", [movie("2", "Ronin")])
    assert store.connection.execute("PRAGMA foreign_keys").fetchone() == (1,)
    # Every row written refers to what exists, and removals still cascade.
    assert store.connection.execute("PRAGMA foreign_key_check").fetchall() == []
    store.remove_items(["1"])
    for table in ("item_tags", "external_ids", "parts"):
        assert store.connection.execute(
            f"SELECT count(*) FROM {table}"  # noqa: S608 - constant names
        ).fetchone() == (0,)


def test_new_tags_in_one_batch_get_one_row_each(store: MirrorStore) -> None:
    """A tag new to the file, on several items of one batch, is one tags row."""
    store.upsert_items(
        "1",
        [
            movie("1", "Heat", Genre=tags("Crime", "Drama")),
            movie("2", "Ronin", Genre=tags("Crime"), Role=tags("Jean Reno")),
        ],
    )
    store.upsert_items("1", [movie("3", "Leon", Role=tags("Jean Reno"))])
    rows = store.connection.execute(
        "SELECT kind, tag, count(*) FROM tags GROUP BY kind, tag ORDER BY kind, tag"
    ).fetchall()
    assert rows == [
        ("actor", "Jean Reno", 1),
        ("genre", "Crime", 1),
        ("genre", "Drama", 1),
    ]
    assert [hit.item.rating_key for hit in store.search(None, genre="crime")] in (
        ["1", "2"],
        ["2", "1"],
    )


def test_a_full_disk_mid_batch_leaves_the_store_usable(store: MirrorStore) -> None:
    """SQLite's own SQLITE_FULL rolls back the batch; the same store writes again.

    SQLite ends the transaction itself on a full disk, so the store must not
    raise a second error from its ROLLBACK, and must forget the tag ids of the
    rolled-back rows (before, every later upsert failed on a foreign key).
    ``max_page_count`` is SQLite's own limit, the file's "disk".
    """
    db = store.connection
    store.upsert_items("1", [movie("1", "Heat", Genre=tags("Crime"))])
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    many = [
        movie(str(key), f"Film {key}", summary="x" * 2000, Genre=tags(f"G{key}"))
        for key in range(2, 400)
    ]
    with pytest.raises(sqlite3.OperationalError, match="full"):
        store.upsert_items("1", many)
    assert store.rating_keys("1", 1) == {"1"}

    db.execute("PRAGMA max_page_count = 1073741823")
    store.upsert_items("1", many)
    assert len(store.rating_keys("1", 1)) == 399
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert [hit.item.rating_key for hit in store.search(None, genre="g7")] == ["7"]


def test_a_crash_mid_transaction_leaves_the_last_commit(tmp_path: Path) -> None:
    """An open transaction that never commits (a killed process) is not in the file."""
    path = tmp_path / "mirror.db"
    store, _ = MirrorStore.open(path)
    store.set_libraries(SECTIONS)
    store.upsert_items("1", [movie("1", "Heat")], progress=(1, 1))
    # Simulate a process killed half-way through a batch: begin, write, never commit.
    db = store.connection
    db.execute("BEGIN IMMEDIATE")
    db.execute(
        "UPDATE sync_state SET progress = '{\"1\": 999}' WHERE library_key = '1'"
    )
    db.execute("DELETE FROM items")
    other, recovered = MirrorStore.open(path)
    try:
        assert recovered is False
        assert other.sync_state("1").progress == {1: 1}
        assert other.rating_keys("1", 1) == {"1"}
    finally:
        other.close()
        db.execute("ROLLBACK")
        store.close()


def test_garbage_file_is_moved_aside(tmp_path: Path) -> None:
    """A file that is not a database is renamed and a fresh store is made."""
    path = tmp_path / "mirror.db"
    path.write_bytes(b"this is not a database, just garbage " * 200)
    store, recovered = MirrorStore.open(path)
    try:
        assert recovered is True
        assert store.count() == 0
        store.set_libraries(SECTIONS)
        store.upsert_items("1", [movie("1", "Heat")])
        assert store.count() == 1
    finally:
        store.close()
    aside = list(tmp_path.glob("mirror.db.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes().startswith(b"this is not a database")


def test_truncated_database_is_moved_aside(tmp_path: Path) -> None:
    """A real mirror cut short (a disk that filled up) is detected and rebuilt."""
    path = tmp_path / "mirror.db"
    store, _ = MirrorStore.open(path)
    store.set_libraries(SECTIONS)
    store.upsert_items(
        "1", [movie(str(i), f"Movie {i}", summary="words " * 50) for i in range(1, 400)]
    )
    store.close()
    data = path.read_bytes()
    assert len(data) > 64 * 1024
    path.write_bytes(data[: len(data) // 2])
    store, recovered = MirrorStore.open(path)
    try:
        assert recovered is True
        assert store.count() == 0
    finally:
        store.close()
    assert len(list(tmp_path.glob("mirror.db.corrupt-*"))) == 1


def test_damaged_pages_are_detected(tmp_path: Path) -> None:
    """A file with a valid header but overwritten pages fails quick_check."""
    path = tmp_path / "mirror.db"
    store, _ = MirrorStore.open(path)
    store.set_libraries(SECTIONS)
    store.upsert_items("1", [movie(str(i), f"Movie {i}") for i in range(1, 300)])
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data), 3 * page):
        data[offset : offset + 512] = b"\xff" * 512
    path.write_bytes(bytes(data))
    store, recovered = MirrorStore.open(path)
    store.close()
    assert recovered is True
