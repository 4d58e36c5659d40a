"""Search over a small hand-made mirror: ranking, accents, punctuation, typos, filters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from custom_components.plex_bridge.mirror.search import (
    OTHER_TEXT,
    TITLE_TEXT,
    SearchHit,
)
from custom_components.plex_bridge.mirror.store import FILTER_INDEX, MirrorStore

from . import SECTIONS, album, artist, episode, movie, season, show, tags, track

DAY = 86400
NOW = 1_760_000_000


def titles(hits: list[SearchHit]) -> list[str]:
    """The titles of the hits, in order."""
    return [hit.item.title for hit in hits]


def first(hits: list[SearchHit]) -> SearchHit:
    """The best hit (the list must not be empty)."""
    assert hits, "no hits"
    return hits[0]


def movies() -> list[dict[str, Any]]:
    """The movie library the tests search."""
    return [
        movie(
            "1", "Toy Story", year=1995, viewCount=5, Genre=tags("Animation", "Comedy")
        ),
        movie("2", "Toy Story 2", year=1999, viewCount=1, Genre=tags("Animation")),
        movie("3", "Toy Story 3", year=2010, Genre=tags("Animation")),
        movie("4", "Toy Story That Time Forgot", year=2014),
        movie(
            "5",
            "The Matrix",
            year=1999,
            rating=8.7,
            Guid=[{"id": "imdb://tt0133093"}, {"id": "tmdb://603"}],
            Genre=tags("Action", "Science Fiction"),
            Director=tags("Lana Wachowski", "Lilly Wachowski"),
            Role=[{"tag": "Keanu Reeves", "role": "Neo"}],
            summary="A computer hacker learns the true nature of his reality.",
        ),
        movie("6", "The Matrix Reloaded", year=2003, Genre=tags("Action")),
        movie(
            "7",
            "Amélie",
            originalTitle="Le Fabuleux Destin d'Amélie Poulain",
            year=2001,
            Genre=tags("Romance", "Comedy"),
        ),
        movie("8", "Spider-Man", year=2002, Genre=tags("Action")),
        movie("9", "Spiderman: Lotus", year=2023),
        movie("10", "Fast & Furious", year=2009, Genre=tags("Action")),
        movie("11", "Fast and Furious 6", year=2013),
        movie(
            "12",
            "Heat",
            year=1995,
            summary="A group of professional bank robbers feel the heat from the police.",
            Role=[{"tag": "Al Pacino"}, {"tag": "Robert De Niro"}],
        ),
        movie("13", "Story of a Toy Maker", year=1980),
        movie(
            "14",
            "Documentary",
            year=2020,
            summary="A look back at the making of Toy Story and what came after.",
        ),
        movie("15", "Léon: The Professional", year=1994, viewCount=3),
        # Two equal titles: popularity decides.
        movie(
            "16", "Solaris", year=1972, viewCount=0, rating=8.0, addedAt=NOW - 900 * DAY
        ),
        movie(
            "17", "Solaris", year=2002, viewCount=9, rating=6.2, addedAt=NOW - 900 * DAY
        ),
        # Equal titles and popularity: the newer one first.
        movie("18", "Crash", year=1996, addedAt=NOW - 2000 * DAY),
        movie("19", "Crash", year=2004, addedAt=NOW - 10 * DAY),
    ]


def tv() -> list[dict[str, Any]]:
    """Two shows with seasons and episodes."""
    bb = show(
        "100", "Breaking Bad", year=2008, Genre=tags("Drama", "Crime"), viewCount=4
    )
    s1 = season("101", bb, 1)
    office = show("200", "The Office", year=2005, Genre=tags("Comedy"))
    o1 = season("201", office, 1)
    return [
        bb,
        s1,
        episode("1011", s1, 1, "Pilot", viewCount=1),
        episode(
            "1012", s1, 2, "Cat's in the Bag...", summary="Walt and Jesse clean up."
        ),
        office,
        o1,
        episode("2011", o1, 1, "Pilot"),
        episode("2012", o1, 2, "Diversity Day"),
    ]


def music() -> list[dict[str, Any]]:
    """One artist, one album, two tracks."""
    daft = artist("300", "Daft Punk", Genre=tags("Electronic"))
    discovery = album("301", daft, "Discovery", year=2001)
    return [
        daft,
        discovery,
        track("3011", discovery, 1, "One More Time"),
        track("3012", discovery, 2, "Harder, Better, Faster, Stronger"),
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MirrorStore]:
    """The hand-made mirror, built once for the module (searches only read it)."""
    path: Path = tmp_path_factory.mktemp("search") / "mirror.db"
    opened, _ = MirrorStore.open(path)
    opened.set_libraries(SECTIONS)
    opened.upsert_items("1", movies())
    opened.upsert_items("2", tv())
    opened.upsert_items("3", music())
    yield opened
    opened.close()


# -- ranking -------------------------------------------------------------------------------


def test_exact_beats_prefix_beats_word(store: MirrorStore) -> None:
    """'toy story': the exact title, then titles that start so, then word matches."""
    hits = store.search("toy story", limit=20)
    assert titles(hits)[0] == "Toy Story"
    assert [hit.match for hit in hits[:4]] == ["exact", "prefix", "prefix", "prefix"]
    assert set(titles(hits)[1:4]) == {
        "Toy Story 2",
        "Toy Story 3",
        "Toy Story That Time Forgot",
    }
    # A title that has both words elsewhere, then the summary that mentions it.
    assert titles(hits)[4:] == ["Story of a Toy Maker", "Documentary"]
    assert [hit.match for hit in hits[4:]] == ["word", "summary"]
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


def test_numbers_count(store: MirrorStore) -> None:
    """'toy story 2' is Toy Story 2, and not Toy Story (nor 3)."""
    hits = store.search("toy story 2", limit=20)
    assert first(hits).item.title == "Toy Story 2"
    assert first(hits).match == "exact"
    assert "Toy Story" not in titles(hits)
    assert "Toy Story 3" not in titles(hits)
    # A number is not a prefix: "fast and furious 6" is not "... 60".
    assert titles(store.search("fast and furious 6")) == ["Fast and Furious 6"]


def test_prefix_finds_a_title_behind_its_article(store: MirrorStore) -> None:
    """'matr' finds The Matrix (and Reloaded), the shorter first."""
    hits = store.search("matr")
    assert titles(hits)[:2] == ["The Matrix", "The Matrix Reloaded"]
    assert {hit.match for hit in hits[:2]} == {"prefix"}
    assert first(store.search("matrix")).match == "exact"
    assert first(store.search("The Matrix")).match == "exact"


def test_title_beats_summary_and_people(store: MirrorStore) -> None:
    """'heat' is the movie Heat first; a people match ranks above a summary match."""
    assert first(store.search("heat")).item.title == "Heat"
    keanu = store.search("keanu reeves")
    assert titles(keanu) == ["The Matrix"]
    assert first(keanu).match == "people"
    hacker = store.search("computer hacker")
    assert titles(hacker) == ["The Matrix"]
    assert first(hacker).match == "summary"
    robbers = store.search("professional")
    assert titles(robbers)[0] == "Léon: The Professional"
    assert robbers[0].match == "word"
    assert "Heat" in titles(robbers)
    assert robbers[titles(robbers).index("Heat")].match == "summary"


def test_popularity_then_recency_break_ties(store: MirrorStore) -> None:
    """Equal titles: the more watched first; equal popularity: the newer first."""
    assert [hit.item.year for hit in store.search("solaris")] == [2002, 1972]
    assert [hit.item.year for hit in store.search("crash")] == [2004, 1996]


def test_children_are_found_with_their_show_or_artist(store: MirrorStore) -> None:
    """The show first, then its seasons and episodes; 'show episode' is exact."""
    hits = store.search("breaking bad", limit=10)
    assert titles(hits)[0] == "Breaking Bad"
    assert first(hits).item.type == "show"
    assert {hit.item.rating_key for hit in hits[1:]} == {"101", "1011", "1012"}
    pilot = store.search("breaking bad pilot")
    assert first(pilot).item.rating_key == "1011"
    assert first(pilot).match == "exact"
    # Both pilots match "pilot"; the show's name picks one.
    assert {hit.item.rating_key for hit in store.search("pilot")} == {"1011", "2011"}
    assert [hit.item.rating_key for hit in store.search("office pilot")] == ["2011"]
    daft = store.search("daft punk one more time")
    assert first(daft).item.title == "One More Time"
    assert first(daft).match == "exact"
    assert first(store.search("discovery")).item.type == "album"


# -- normalisation -------------------------------------------------------------------------


def test_accents_and_case(store: MirrorStore) -> None:
    """'amelie', 'AMÉLIE' and 'Amélie' find Amélie; 'leon' finds Léon."""
    for query in ("amelie", "AMÉLIE", "Amélie", "améli"):
        assert first(store.search(query)).item.title == "Amélie", query
    assert first(store.search("leon the professional")).match == "exact"


def test_original_title(store: MirrorStore) -> None:
    """The original title finds the movie."""
    hits = store.search("le fabuleux destin d'amélie poulain")
    assert first(hits).item.title == "Amélie"
    assert first(hits).match == "original_title"
    assert first(store.search("fabuleux destin")).match == "original_title"


def test_punctuation_and_hyphens(store: MirrorStore) -> None:
    """'Spider-Man' is found as 'spider-man', 'spider man' and 'spiderman'.

    Decision: punctuation separates words, and the joined form of hyphenated words is
    indexed too, so 'spiderman' finds 'Spider-Man'; exact matches compare titles
    without spaces, so 'spider man' is an exact match of 'Spiderman' too. Prefix and
    word matches are word for word: 'spider man' does not find 'Spiderman: Lotus'
    (nothing in it is the word 'man'), 'spiderman' does.
    """
    for query in ("spider-man", "Spider Man", "spiderman", "SPIDER-MAN!"):
        hits = store.search(query)
        assert first(hits).item.title == "Spider-Man", query
        assert first(hits).match == "exact", query
    assert titles(store.search("spiderman")) == ["Spider-Man", "Spiderman: Lotus"]
    assert titles(store.search("spider man")) == ["Spider-Man"]
    assert first(store.search("spiderman lotus")).match == "exact"
    assert first(store.search("cats in the bag")).item.rating_key == "1012"
    assert first(store.search("harder better faster stronger")).match == "exact"


def test_ampersand_is_and(store: MirrorStore) -> None:
    """'fast & furious' and 'fast and furious' are the same query."""
    for query in ("fast & furious", "fast and furious", "Fast&Furious"):
        hits = store.search(query)
        assert first(hits).item.title == "Fast & Furious", query
        assert first(hits).match == "exact", query
        assert titles(hits)[1] == "Fast and Furious 6", query


# -- typos ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("matirx", "The Matrix"),  # two letters swapped
        ("the matrx", "The Matrix"),  # a letter missing
        ("the matrixx", "The Matrix"),  # a letter too many
        ("breakinf bad", "Breaking Bad"),  # a letter changed
        ("amelei", "Amélie"),
    ],
)
def test_one_typo_in_a_long_word(store: MirrorStore, query: str, expected: str) -> None:
    """A word of five letters or more with one typo still finds the title."""
    hits = store.search(query)
    assert first(hits).item.title == expected
    assert first(hits).match == "typo"


def test_no_typo_tolerance_for_short_words_or_two_typos(store: MirrorStore) -> None:
    """Short words are taken as typed; two typos in one word find nothing."""
    assert store.search("haet") == []
    assert store.search("mtairx") == []
    # Five letters is enough: "heats" is one letter away from "heat".
    assert [(hit.item.title, hit.match) for hit in store.search("heats")] == [
        ("Heat", "typo")
    ]
    # A word the index knows is never "corrected" into another one ("story" -> "stor").
    assert {hit.match for hit in store.search("story")} <= {
        "exact",
        "prefix",
        "word",
        "summary",
    }


# -- filters -------------------------------------------------------------------------------


def test_type_and_library_filters(store: MirrorStore) -> None:
    """Filters narrow every tier."""
    assert {hit.item.type for hit in store.search("pilot", types={"episode"})} == {
        "episode"
    }
    assert store.search("breaking bad", types={"movie"}) == []
    hits = store.search("breaking bad", types={"episode", "season"})
    assert {hit.item.type for hit in hits} == {"episode", "season"}
    assert store.search("toy story", library_keys={"2"}) == []
    assert len(store.search("toy story", library_keys={"1"}, limit=50)) == 6
    with pytest.raises(ValueError, match="unknown type"):
        store.search("x", types={"film"})


def test_year_filters(store: MirrorStore) -> None:
    """A year or a range of years."""
    assert titles(store.search("toy story", year=1999)) == ["Toy Story 2"]
    assert titles(store.search("toy story", year_range=(1995, 2000), limit=5)) == [
        "Toy Story",
        "Toy Story 2",
    ]
    assert titles(store.search("toy story", year_range=(2000, 1995), limit=5)) == [
        "Toy Story",
        "Toy Story 2",
    ]


def test_a_filtered_word_search_tests_the_filters_in_the_covering_index(
    store: MirrorStore,
) -> None:
    """The FTS walk of a filtered search reads ``items_filter``, not each item's row.

    The plans of the statements the search ran (expanded with their arguments),
    for each filter the index covers; a genre filter reads the table. Likewise
    the lookup of titles that start with the query reads ``items_bare_compact``.
    """
    statements: list[str] = []
    db = store.connection
    db.set_trace_callback(statements.append)
    try:
        for filters in (
            {"types": {"movie"}},
            {"year_range": (1990, 2005)},
            {"library_keys": {"1"}},
            {"watched": False},
            {"genre": "animation"},
        ):
            statements.clear()
            assert store.search("story", **filters)
            walks = [
                sql
                for sql in statements
                if " MATCH " in sql and not sql.startswith("--")  # FTS5's own
            ]
            assert walks, filters
            plans = [
                " ".join(
                    str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")
                )
                for sql in walks
            ]
            covered = [f"COVERING INDEX {FILTER_INDEX}" in plan for plan in plans]
            assert all(covered) if "genre" not in filters else not any(covered)
            (lookup,) = [sql for sql in statements if "bare_compact >=" in sql]
            plan = " ".join(
                str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {lookup}")
            )
            assert ("COVERING INDEX items_bare_compact" in plan) is (
                "genre" not in filters
            ), plan
    finally:
        db.set_trace_callback(None)


def test_genre_filter_includes_the_shows_genres(store: MirrorStore) -> None:
    """Genres match normalised; an episode has its show's genres."""
    assert set(titles(store.search("toy", genre="animation"))) == {
        "Toy Story",
        "Toy Story 2",
        "Toy Story 3",
    }
    assert titles(store.search("matrix", genre="Science-Fiction")) == ["The Matrix"]
    assert {hit.item.rating_key for hit in store.search("pilot", genre="crime")} == {
        "1011"
    }
    assert {hit.item.rating_key for hit in store.search("pilot", genre="comedy")} == {
        "2011"
    }


