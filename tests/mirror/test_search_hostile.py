"""Hostile query text: nothing the user types is FTS5 syntax, raises, or over-matches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.plex_bridge.mirror import text
from custom_components.plex_bridge.mirror.search import SearchHit, _edits
from custom_components.plex_bridge.mirror.store import (
    TYPE_NUMBERS,
    MirrorStore,
    index_columns,
)

from . import SECTIONS, episode, movie, season, show, tags

TITLES = [
    "The Matrix",
    "Toy Story 2",
    "NEAR Dark",
    "AND Then There Were None",
    "Or Else",
    "Not Without My Daughter",
    "Star Wars: Episode IV",
    '"Quoted" Title',
    "C*A*S*H",
    "100% Wolf",
    "Title: With Colon",
    "Amélie",
    "東京物語",
    "Über Alles",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MirrorStore]:
    """A mirror whose titles look like FTS5 syntax."""
    path: Path = tmp_path_factory.mktemp("hostile") / "mirror.db"
    opened, _ = MirrorStore.open(path)
    opened.set_libraries(SECTIONS)
    opened.upsert_items(
        "1",
        [
            movie(
                str(number),
                title,
                summary=f"A story about {title.lower()} and more.",
                Role=tags("Keanu Reeves") if number % 2 else [],
            )
            for number, title in enumerate(TITLES, start=1)
        ],
    )
    near = show("100", "Near Me")
    s1 = season("101", near, 1)
    opened.upsert_items("2", [near, s1, episode("1011", s1, 1, "Or Not")])
    yield opened
    opened.close()


def indexed_words(store: MirrorStore, hit: SearchHit) -> list[str]:
    """Every word the index holds for a hit's item (as the store built it)."""
    item = hit.item
    item_id = store.connection.execute(
        "SELECT id FROM items WHERE rating_key = ?", (item.rating_key,)
    ).fetchone()[0]
    columns = index_columns(
        TYPE_NUMBERS[item.type],
        item.title,
        parent_title=item.parent_title,
        grandparent_title=item.grandparent_title,
        original_title=item.original_title,
        people=store.people([item_id]).get(item_id, []),
        summary=item.summary,
    )
    return " ".join(columns).split()


def assert_no_overmatch(store: MirrorStore, query: str, hits: list[SearchHit]) -> None:
    """Every hit has every query word (the last as a prefix, one typo allowed)."""
    words = text.tokens(query)
    compact = text.compact(query)
    for hit in hits:
        item = hit.item
        if hit.match == "exact" and compact in {
            text.compact(item.title),
            text.compact(text.bare(text.normalize(item.title))),
            text.compact(f"{item.grandparent_title} {item.title}"),
            text.compact(f"{item.parent_title} {item.title}"),
        }:
            continue  # an exact match compares titles without spaces ("Spider-Man")
        have = indexed_words(store, hit)
        have_set = set(have)
        for position, word in enumerate(words):
            last = position == len(words) - 1 and not word.isdigit()
            forms = {word} | (_edits(word) if len(word) >= 5 else set())
            found = bool(forms & have_set) or (
                last and any(term.startswith(form) for form in forms for term in have)
            )
            assert found, (query, word, hit.item.title, have)


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        '"matrix',
        "matrix\"'",
        "*",
        "mat*",
        "* OR *",
        "NEAR(matrix toy)",
        "NEAR(",
        "AND OR NOT",
        "matrix AND",
        "NOT matrix",
        "matrix OR toy",
        "title:matrix",
        "{title}: matrix",
        "summary : story",
        "^matrix",
        "-matrix",
        "+matrix",
        "matrix\x00toy",
        "\x00",
        "🎬🍿",
        "matrix 🎬",
        "(",
        ")",
        "()",
        "[]{}",
        "'); DROP TABLE items; --",
        "%",
        "_",
        "\\",
        "\u202e",
        "\ufeff",
        " ",
        "",
        "x" * 10_000,
        "matrix " * 2_000,
        "东京",
    ],
)
def test_hostile_text_never_raises_or_overmatches(
    store: MirrorStore, query: str
) -> None:
    """Syntax characters are text: no error, and no hit lacking a query word."""
    hits = store.search(query, limit=50)
    assert_no_overmatch(store, query, hits)
    assert store.count() == len(TITLES) + 3


def test_operators_are_words(store: MirrorStore) -> None:
    """'and', 'or', 'not', 'near' are searched as words, not as operators."""
    assert [hit.item.title for hit in store.search("near dark")][:1] == ["NEAR Dark"]
    assert [hit.item.title for hit in store.search("or else")][:1] == ["Or Else"]
    assert [hit.item.title for hit in store.search("or not")][:1] == ["Or Not"]
    # "matrix OR toy" is three words, and no title has all three.
    assert store.search("matrix OR toy") == []
    assert store.search("NOT matrix") == []
    # "* OR *" is the word "or" and nothing more.
    assert store.search("* OR *") == store.search("or")


def test_punctuation_only_and_empty_queries_match_nothing(store: MirrorStore) -> None:
    """A query that normalises to no word matches nothing (not everything)."""
    for query in ("", " ", '"', "*", "()", "🎬", "\x00", "%", "_"):
        assert store.search(query) == [], query


def test_syntax_in_titles_is_found_as_words(store: MirrorStore) -> None:
    """Titles that look like syntax are found by their words."""
    assert store.search('"quoted" title')[0].item.title == '"Quoted" Title'
    assert store.search("c a s h")[0].item.title == "C*A*S*H"
    assert store.search("100 wolf")[0].item.title == "100% Wolf"
    assert store.search("title with colon")[0].match == "exact"
    assert store.search("東京物語")[0].item.title == "東京物語"
    assert store.search("uber alles")[0].item.title == "Über Alles"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    query=st.one_of(
        st.text(max_size=60),
        st.lists(
            st.sampled_from(
                [
                    '"',
                    "*",
                    "NEAR(",
                    ")",
                    "AND",
                    "OR",
                    "NOT",
                    ":",
                    "^",
                    "{",
                    "}",
                    "\x00",
                    "🎬",
                    "matrix",
                    "toy",
                    "story",
                    "2",
                    "amélie",
                    "or",
                    "the",
                    " ",
                    "-",
                    "'",
                ]
            ),
            max_size=12,
        ).map("".join),
    )
)
def test_any_text_is_safe(store: MirrorStore, query: str) -> None:
    """Property: any text searches without error and every hit has every word."""
    hits = store.search(query, limit=20)
    assert_no_overmatch(store, query, hits)
    assert len(hits) <= 20
