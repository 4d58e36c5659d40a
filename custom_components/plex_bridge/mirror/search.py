"""Ranked search over the mirror: what a voice command or a search box expects.

Both the index and the query go through ``text.normalize`` (accents, case, punctuation,
``&`` = ``and``; see mirror/text.py), so "Amelie" finds "Amélie", "spiderman" and
"spider man" find "Spider-Man", "fast & furious" finds "Fast and Furious".

How a query is answered:

1. Candidates come from three cheap lookups, each limited: the B-tree indexes on the
   titles' compact form without their leading article (``items.bare_compact``: exact
   and prefix, so "matr" finds "The Matrix"); the FTS5 index over titles, their context (the show of an episode, the
   artist of an album or track) and original titles; and, only when those found fewer
   than ``limit``, the FTS5 index over every column (people and summaries too).
   Each FTS5 pass takes the newest matches, and walks as little as it can: a word in
   most titles ("the", "of": thousands of rows each, milliseconds to walk) is left out
   of the expression and checked in the text of the rarer words' matches instead, and
   with filters one walk of the title index serves both title passes. Neither changes
   which rows a pass gives (``_Terms``, ``_Matches``).
2. Each candidate is classified here, in Python, against its indexed text, and only
   candidates that really contain every query word are kept. The tiers, best first:

   ==============  ===========================================================
   ``exact``       the title is the query ("the matrix", "matrix"); also the
                   full title of a child ("breaking bad pilot")
   ``original_title``  the original title is the query (exactly)
   ``prefix``      the title starts with the query ("toy story" -> "Toy Story 3")
   ``word``        every word is in the title (the last one as a prefix), then
                   title and context together
   ``original_title``  every word in the original title
   ``typo``        as ``word``, with one word corrected (see below)
   ``word``        every word in the context only (the episodes of a show)
   ``people``      every word in the people (with the title and context)
   ``summary``     every word somewhere, summary included
   ==============  ===========================================================

   Within a tier, a closer title (more of it matched) comes first, then popularity
   (view count and rating), then recency (``addedAt``). ``SearchHit.score`` is
   ``10 * tier + tie-break`` with the tie-break in [0, 10), so tiers never mix.
3. Numbers count: a number is never a prefix ("toy story 2" does not match "Toy Story
   20") and a number in the query must be in the title ("toy story 2" does not return
   "Toy Story", except as a summary match if its summary says "2").
4. Typos: a word of five to 24 letters that is in no indexed text (and, as the last
   word, starts none) is replaced by the title words at edit distance 1 (a letter
   dropped, added, changed, or two swapped). Those come from the title index's
   vocabulary (``search_titles_vocab``, an fts5vocab table), read on the first search
   that needs it and kept up to date by the writes; names and summaries are looked
   up (is the word known?) but never offered as corrections.

The user's text never reaches FTS5 as syntax: after normalisation a word has only
letters and digits, and each is written as a quoted string (quotes doubled, although
none can remain), so ``"``, ``*``, ``NEAR(``, ``AND``/``OR``/``NOT``, ``:``, ``^`` and
the like are plain words or nothing. A query that normalises to nothing, is longer
than ``MAX_QUERY_LENGTH`` characters or has more than ``MAX_WORDS`` words (no title
is that long) matches nothing: it is never cut down to a shorter query that would
match more than was asked.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Set as AbstractSet
from dataclasses import dataclass
from itertools import accumulate
import json
import math
import time
from typing import Any, Final
import weakref

from . import text
from .store import FILTER_INDEX, TYPE_NUMBERS, MirrorItem, MirrorStore

MAX_WORDS: Final = 32
MAX_QUERY_LENGTH: Final = 500
MAX_LIMIT: Final = 1000
TYPO_MIN_LENGTH: Final = 5
TYPO_MAX_LENGTH: Final = 24
_PREFIX_CANDIDATES: Final = 50
_FTS_CANDIDATES: Final = 100
_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789"
_TOP: Final = "\U0010ffff"
_SHORT_PREFIX: Final = 2
_COMMON_TITLES: Final = 2000
"""A word in at least this many titles (and ``_COMMON_RATIO`` times as many as the
query's rarest word) is checked in the candidates' text instead of walked in FTS5."""
_COMMON_RATIO: Final = 4
_CHECK_CAP: Final = 1000
"""At most this many matches of the rarer words are checked for the common ones;
past it, the whole expression goes to FTS5 after all."""
_CHECK_CHUNK: Final = 200
_READ_ALL: Final = 150
"""A title pass that finds at most this many matches reads all of their text once."""
_COUNTS_TTL: Final = 600.0
"""Seconds a store's title word counts are kept before they are read again."""

# Tier numbers (higher is better); ``SearchHit.match`` names them.
EXACT: Final = 12
FULL_EXACT: Final = 11
ORIGINAL_EXACT: Final = 10
PREFIX: Final = 9
WORD: Final = 8
WORD_CONTEXT: Final = 7
ORIGINAL_WORD: Final = 6
TYPO: Final = 5
TYPO_CONTEXT: Final = 4
CONTEXT_ONLY: Final = 3
PEOPLE: Final = 2
SUMMARY: Final = 1
FILTER: Final = 0
MATCH_NAMES: Final[dict[int, str]] = {
    EXACT: "exact",
    FULL_EXACT: "exact",
    ORIGINAL_EXACT: "original_title",
    PREFIX: "prefix",
    WORD: "word",
    WORD_CONTEXT: "word",
    ORIGINAL_WORD: "original_title",
    TYPO: "typo",
    TYPO_CONTEXT: "typo",
    CONTEXT_ONLY: "word",
    PEOPLE: "people",
    SUMMARY: "summary",
    FILTER: "filter",
}


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result: the item, its score (higher is better) and what matched."""

    item: MirrorItem
    score: float
    match: str


# -- the query -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Query:
    """A normalised query: its words, compact form, and each word's accepted forms."""

    normal: str
    compact: str
    words: tuple[str, ...]
    forms: tuple[frozenset[str], ...]
    """Per word: the word itself, or its corrections when it was misspelt."""
    corrected: tuple[bool, ...]
    prefix_last: bool
    patterns: tuple[tuple[str, ...], ...]
    """Per word: its forms as ``word_in`` looks for them (`` form `` or `` form``)."""

    def word_in(self, position: int, words: str) -> bool:
        """Whether word ``position`` (in one of its forms) is in ``words``.

        ``words`` is an indexed column padded with spaces (``_padded``): a whole word
        is `` word ``, the start of one `` word``; substring tests, no splitting.
        """
        return any(pattern in words for pattern in self.patterns[position])


def _quote(word: str) -> str:
    """A word as an FTS5 string (never syntax)."""
    return '"' + word.replace('"', '""') + '"'


def _fts_positions(query: _Query) -> list[int]:
    """The words that go to FTS5.

    A last word of one letter is left out: as a prefix it would expand to a
    good part of the vocabulary (slow), and the candidates are checked against it here
    anyway (and the title B-tree finds titles that start with the whole query).
    """
    last = len(query.words) - 1
    return [
        position
        for position in range(len(query.words))
        if not (
            query.prefix_last
            and position == last
            and len(query.words[last]) < _SHORT_PREFIX
        )
    ]


def _fts_expression(query: _Query, positions: Iterable[int] | None = None) -> str:
    """The FTS5 expression of ``positions`` (default: ``_fts_positions``).

    Every word in one of its forms (``AND``), the last one as a prefix.
    """
    parts = []
    last = len(query.words) - 1
    for position in _fts_positions(query) if positions is None else positions:
        forms = query.forms[position]
        star = " *" if query.prefix_last and position == last else ""
        alternatives = [_quote(form) + star for form in sorted(forms)]
        parts.append(
            alternatives[0]
            if len(alternatives) == 1
            else "(" + " OR ".join(alternatives) + ")"
        )
    return " AND ".join(parts)


class _TitleCounts:
    """How many titles each indexed word is in (``search_titles_vocab``), for planning.

    Read on the first search that needs them and again after ``_COUNTS_TTL`` seconds;
    stale counts only make a plan slower, never a result different (see ``_Terms``).
    """

    __slots__ = ("_read_at", "_sums", "_terms", "docs", "rows")

    def __init__(self, rows: Iterable[tuple[str, int]], total: int) -> None:
        self.rows = max(1, total)
        """About how many rows the index holds (the highest item id)."""
        self.docs: dict[str, int] = dict(rows)
        self._terms = sorted(self.docs)
        self._sums = [0, *accumulate(self.docs[term] for term in self._terms)]
        self._read_at = time.monotonic()

    def stale(self) -> bool:
        """Whether the counts are older than ``_COUNTS_TTL``."""
        return time.monotonic() - self._read_at > _COUNTS_TTL

    def prefixed(self, prefix: str) -> int:
        """An upper bound of the titles with a word that starts with ``prefix``."""
        low = bisect_left(self._terms, prefix)
        high = bisect_left(self._terms, prefix + _TOP, low)
        return self._sums[high] - self._sums[low]


_COUNTS: weakref.WeakKeyDictionary[MirrorStore, _TitleCounts] = (
    weakref.WeakKeyDictionary()
)


def _title_counts(store: MirrorStore) -> _TitleCounts:
    """The store's title word counts (cached per store)."""
    counts = _COUNTS.get(store)
    if counts is None or counts.stale():
        db = store.connection
        counts = _TitleCounts(
            db.execute("SELECT term, doc FROM search_titles_vocab"),
            db.execute("SELECT ifnull(max(id), 0) FROM items").fetchone()[0],
        )
        _COUNTS[store] = counts
    return counts


@dataclass(frozen=True, slots=True)
class _Terms:
    """A query's FTS5 plan: the whole expression, or its rarer words and checks.

    FTS5 answers ``a AND b`` by walking the lists of both words, so a word in most
    titles ("the", "of") costs milliseconds even when the other words are rare. Such
    a word is left out of ``kept`` and checked instead (``checks``: the word padded
    as ``_Query.word_in`` tests it, `` word `` or, as the last word, `` word``) in
    the text of the newest ``_CHECK_CAP`` matches of ``kept``. The newest matches that
    pass the checks are the newest matches of ``full``, the same rows FTS5 would
    give; when the cap is reached with too few of them, ``full`` is used after all.
    """

    full: str
    kept: str
    checks: tuple[str, ...]
    every: tuple[tuple[str, ...], ...]
    """Per FTS5 word, its forms padded as in ``checks`` (to find own titles among the
    matches of any column, see ``_Matches``)."""
    estimate: float = math.inf
    """About how many titles match ``kept`` (the words taken as independent)."""


def _terms(store: MirrorStore, query: _Query) -> _Terms:
    """Which words FTS5 walks and which are checked in the text (see ``_Terms``)."""
    positions = _fts_positions(query)
    full = _fts_expression(query, positions)
    every = tuple(query.patterns[position] for position in positions)
    counts = _title_counts(store)
    last = len(query.words) - 1
    sizes = {}
    for position in positions:
        forms = query.forms[position]
        prefix = query.prefix_last and position == last
        sizes[position] = sum(
            counts.prefixed(form) if prefix else counts.docs.get(form, 0)
            for form in forms
        )

    def estimate(kept: Iterable[int]) -> float:
        return counts.rows * math.prod(
            min(1.0, sizes[position] / counts.rows) for position in kept
        )

    if len(positions) < 2:
        return _Terms(full, full, (), every, estimate(positions))
    rarest = min(positions, key=lambda position: sizes[position])
    common = [
        position
        for position in positions
        if position != rarest
        and not query.corrected[position]
        and sizes[position] >= _COMMON_TITLES
        and sizes[position] >= _COMMON_RATIO * sizes[rarest]
    ]
    if not common:
        return _Terms(full, full, (), every, estimate(positions))
    kept = [position for position in positions if position not in common]
    checks = tuple(query.patterns[position][0] for position in common)
    return _Terms(full, _fts_expression(query, kept), checks, every, estimate(kept))


def _edits(word: str) -> set[str]:
    """Every string at edit distance 1 from ``word`` (Damerau: swaps count as one)."""
    alphabet = set(_ALPHABET) | set(word)
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {left + right[1:] for left, right in splits if right}
    edits |= {
        left + right[1] + right[0] + right[2:]
        for left, right in splits
        if len(right) > 1
    }
    edits |= {
        left + ch + right[1:] for left, right in splits if right for ch in alphabet
    }
    edits |= {left + ch + right for left, right in splits for ch in alphabet}
    edits.discard(word)
    return edits


def _parse(store: MirrorStore, raw: str) -> _Query | None:
    """The normalised query with typo corrections; ``None`` if it can match nothing."""
    if len(raw) > MAX_QUERY_LENGTH:
        return None
    normal = text.normalize(raw)
    words = tuple(normal.split(" ")) if normal else ()
    if not words or len(words) > MAX_WORDS:
        return None
    last = len(words) - 1
    prefix_last = not words[last].isdigit()
    forms: list[frozenset[str]] = []
    corrected: list[bool] = []
    terms: AbstractSet[str] | None = None
    for position, word in enumerate(words):
        candidates = frozenset({word})
        fixed = False
        if TYPO_MIN_LENGTH <= len(word) <= TYPO_MAX_LENGTH and not word.isdigit():
            if terms is None:
                terms = store.vocabulary()
            known = (
                word in terms
                or store.has_term(word)
                or (prefix_last and position == last and store.has_prefix(word))
            )
            if not known and (near := frozenset(_edits(word) & terms)):
                candidates, fixed = near, True
        forms.append(candidates)
        corrected.append(fixed)
    return _Query(
        normal=normal,
        compact=normal.replace(" ", ""),
        words=words,
        forms=tuple(forms),
        corrected=tuple(corrected),
        prefix_last=prefix_last,
        patterns=tuple(
            tuple(
                f" {form}" if prefix_last and position == last else f" {form} "
                for form in sorted(word_forms)
            )
            for position, word_forms in enumerate(forms)
        ),
    )


# -- filters -------------------------------------------------------------------------------


_LIBRARY_CLAUSE: Final = "i.library_key IN (SELECT value FROM json_each(?))"


def _filters(
    *,
    types: Collection[str] | None,
    library_keys: Collection[str] | None,
    year: int | None,
    year_range: tuple[int, int] | None,
    genre: str | None,
    watched: bool | None,
    external_id: tuple[str, str] | None,
) -> tuple[str, list[Any], str]:
    """SQL conditions on ``items`` (alias ``i``), their arguments, and the join's source.

    The source is how an FTS walk joins ``items`` to test the conditions: through
    ``items_filter`` (``store.FILTER_INDEX``: id, type, year, library and watched
    state; a few dozen bytes per item, where an item's row holds its summary) when
    it holds every column they test, which halves a filtered search of a common
    word (measured: 6.2 to 3.4 ms for 4,000 matches of "heart" among 110,000
    items). The genre condition reads other columns, so it joins the table.
    """
    clauses: list[str] = []
    args: list[Any] = []
    if types:
        try:
            numbers = sorted({TYPE_NUMBERS[name] for name in types})
        except KeyError as err:
            raise ValueError(f"unknown type {err.args[0]!r}") from None
        # Integers from TYPE_NUMBERS, written out so that the planner sees them.
        clauses.append(f"i.type IN ({', '.join(str(number) for number in numbers)})")
    if library_keys:
        clauses.append(_LIBRARY_CLAUSE)
        args.append(json.dumps(sorted(str(key) for key in library_keys)))
    if year is not None:
        clauses.append("i.year = ?")
        args.append(int(year))
    if year_range is not None:
        low, high = sorted((int(year_range[0]), int(year_range[1])))
        clauses.append("i.year BETWEEN ? AND ?")
        args.extend((low, high))
    if genre is not None:
        # An episode, season or track has its show's or artist's genres.
        clauses.append(
            "EXISTS (SELECT 1 FROM items g JOIN item_tags gt ON gt.item_id = g.id "
            "JOIN tags t ON t.id = gt.tag_id WHERE g.rating_key IN "
            "(i.rating_key, i.parent_key, i.grandparent_key) "
            "AND t.kind = 'genre' AND t.norm = ?)"
        )
        args.append(text.normalize(genre))
    if watched is not None:
        clauses.append("i.watched = ?")
        args.append(int(bool(watched)))
    if external_id is not None:
        scheme, value = external_id
        clauses.append(
            "i.id IN (SELECT item_id FROM external_ids WHERE scheme = ? AND value = ?)"
        )
        args.extend((scheme, value))
    source = "items i" if genre is not None else f"items i INDEXED BY {FILTER_INDEX}"
    return (" AND ".join(clauses) or "1"), args, source


# -- scoring -------------------------------------------------------------------------------

_Words = str
_NO_WORDS: Final[_Words] = " "


def _words(column: str | None) -> _Words:
    """An indexed column padded with a space each side (see ``_Query.word_in``)."""
    return f" {column} " if column else _NO_WORDS


@dataclass(slots=True)
class _Candidate:
    """What ranking needs of one candidate (the whole item is built for the winners)."""

    item_id: int
    type: int
    title: str
    original_title: str | None
    parent_title: str | None
    grandparent_title: str | None
    view_count: int | None
    rating: float | None
    added_at: int | None
    title_words: _Words
    context_words: _Words
    original_words: _Words
    people_words: _Words = _NO_WORDS
    summary_words: _Words = _NO_WORDS


TITLE_TEXT: Final = "search_titles_content"
"""Where the candidates' title text is read: FTS5's own copy of ``search_titles``'
text (its ``%_content`` table: ``id`` is the rowid; ``c0``, ``c1`` and ``c2`` are
the title, context and original title, in the order the store declares them).
Reading a row by id there is a plain B-tree lookup; through the FTS5 table it is
a virtual-table call per row, which costs about twice as much (measured on the
large library: 0.43 against 0.25 ms for the 200 rows of a check). Checking the
candidates' text is a fifth of a slow search, and the bench's p95 went from 5.40
to 5.00 ms (median of 8 alternating passes). Both layouts are SQLite's on-disk
format, which FTS5 keeps for compatibility; ``test_search.py`` checks the
columns against the FTS5 table's."""
OTHER_TEXT: Final = "search_text_content"
"""Likewise for ``search_text``: ``c0`` the people, ``c1`` the summary."""
_CANDIDATE_SELECT: Final = (
    "SELECT i.id, i.type, i.title, i.original_title, i.parent_title, i.grandparent_title, "  # noqa: S608 - constants
    "i.view_count, i.rating, i.added_at, t.c0, t.c1, t.c2, NULL, NULL "
    f"FROM items i LEFT JOIN {TITLE_TEXT} t ON t.id = i.id "
    "WHERE i.id IN (SELECT value FROM json_each(?))"
)
# Types whose parent's title makes a full title ("Discovery" by "Daft Punk" is the
# album; "Season 1" of a show; a photo in an album). Episodes and tracks use their
# grandparent (the show, the artist).
_PARENT_CONTEXT: Final = frozenset({3, 9, 13})


def _full_titles(candidate: _Candidate) -> list[str]:
    """A child's compact title with its show or artist ("breakingbadpilot")."""
    titles = []
    own = text.compact(candidate.title)
    if candidate.grandparent_title:
        titles.append(text.compact(candidate.grandparent_title) + own)
    if candidate.parent_title and candidate.type in _PARENT_CONTEXT:
        titles.append(text.compact(candidate.parent_title) + own)
    return titles


def _starts(title: str, query: _Query) -> bool:
    """Whether the normalised ``title`` starts with the query's words.

    Word for word: every query word but the last is a whole title word, the last one
    may be the start of one ("toy story 3", "matr"), unless it is a number.
    """
    if query.prefix_last:
        return title.startswith(query.normal)
    return title == query.normal or title.startswith(query.normal + " ")


def _all_in(query: _Query, *columns: _Words) -> bool:
    """Whether every query word is in one of ``columns``."""
    for patterns in query.patterns:
        if not any(pattern in words for pattern in patterns for words in columns):
            return False
    return True


def _classify_title(candidate: _Candidate, query: _Query) -> tuple[int, float]:
    """The title tiers of a candidate and its coverage; ``(-1, 0)`` if none fits."""
    title_normal = text.normalize(candidate.title)
    bare_normal = text.bare(title_normal)
    bare_compact = bare_normal.replace(" ", "")
    own = title_normal.split(" ") if title_normal else []
    coverage = min(1.0, len(query.words) / max(1, len(own)))
    corrected = any(query.corrected)
    if not corrected:
        if query.compact in (title_normal.replace(" ", ""), bare_compact):
            return EXACT, 1.0
        if query.compact in _full_titles(candidate):
            return FULL_EXACT, 1.0
        if candidate.original_title and query.compact == text.compact(
            candidate.original_title
        ):
            return ORIGINAL_EXACT, 1.0
        if _starts(title_normal, query) or _starts(bare_normal, query):
            return PREFIX, min(1.0, len(query.compact) / max(1, len(bare_compact)))
    title = candidate.title_words
    if _all_in(query, title):
        return (TYPO if corrected else WORD), coverage
    some_in_title = any(
        query.word_in(position, title) for position in range(len(query.words))
    )
    if some_in_title and _all_in(query, title, candidate.context_words):
        return (TYPO_CONTEXT if corrected else WORD_CONTEXT), coverage * 0.5
    if _all_in(query, candidate.original_words):
        return (TYPO if corrected else ORIGINAL_WORD), coverage * 0.5
    if _all_in(query, candidate.context_words):
        return CONTEXT_ONLY, 0.0
    return -1, 0.0


def _classify_text(candidate: _Candidate, query: _Query) -> int:
    """The people and summary tiers (for a candidate no title tier took)."""
    title, context = candidate.title_words, candidate.context_words
    if _all_in(query, candidate.people_words, title, context):
        return PEOPLE
    if _all_in(
        query,
        title,
        context,
        candidate.original_words,
        candidate.people_words,
        candidate.summary_words,
    ):
        return SUMMARY
    return -1


def _tie_break(candidate: _Candidate, coverage: float, now: float) -> float:
    """Closeness, then popularity, then recency, in [0, 10)."""
    views = math.log1p(max(0, candidate.view_count or 0)) / math.log1p(100)
    rating = max(0.0, min(10.0, candidate.rating or 0.0)) / 10
    popularity = min(1.0, 0.6 * min(1.0, views) + 0.4 * rating)
    age_days = max(0.0, (now - (candidate.added_at or 0)) / 86400)
    recency = 1 / (1 + age_days / 365)
    return 5.0 * coverage + 3.0 * popularity + 1.9 * recency


# -- search --------------------------------------------------------------------------------


def search(
    store: MirrorStore,
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
    """The best ``limit`` items for ``query`` and the filters (rules above).

    ``query=None`` lists what the filters select, newest first (``match="filter"``).
    ``ValueError`` for an unknown type name; a ``limit`` below 1 returns nothing and
    one above ``MAX_LIMIT`` is capped.
    """
    limit = min(int(limit), MAX_LIMIT)
    if limit < 1:
        return []
    filters = _filters(
        types=types,
        library_keys=library_keys,
        year=year,
        year_range=year_range,
        genre=genre,
        watched=watched,
        external_id=external_id,
    )
    where, args, _ = filters
    db = store.connection
    if query is None:
        # With a type filter, walk the (library, type) index and sort what it finds:
        # the planner would rather scan everything newest first for the ORDER BY.
        source = "items i"
        if types:
            source = "items i INDEXED BY items_library_type"
            if not library_keys:
                where = f"i.library_key IN (SELECT key FROM libraries) AND {where}"  # noqa: S608 - constants
        listed = [
            item_id
            for (item_id,) in db.execute(
                f"SELECT i.id FROM {source} WHERE {where} "  # noqa: S608 - built from constants
                "ORDER BY i.added_at DESC, i.id DESC LIMIT ?",
                (*args, limit),
            )
        ]
        by_id = store.items_by_id(listed)
        return [
            SearchHit(by_id[item_id], 0.0, MATCH_NAMES[FILTER]) for item_id in listed
        ]

    parsed = _parse(store, query)
    if parsed is None:
        return []
    ids: dict[int, None] = {}
    if not any(parsed.corrected):
        # Titles that are or start with the query, behind their article or not,
        # from the titles' index, which covers the filters. The unary + keeps the
        # planner from walking a whole library by its (library, type) index.
        start = text.bare(parsed.normal).replace(" ", "")
        covered = where.replace(_LIBRARY_CLAUSE, f"+{_LIBRARY_CLAUSE}")
        ids.update(
            dict.fromkeys(
                item_id
                for (item_id,) in db.execute(
                    "SELECT i.id FROM items i WHERE i.bare_compact >= ? "  # noqa: S608
                    f"AND i.bare_compact < ? AND {covered} LIMIT ?",
                    (start, start + _TOP, *args, _PREFIX_CANDIDATES),
                )
            )
        )
    now = time.time()
    scored: list[tuple[float, int, int]] = []
    done: set[int] = set()

    def take(found: Iterable[_Candidate], *, text_tier: bool = False) -> None:
        """Classify the candidates not yet ranked; keep those that match."""
        for candidate in found:
            if candidate.item_id in done:
                continue
            if text_tier:
                tier, coverage = _classify_text(candidate, parsed), 0.0
            else:
                tier, coverage = _classify_title(candidate, parsed)
            if tier >= 0 or text_tier:
                done.add(candidate.item_id)
            if tier >= 0:
                scored.append(_scored(candidate, tier, coverage, now))

    take(_candidates(store, list(ids)))
    if _fts_positions(parsed):
        # Own titles next (unless the B-tree already gave ``limit`` hits better than
        # a word match); then with their context and original titles; then people
        # and summaries, each only while fewer than ``limit`` hits were found.
        terms = _terms(store, parsed)
        titles = _Matches(store, "search_titles", terms, filters)
        if sum(1 for entry in scored if entry[2] > WORD) < limit:
            take(titles.candidates(_OWN_TITLES))
        if len(scored) < limit:
            take(titles.candidates(_TITLES))
        if len(scored) < limit:
            texts = _Matches(store, "search_text", terms, filters)
            take(texts.candidates(_TEXT), text_tier=True)
    scored.sort(key=lambda entry: (-entry[0], entry[1]))
    best = scored[:limit]
    by_id = store.items_by_id([item_id for _, item_id, _ in best])
    return [
        SearchHit(by_id[item_id], score, MATCH_NAMES[tier])
        for score, item_id, tier in best
        if item_id in by_id
    ]


def _scored(
    candidate: _Candidate, tier: int, coverage: float, now: float
) -> tuple[float, int, int]:
    """``(score, item id, tier)`` of a classified candidate."""
    score = round(10.0 * tier + _tie_break(candidate, coverage, now), 4)
    return score, candidate.item_id, tier


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where an FTS pass looks: its table, column filter and the SQL of its text."""

    table: str
    column: str | None
    text: str
    """The text the checks of ``_Terms`` test: the columns padded and joined by spaces."""
    with_text: bool


_OWN_TITLES: Final = _Scope(
    "search_titles", "title", "' ' || ifnull(t.c0, '') || ' '", with_text=False
)
_TITLES: Final = _Scope(
    "search_titles",
    None,
    "' ' || ifnull(t.c0, '') || ' ' || ifnull(t.c1, '') || ' ' "
    "|| ifnull(t.c2, '') || ' '",
    with_text=False,
)
_TEXT: Final = _Scope(
    "search_text",
    None,
    "' ' || ifnull(x.c0, '') || ' ' || ifnull(x.c1, '') || ' '",
    with_text=True,
)
_ROW_COLUMNS: Final = (
    "i.id, i.type, i.title, i.original_title, i.parent_title, i.grandparent_title, "
    "i.view_count, i.rating, i.added_at, t.c0, t.c1, t.c2"
)


class _Matches:
    """The candidates of the FTS passes over one table, from as few walks as possible.

    Newest rows first, and no BM25: ordering thousands of matches of a common word by
    BM25 takes tens of milliseconds, and the tiers rank the candidates anyway. When
    more rows match than are taken, exact and prefix titles still come from the
    B-tree lookup; the word matches are then the newest ones.

    Each pass gives the rows FTS5 would give for its full expression (the newest
    ``_FTS_CANDIDATES`` matches that pass the filters), but walks less:

    - the common words are checked in the text, not walked (``_Terms``);
    - one walk of the table (``matched``: the newest matches of ``kept`` in any
      column, filters applied, that the filters make the costly part) serves both
      title passes: when it found every match, the own-title pass is those whose title
      has every word (checked in SQL), with no walk of its own;
    - over the titles, when few matches are expected (``_Terms.estimate``, as for
      most queries of several words), a first walk stops at ``_READ_ALL`` + 1: when
      there are no more, their text is read once and both title passes are checked
      in Python (``_read_few``), with no other walk.
    """

    def __init__(
        self,
        store: MirrorStore,
        table: str,
        terms: _Terms,
        filters: tuple[str, list[Any], str],
    ) -> None:
        self._store = store
        self._db = store.connection
        self._table = table
        self._terms = terms
        self._where, self._args, self._joined = filters
        self._matched: list[int] | None = None
        self._cap = _CHECK_CAP if terms.checks else _FTS_CANDIDATES
        self._few: list[tuple[int, str, str]] | None = None
        # Worth a walk of its own only when few matches are expected.
        self._few_read = table != "search_titles" or terms.estimate > _READ_ALL

    def _walk(self, expression: str, limit: int) -> list[int]:
        """The newest row ids matching ``expression`` and the filters."""
        table, where = self._table, self._where
        if where == "1":
            sql = (
                f"SELECT rowid FROM {table} WHERE {table} MATCH ? "  # noqa: S608 - constants
                "ORDER BY rowid DESC LIMIT ?"
            )
        else:
            sql = (
                f"SELECT s.rowid FROM {table} s JOIN {self._joined} ON i.id = s.rowid "  # noqa: S608
                f"WHERE {table} MATCH ? AND {where} ORDER BY s.rowid DESC LIMIT ?"
            )
        return [
            row_id
            for (row_id,) in self._db.execute(sql, (expression, *self._args, limit))
        ]

    def matched(self) -> tuple[list[int], bool]:
        """The newest matches of the kept words, and whether they are all of them."""
        if self._matched is None:
            self._matched = self._walk(self._terms.kept, self._cap)
        return self._matched, len(self._matched) < self._cap

    def _read_few(self) -> list[tuple[int, str, str]] | None:
        """Every match of the kept words with its padded title and all its title text.

        ``None`` when there are more than ``_READ_ALL`` (or this is not the titles).
        """
        if not self._few_read:
            self._few_read = True
            ids = self._walk(self._terms.kept, _READ_ALL + 1)
            if len(ids) <= _READ_ALL:
                texts = {
                    row_id: (title or "", context or "", original or "")
                    for row_id, title, context, original in self._db.execute(
                        "SELECT j.value, t.c0, t.c1, t.c2 FROM json_each(?) j "  # noqa: S608 - constants
                        f"CROSS JOIN {TITLE_TEXT} t ON t.id = j.value",
                        (json.dumps(ids),),
                    )
                }
                self._few = [
                    (row_id, f" {title} ", f" {title} {context} {original} ")
                    for row_id in ids
                    if row_id in texts
                    for title, context, original in (texts[row_id],)
                ]
        return self._few

    def candidates(self, scope: _Scope) -> list[_Candidate]:
        """The pass of ``scope`` (its table is this one's)."""
        terms = self._terms
        few = self._read_few()
        if few is not None:
            if scope.column is not None:
                ids = [
                    row_id
                    for row_id, title, _ in few
                    if all(
                        any(pattern in title for pattern in patterns)
                        for patterns in terms.every
                    )
                ]
            else:
                ids = [
                    row_id
                    for row_id, _, every in few
                    if all(check in every for check in terms.checks)
                ]
            return _candidates(self._store, ids[:_FTS_CANDIDATES])
        if scope.column is not None:
            # With filters, a walk costs an item lookup per match: walk once for both
            # passes. Without, the own-title walk is cheaper than a full one.
            if self._where != "1" or self._matched is not None:
                matched, complete = self.matched()
                if complete:
                    # Every match is in ``matched``: those with every word in the title.
                    return self._checked(matched, scope, terms.every)
            own = f"{{{scope.column}}} : "
            if terms.checks:
                ids = self._walk(own + f"({terms.kept})", _CHECK_CAP)
                rows = self._checked(
                    ids, scope, tuple((check,) for check in terms.checks)
                )
                if len(rows) >= _FTS_CANDIDATES or len(ids) < _CHECK_CAP:
                    return rows
            ids = self._walk(own + f"({terms.full})", _FTS_CANDIDATES)
            return self._checked(ids, scope, ())
        matched, complete = self.matched()
        if not terms.checks:
            return self._checked(matched, scope, ())
        rows = self._checked(matched, scope, tuple((check,) for check in terms.checks))
        if len(rows) >= _FTS_CANDIDATES or complete:
            return rows
        return self._checked(self._walk(terms.full, _FTS_CANDIDATES), scope, ())

    def _checked(
        self, ids: list[int], scope: _Scope, checks: tuple[tuple[str, ...], ...]
    ) -> list[_Candidate]:
        """The first ``_FTS_CANDIDATES`` of ``ids`` whose text passes every check.

        A check passes if one of its patterns is in the scope's text. The text is read
        first (CROSS JOIN keeps that order), the item only for rows that pass; a
        chunk at a time, since the matches are usually found early.
        """
        if not ids:
            return []
        columns = _ROW_COLUMNS + (", x.c0, x.c1" if scope.with_text else ", NULL, NULL")
        other = (
            f"CROSS JOIN {OTHER_TEXT} x ON x.id = j.value "
            f"LEFT JOIN {TITLE_TEXT} t ON t.id = j.value "
            if scope.with_text
            else f"CROSS JOIN {TITLE_TEXT} t ON t.id = j.value "
        )
        condition = " AND ".join(
            "(" + " OR ".join(f"instr({scope.text}, ?) > 0" for _ in patterns) + ")"
            for patterns in checks
        )
        sql = (
            f"SELECT {columns} FROM json_each(?) j {other}"  # noqa: S608 - constants
            f"CROSS JOIN items i ON i.id = j.value WHERE {condition or '1'}"
        )
        patterns = [pattern for check in checks for pattern in check]
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), _CHECK_CHUNK):
            chunk = self._db.execute(
                sql, (json.dumps(ids[start : start + _CHECK_CHUNK]), *patterns)
            ).fetchall()
            chunk.sort(key=lambda row: -row[0])  # newest first, as ``ids``
            found += chunk
            if len(found) >= _FTS_CANDIDATES:
                break
        return [_candidate(row) for row in found[:_FTS_CANDIDATES]]


def _candidate(row: tuple[Any, ...]) -> _Candidate:
    """A candidate of a row of ``_ROW_COLUMNS`` and the people and summary."""
    return _Candidate(
        item_id=row[0],
        type=row[1],
        title=row[2],
        original_title=row[3],
        parent_title=row[4],
        grandparent_title=row[5],
        view_count=row[6],
        rating=row[7],
        added_at=row[8],
        title_words=_words(row[9]),
        context_words=_words(row[10]),
        original_words=_words(row[11]),
        people_words=_words(row[12]),
        summary_words=_words(row[13]),
    )


def _candidates(store: MirrorStore, ids: list[int]) -> list[_Candidate]:
    """The candidates of ``ids`` in that order, with their title words."""
    if not ids:
        return []
    rows = {
        row[0]: row
        for row in store.connection.execute(_CANDIDATE_SELECT, (json.dumps(ids),))
    }
    return [_candidate(rows[item_id]) for item_id in ids if item_id in rows]