def test_watched_filter(store: MirrorStore) -> None:
    """Watched and unwatched."""
    assert titles(store.search("toy story", watched=True, limit=10)) == [
        "Toy Story",
        "Toy Story 2",
    ]
    unwatched = titles(store.search("toy story", watched=False, limit=10))
    assert "Toy Story" not in unwatched
    assert "Toy Story 3" in unwatched


def test_external_id_filter(store: MirrorStore) -> None:
    """An external id alone, or with a query."""
    assert titles(store.search(None, external_id=("imdb", "tt0133093"))) == [
        "The Matrix"
    ]
    assert titles(store.search("matrix", external_id=("tmdb", "603"))) == ["The Matrix"]
    assert store.search("heat", external_id=("tmdb", "603")) == []
    assert store.search(None, external_id=("imdb", "tt0000001")) == []


def test_no_query_lists_what_the_filters_select_newest_first(
    store: MirrorStore,
) -> None:
    """query=None: the filters alone, newest first, match 'filter'."""
    hits = store.search(None, types={"movie"}, year=1995, limit=10)
    assert set(titles(hits)) == {"Toy Story", "Heat"}
    assert {hit.match for hit in hits} == {"filter"}
    newest = store.search(None, types={"movie"}, limit=1)
    assert [(hit.item.title, hit.item.year) for hit in newest] == [("Crash", 2004)]


