"""Common words ("the", "of") are checked in the candidates' text, not walked in FTS5.

Walking the posting list of a word in most titles costs milliseconds, so search leaves
such words out of the FTS5 expression and checks them in the text of the matches of
the rarer words (mirror/search.py, ``_Terms`` and ``_Matches``). That is a plan, not a
rule: the hits must be exactly those of the whole expression. These tests check that
it happens on a library where the words are common, and that the hits are the same
with every shortcut forced on (tiny thresholds, caps and chunks) as with none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from custom_components.plex_bridge.mirror import search as search_module
from custom_components.plex_bridge.mirror.store import MirrorStore

from . import SECTIONS, album, artist, episode, movie, season, show, track

WORDS = (
    "amber",
    "azure",
    "bronze",
    "cedar",
    "cobalt",
    "coral",
    "crimson",
    "dawn",
    "delta",
    "ember",
    "falcon",
    "fern",
    "frost",
    "garnet",
    "glade",
    "harbor",
    "hazel",
    "indigo",
    "iris",
    "ivory",
    "jade",
    "juniper",
    "lagoon",
    "lark",
    "lotus",
    "maple",
    "meadow",
    "mirage",
    "nectar",
    "onyx",
    "opal",
    "orchid",
    "pebble",
    "quartz",
    "raven",
    "ridge",
    "sable",
    "sage",
    "sierra",
    "slate",
    "sparrow",
    "summit",
    "thistle",
    "topaz",
    "tundra",
    "velvet",
    "willow",
    "zephyr",
    "zinc",
)


def library() -> tuple[
    list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]
]:
    """2,401 "The A of the B" movies, a few special titles, a show and an album."""
    movies = [
        movie(
            str(1000 + number),
            f"The {first.title()} of the {second.title()}",
            year=1950 + number % 70,
            addedAt=1_700_000_000 + number,
        )
        for number, (first, second) in enumerate(
            (first, second) for first in WORDS for second in WORDS
        )
    ]
    movies += [
        movie("1", "Winter of the Tide", year=1999, addedAt=1_600_000_000),
        movie("2", "Tide of the Winter", year=2001, addedAt=1_800_000_000),
        movie("3", "Winter Tide", year=2001, addedAt=1_800_000_001),
        movie("4", "The Winter", year=1980),
        movie(
            "5",
            "Cold Front",
            year=2001,
            summary="The winter of the tide comes early to the harbor.",
        ),
    ]
    frost = show("100", "Frost of the Harbor", year=2010)
    s1 = season("101", frost, 1)
    tv = [
        frost,
        s1,
        episode("1011", s1, 1, "Pilot"),
        episode("1012", s1, 2, "The Return of the Tide"),
        episode("1013", s1, 3, "Winter"),
        episode("1014", s1, 4, "Night of the Winter"),
    ]
    # Newer rows whose words are only in their context (the show's title).
    harbor = show("200", "Winter of the Harbor", year=2012)
    h1 = season("201", harbor, 1)
    tv += [harbor, h1]
    tv += [
        episode(f"20{number}", h1, number, f"Chapter {number}")
        for number in range(10, 17)
    ]
    band = artist("300", "The Sparrows of the Ridge")
    record = album("301", band, "Songs of the Winter", year=2005)
    music = [
        band,
        record,
        track("3011", record, 1, "The Tide"),
        track("3012", record, 2, "Of Winter and Frost"),
    ]
    return movies, tv, music


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MirrorStore]:
    """The library above, built once (searches only read it)."""
    path: Path = tmp_path_factory.mktemp("common") / "mirror.db"
    opened, _ = MirrorStore.open(path)
    opened.set_libraries(SECTIONS)
    movies, tv, music = library()
    opened.upsert_items("1", movies)
    opened.upsert_items("2", tv)
    opened.upsert_items("3", music)
    yield opened
    opened.close()


def keys(store: MirrorStore, query: str, **filters: Any) -> list[tuple[str, str]]:
    """The hits as (rating key, match), in order."""
    return [
        (hit.item.rating_key, hit.match)
        for hit in store.search(query, limit=10, **filters)
    ]


def test_common_words_are_checked_not_walked(store: MirrorStore) -> None:
    """The words "of" and "the" never reach FTS5, yet every hit has them."""
    statements: list[str] = []
    store.connection.set_trace_callback(statements.append)
    try:
        hits = keys(store, "winter of the tide")
    finally:
        store.connection.set_trace_callback(None)
    walked = [sql for sql in statements if " MATCH " in sql]
    assert walked
    assert not [sql for sql in walked if '"of"' in sql or '"the"' in sql]
    assert hits[:2] == [("1", "exact"), ("2", "word")]
    # "Winter Tide" has neither word; the show's episode has them only with its
    # context; the summary match comes last.
    found = dict(hits)
    assert "3" not in found
    assert found["5"] == "summary"
    assert [key for key, _ in hits].index("5") == len(hits) - 1
    # A last word of one letter is not walked; it is still a word of the query.
    assert keys(store, "winter of the tide comes e") == [("5", "summary")]
    assert keys(store, "winter of the tide comes x") == []


def test_a_rare_word_alone_is_walked_whole(store: MirrorStore) -> None:
    """With nothing rarer to keep, the common words go to FTS5 as they are."""
    hits = keys(store, "of the")
    assert len(hits) == 10
    assert all(match in {"prefix", "word"} for _, match in hits)


QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("winter of the tide", {}),
    ("the winter", {}),
    ("the winter", {"types": ["movie"]}),
    ("the winter", {"year_range": (1999, 2001)}),
    ("tide of", {}),
    ("of the tide", {"types": ["episode"]}),
    ("the return of the t", {}),
    ("return of the tide", {"types": ["episode", "track"]}),
    ("winter tide", {}),
    ("of winter", {}),
    ("of winter and", {}),
    ("songs of the winter", {}),
    ("the tide", {"types": ["track"]}),
    ("wintre of the tide", {}),
    ("the of the tide wintr", {}),
    ("the amber of the", {}),
    ("the amber of the zinc", {}),
    ("the amber of the zinc", {"year": 1950}),
    ("frost of the harbor", {}),
    ("frost of the harbor pilot", {}),
    ("the harbor", {"types": ["movie"], "year_range": (1960, 1970)}),
    ("winter of the tide comes", {}),
    ("winter of the tide comes x", {}),
    ("the of", {"types": ["show", "album", "artist"]}),
    ("tide", {}),
    ("of", {}),
    ("winter", {"types": ["episode"]}),
    ("of the winter", {"types": ["episode"]}),
    ("of the winter", {"types": ["episode", "album"]}),
    ("winter of the harbor", {"types": ["episode", "show"]}),
]


@pytest.mark.parametrize(("query", "filters"), QUERIES)
def test_the_plan_never_changes_the_hits(
    store: MirrorStore,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    filters: dict[str, Any],
) -> None:
    """Every shortcut forced on (tiny caps and chunks) gives what FTS5 alone gives.

    Few candidates per pass (as when thousands of titles match), so that which
    matches are taken (the newest) matters too.
    """
    monkeypatch.setattr(search_module, "_FTS_CANDIDATES", 4)
    monkeypatch.setattr(search_module, "_COMMON_TITLES", 10**9)
    plain = keys(store, query, **filters)
    monkeypatch.setattr(search_module, "_COMMON_TITLES", 1)
    monkeypatch.setattr(search_module, "_COMMON_RATIO", 1)
    for cap, chunk, read_all in (
        (3, 2, 0),
        (8, 3, 2),
        (1000, 200, 0),
        (1000, 200, 300),
    ):
        monkeypatch.setattr(search_module, "_CHECK_CAP", cap)
        monkeypatch.setattr(search_module, "_CHECK_CHUNK", chunk)
        monkeypatch.setattr(search_module, "_READ_ALL", read_all)
        assert keys(store, query, **filters) == plain, (cap, chunk, read_all)