def test_limits(store: MirrorStore) -> None:
    """A limit caps the hits; zero or less returns nothing."""
    assert len(store.search("toy", limit=2)) == 2
    assert store.search("toy", limit=0) == []
    assert store.search("toy", limit=-5) == []


def test_a_hit_carries_the_item(store: MirrorStore) -> None:
    """A hit has the whole item: ids, genres, parts, context."""
    hit = first(store.search("the matrix"))
    assert hit.item.guids["imdb"] == "tt0133093"
    assert hit.item.genres == ("Action", "Science Fiction")
    assert hit.item.parts == (("/data/movies/The Matrix.mkv", None),)
    pilot = first(store.search("breaking bad pilot")).item
    assert (pilot.grandparent_title, pilot.parent_index, pilot.index) == (
        "Breaking Bad",
        1,
        1,
    )


@pytest.mark.parametrize(
    ("table", "copy", "columns"),
    [
        ("search_titles", TITLE_TEXT, ("title", "context", "original")),
        ("search_text", OTHER_TEXT, ("people", "summary")),
    ],
)
def test_the_text_search_checks_is_the_text_the_fts5_tables_hold(
    store: MirrorStore, table: str, copy: str, columns: tuple[str, ...]
) -> None:
    """Search reads candidates' text from FTS5's content tables by id (``TITLE_TEXT``).

    Row for row and column for column, that is what the FTS5 table itself gives;
    with another layout, search would rank candidates by the wrong text. Every
    column holds some text here, so a swap of two columns shows.
    """
    db = store.connection
    through_fts = db.execute(
        f"SELECT rowid, {', '.join(columns)} FROM {table} ORDER BY rowid"  # noqa: S608 - constants
    ).fetchall()
    stored = db.execute(
        f"SELECT id, {', '.join(f'c{n}' for n in range(len(columns)))} FROM {copy} ORDER BY id"  # noqa: S608 - constants
    ).fetchall()
    assert stored == through_fts
    for position, column in enumerate(columns, start=1):
        assert any(row[position] for row in stored), column


# -- a mirror that changes -----------------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> Iterator[MirrorStore]:
    """A store of the test's own, to change between searches."""
    opened, _ = MirrorStore.open(tmp_path / "mirror.db")
    opened.set_libraries(SECTIONS)
    opened.upsert_items("1", movies())
    yield opened
    opened.close()


def test_typos_find_titles_added_after_the_vocabulary_was_read(
    live: MirrorStore,
) -> None:
    """The typo vocabulary follows the writes (it is read once, then kept up to date)."""
    assert first(live.search("matirx")).item.title == "The Matrix"  # reads it
    live.upsert_items("1", [movie("50", "Interstellar", year=2014)])
    hit = first(live.search("intersteller"))
    assert (hit.item.title, hit.match) == ("Interstellar", "typo")
    assert first(live.search("interstellar")).match == "exact"


def test_a_word_known_from_summaries_is_not_corrected(live: MirrorStore) -> None:
    """'robbers' is in a summary: it is searched as typed, not 'corrected' to a title."""
    live.upsert_items("1", [movie("51", "Robbery")])
    hits = live.search("robbers")
    assert [(hit.item.title, hit.match) for hit in hits] == [("Heat", "summary")]


def test_removed_items_leave_the_search(live: MirrorStore) -> None:
    """Removed items and removed libraries are no longer found."""
    assert first(live.search("heat")).item.title == "Heat"
    live.remove_items(["12"])
    assert live.search("heat") == []
    live.upsert_items("2", tv())
    assert live.search("pilot")
    live.set_libraries([SECTIONS[0]])
    assert live.search("pilot") == []
    assert live.search("breaking bad") == []


def test_updated_titles_are_found_by_their_new_title(live: MirrorStore) -> None:
    """An upsert replaces what the index holds of an item."""
    live.upsert_items("1", [movie("12", "Heat (Director's Definitive Edition)")])
    assert first(live.search("definitive edition")).item.rating_key == "12"
    assert first(live.search("heat")).match == "prefix"


def test_filters_without_a_query_use_every_filter(store: MirrorStore) -> None:
    """query=None with types and libraries, watched, genre and year range."""
    episodes = store.search(None, types={"episode"}, limit=10)
    assert {hit.item.rating_key for hit in episodes} == {"1011", "1012", "2011", "2012"}
    assert store.search(None, types={"episode"}, library_keys={"1"}) == []
    watched = store.search(None, types={"episode"}, library_keys={"2"}, watched=True)
    assert [hit.item.rating_key for hit in watched] == ["1011"]
    comedy = store.search(None, genre="comedy", year_range=(2000, 2010), limit=10)
    # Episodes have no year of their own here, so the year range leaves them out.
    assert {hit.item.title for hit in comedy} == {"Amélie", "The Office"}
    assert store.search(None, types={"movie"}, year=1980) == store.search(
        None, year=1980
    )
